"""Reading the index: small functions that return frozen values, for `pvd trace`, the
explorer and the reconciler. None of them writes; none talks to a chain.

- `trades_page`: trades newest first, filtered by status and party, searched by id prefix
  or address, paged by a cursor (no OFFSET scan on deep pages);
- `trade`, `trade_events`: one trade's row and every event of it on both chains (its own,
  its hold's and its messages'), in time order;
- `messages_by_status`: cross-chain messages pending / delivered / failed, oldest first;
- `money`: the token's figures as the index sees them (supply, held, holds by status);
- `chain_checkpoints`: how far each chain is indexed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    RowMapping,
    and_,
    func,
    literal,
    or_,
    select,
    tuple_,
    union,
)

from pvd.errors import UserError
from pvd.index.schema import ID, accounts, chains, events, holds, messages, trades
from pvd.index.store import message_keys_of_trade

TRADE_STATUSES = (
    "proposed",
    "accepted",
    "funded",
    "shipped",
    "delivered",
    "cancelled",
    "expired",
    "disputed",
)
MESSAGE_STATUSES = ("pending", "delivered", "failed")
MAX_PAGE = 500
TOTAL_CAP = 10_000  # a trades page counts its matches up to this many


@dataclass(frozen=True)
class TradeRow:
    trade_id: str
    buyer: str
    seller: str
    price: int  # fen
    deadline: int
    hold_expiry: int
    status: str
    settlement: str  # none / paid / refunded
    hold_id: str | None
    proposed_block: int
    proposed_at: int
    updated_at: int


@dataclass(frozen=True)
class TradePage:
    rows: tuple[TradeRow, ...]
    total: int  # rows matching the filters, at most TOTAL_CAP
    next_cursor: str | None  # pass as `cursor` for the next page; None on the last
    total_capped: bool = False  # more than TOTAL_CAP rows match


@dataclass(frozen=True)
class EventRow:
    chain: str
    block: int
    log_index: int
    block_time: int
    tx_hash: str
    contract: str
    name: str
    trade_id: str | None
    hold_id: str | None
    message_id: str | None
    args: Mapping[str, Any]


@dataclass(frozen=True)
class HoldRow:
    hold_id: str
    ref: str
    payer: str
    payee: str
    notary: str
    amount: int
    expiry: int
    status: str
    placed_block: int
    ended_block: int | None


@dataclass(frozen=True)
class MessageRow:
    message_id: str
    source: str
    destination_domain: int
    kind: str
    detail: str
    trade_id: str | None
    hold_id: str | None
    sent_block: int
    sent_at: int
    sent_tx: str
    status: str
    attempts: int
    failure: str | None
    delivered_block: int | None
    delivered_at: int | None
    delivered_tx: str | None
    deliverer: str | None


@dataclass(frozen=True)
class MoneyFigures:
    supply: int  # sum of balances (fen)
    held: int  # sum of held balances
    accounts: int  # accounts with a non-zero balance
    holds: Mapping[str, int]  # status -> count
    held_amount_open: int  # amount of holds still held
    paid: int  # amount of executed holds
    refunded: int  # amount of released holds
    trades: Mapping[str, int]  # status -> count
    messages: Mapping[str, int]  # status -> count


@dataclass(frozen=True)
class ChainCheckpoint:
    name: str
    chain_id: int
    domain_id: int
    genesis_hash: str
    start_block: int
    indexed_block: int
    contracts: Mapping[str, str]


# --------------------------------------------------------------------------- trades


def _trade(row: RowMapping) -> TradeRow:
    return TradeRow(**{k: row[k] for k in TradeRow.__dataclass_fields__})


def trades_page(
    engine: Engine,
    *,
    status: str | None = None,
    party: str | None = None,
    search: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> TradePage:
    """Trades newest first (by proposal time, then id). `status` one of TRADE_STATUSES;
    `party` an address (buyer or seller); `search` a trade id prefix (0x...) or a full
    address; `cursor` the `next_cursor` of the page before.

    Each page is a keyset range scan of one index in the page's order ((filter,)
    proposed_at, trade_id; schema revision 0004): no OFFSET, no sort of the matches, and
    a party's trades are two such scans (as buyer, as seller) merged. `total` counts the
    matches up to TOTAL_CAP (`total_capped` when there are more), so no page counts a
    whole table."""
    if not 1 <= limit <= MAX_PAGE:
        raise UserError(f"page size {limit} is out of range: use 1..{MAX_PAGE}")
    conditions: list[Any] = []
    parties: list[str] = []
    if status is not None:
        if status not in TRADE_STATUSES:
            raise UserError(
                f"unknown trade status {status!r}: use one of {', '.join(TRADE_STATUSES)}"
            )
        conditions.append(trades.c.status == status)
    if party is not None:
        parties.append(_address(party))
    if search:
        found = _search(search)
        if isinstance(found, str):
            parties.append(found)
        else:
            conditions.append(found)
    if len(set(parties)) > 1:  # a trade of two given parties: both sides must match
        a, b = sorted(set(parties))
        conditions.append(
            or_(
                and_(trades.c.buyer == a, trades.c.seller == b),
                and_(trades.c.buyer == b, trades.c.seller == a),
            )
        )
        parties = []
    position = []
    if cursor:
        at, trade_id = _cursor(cursor)
        key = tuple_(trades.c.proposed_at, trades.c.trade_id)
        position.append(key < tuple_(literal(at, BigInteger), literal(trade_id, ID)))
    # one ordered scan per side: as buyer, as seller (or one scan without a party)
    sides = (
        [[*conditions, trades.c.buyer == parties[0]], [*conditions, trades.c.seller == parties[0]]]
        if parties
        else [conditions]
    )
    newest_first = (trades.c.proposed_at.desc(), trades.c.trade_id.desc())
    with engine.connect() as connection:
        found_rows: dict[str, TradeRow] = {}
        for where in sides:
            query = select(trades).where(*where, *position).order_by(*newest_first)
            for r in connection.execute(query.limit(limit + 1)).mappings():
                found_rows[r["trade_id"]] = _trade(r)
        capped = [
            select(trades.c.trade_id).where(*where).limit(TOTAL_CAP + 1).subquery()
            for where in sides
        ]
        matches = (
            union(*(select(c.c.trade_id) for c in capped)).subquery()
            if len(capped) > 1
            else capped[0]
        )
        total = int(connection.execute(select(func.count()).select_from(matches)).scalar_one())
    rows = sorted(found_rows.values(), key=lambda r: (r.proposed_at, r.trade_id), reverse=True)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = f"{rows[-1].proposed_at}:{rows[-1].trade_id}" if more and rows else None
    return TradePage(
        rows=tuple(rows),
        total=min(total, TOTAL_CAP),
        next_cursor=next_cursor,
        total_capped=total > TOTAL_CAP,
    )


def _search(text: str) -> Any:
    """An address (str) or the condition of a trade id prefix: an index range
    (prefix <= id < the next prefix), not a LIKE."""
    text = text.strip()
    if not text.startswith("0x") or not all(c in "0123456789abcdefABCDEF" for c in text[2:]):
        raise UserError(f"search {text!r}: give a trade id (or its 0x prefix) or an address")
    if len(text) == 42:
        return _address(text)
    prefix = text.lower()
    if len(prefix) > 66:
        raise UserError(f"search {text!r}: a trade id is 0x and 64 hex digits")
    if prefix == "0x":
        return trades.c.trade_id >= prefix
    digits = prefix[2:].rstrip("f")
    if not digits:  # 0xff...: every id from it to the end
        return trades.c.trade_id >= prefix
    upper = "0x" + digits[:-1] + "0123456789abcdef"["0123456789abcdef".index(digits[-1]) + 1]
    return and_(trades.c.trade_id >= prefix, trades.c.trade_id < upper)


def _address(text: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(text):
        raise UserError(f"{text!r} is not an address: give 0x and 40 hex digits")
    return str(to_checksum_address(text))


def _cursor(cursor: str) -> tuple[int, str]:
    try:
        at, trade_id = cursor.split(":", 1)
        return int(at), trade_id
    except ValueError:
        raise UserError(f"bad page cursor {cursor!r}: pass a next_cursor as returned") from None


def normal_id(text: str) -> str:
    """A 32-byte id as the index keeps it (0x + 64 lower-case hex); UserError otherwise."""
    value = text.strip().lower()
    if not value.startswith("0x"):
        value = "0x" + value
    if len(value) != 66 or any(c not in "0123456789abcdef" for c in value[2:]):
        raise UserError(f"{text!r} is not a trade id: give 0x and 64 hex digits")
    return value


def trade(engine: Engine, trade_id: str) -> TradeRow | None:
    with engine.connect() as connection:
        row = (
            connection.execute(select(trades).where(trades.c.trade_id == normal_id(trade_id)))
            .mappings()
            .first()
        )
    return _trade(row) if row else None


def _event(row: RowMapping) -> EventRow:
    return EventRow(
        chain=row["chain"],
        block=int(row["block"]),
        log_index=int(row["log_index"]),
        block_time=int(row["block_time"]),
        tx_hash=row["tx_hash"],
        contract=row["contract"],
        name=row["name"],
        trade_id=row["trade_id"],
        hold_id=row["hold_id"],
        message_id=row["message_id"],
        args=json.loads(row["args"]),
    )


def trade_events(engine: Engine, trade_id: str) -> tuple[EventRow, ...]:
    """Every event of the trade on both chains: those naming the trade, its hold(s), and
    its messages (the inboxes' events name only the message id), by block time then chain
    order."""
    trade_id = normal_id(trade_id)
    with engine.connect() as connection:
        hold_ids, message_ids = message_keys_of_trade(connection, trade_id)
        query = (
            select(events)
            .where(
                or_(
                    events.c.trade_id == trade_id,
                    events.c.hold_id.in_(hold_ids),
                    events.c.message_id.in_(message_ids),
                )
            )
            .order_by(
                events.c.block_time, events.c.chain.desc(), events.c.block, events.c.log_index
            )
        )
        return tuple(_event(r) for r in connection.execute(query).mappings())


def _hold(row: RowMapping) -> HoldRow:
    return HoldRow(**{k: row[k] for k in HoldRow.__dataclass_fields__})


def holds_of_trade(engine: Engine, trade_id: str) -> tuple[HoldRow, ...]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(holds).where(holds.c.ref == normal_id(trade_id)).order_by(holds.c.placed_block)
        ).mappings()
        return tuple(_hold(r) for r in rows)


# ------------------------------------------------------------------------- messages


def _message(row: RowMapping) -> MessageRow:
    return MessageRow(**{k: row[k] for k in MessageRow.__dataclass_fields__})


def messages_by_status(
    engine: Engine, status: str, *, limit: int = 50, offset: int = 0
) -> tuple[MessageRow, ...]:
    """Messages with `status` (pending, delivered, failed), oldest sent first."""
    if status not in MESSAGE_STATUSES:
        raise UserError(
            f"unknown message status {status!r}: use one of {', '.join(MESSAGE_STATUSES)}"
        )
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise UserError(
            f"page size {limit} / offset {offset} out of range: use 1..{MAX_PAGE} and >= 0"
        )
    query = (
        select(messages)
        .where(messages.c.status == status)
        .order_by(messages.c.sent_at, messages.c.message_id)
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as connection:
        return tuple(_message(r) for r in connection.execute(query).mappings())


def messages_of_trade(engine: Engine, trade_id: str) -> tuple[MessageRow, ...]:
    query = (
        select(messages)
        .where(messages.c.trade_id == normal_id(trade_id))
        .order_by(messages.c.sent_at, messages.c.sent_block)
    )
    with engine.connect() as connection:
        return tuple(_message(r) for r in connection.execute(query).mappings())


# ---------------------------------------------------------------------------- money


def money(engine: Engine) -> MoneyFigures:
    """The token's figures from the index's projections."""
    with engine.connect() as connection:
        supply, held, count = connection.execute(
            select(
                func.coalesce(func.sum(accounts.c.balance), 0),
                func.coalesce(func.sum(accounts.c.held), 0),
                func.count().filter(accounts.c.balance != 0),
            )
        ).one()
        by_status = {
            s: (int(n), int(a or 0))
            for s, n, a in connection.execute(
                select(holds.c.status, func.count(), func.sum(holds.c.amount)).group_by(
                    holds.c.status
                )
            )
        }
        trade_counts = _counts(connection, trades.c.status)
        message_counts = _counts(connection, messages.c.status)
    return MoneyFigures(
        supply=int(supply),
        held=int(held),
        accounts=int(count),
        holds={s: n for s, (n, _) in by_status.items()},
        held_amount_open=by_status.get("held", (0, 0))[1],
        paid=by_status.get("executed", (0, 0))[1],
        refunded=by_status.get("released", (0, 0))[1],
        trades=trade_counts,
        messages=message_counts,
    )


def _counts(connection: Any, column: Any) -> dict[str, int]:
    return {
        str(s): int(n) for s, n in connection.execute(select(column, func.count()).group_by(column))
    }


def chain_checkpoints(engine: Engine) -> tuple[ChainCheckpoint, ...]:
    with engine.connect() as connection:
        rows = connection.execute(select(chains).order_by(chains.c.name.desc())).mappings()
        return tuple(
            ChainCheckpoint(
                name=r["name"],
                chain_id=int(r["chain_id"]),
                domain_id=int(r["domain_id"]),
                genesis_hash=r["genesis_hash"],
                start_block=int(r["start_block"]),
                indexed_block=int(r["indexed_block"]),
                contracts=json.loads(r["contracts"]),
            )
            for r in rows
        )


def block_time(engine: Engine, chain: str, number: int) -> int | None:
    from pvd.index.schema import blocks

    with engine.connect() as connection:
        value = connection.execute(
            select(blocks.c.timestamp).where(
                and_(blocks.c.chain == chain, blocks.c.number == number)
            )
        ).scalar()
    return None if value is None else int(value)


__all__: Sequence[str] = (
    "ChainCheckpoint",
    "EventRow",
    "HoldRow",
    "MessageRow",
    "MoneyFigures",
    "TradePage",
    "TradeRow",
    "block_time",
    "chain_checkpoints",
    "holds_of_trade",
    "messages_by_status",
    "messages_of_trade",
    "money",
    "normal_id",
    "trade",
    "trade_events",
    "trades_page",
)
