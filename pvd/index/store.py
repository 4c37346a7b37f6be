"""Writing the index: one batch of blocks and events per transaction, and the rollback of
a reorg, both keeping the projections (trades, holds, messages, accounts) equal to what
`events` says.

- `write_batch` inserts a range of blocks (number, hash, time) and their events, applies
  the events' balance deltas, rebuilds the projection rows of every trade, hold and message
  the batch touched, and moves the chain's checkpoint, all in the caller's transaction: a
  batch is committed whole or not at all.
- `rollback_to` undoes everything above a common ancestor: the inverse balance deltas of
  the dropped events, their rows, the blocks, the projections they touched, the checkpoint.

The projections are pure functions of a key's events (`trade_row`, `hold_row`,
`message_row`), so a rebuilt row is the same whichever order the events came in.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, delete, or_, select, update

from pvd.index.records import ChainEvent
from pvd.index.schema import accounts, blocks, chains, events, holds, messages, trades

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
_CHUNK = 500

TRADE_STATUS_EVENTS = {
    "TradeProposed": "proposed",
    "TradeAccepted": "accepted",
    "TradeFunded": "funded",
    "TradeShipped": "shipped",
    "TradeDelivered": "delivered",
    "TradeCancelled": "cancelled",
    "TradeExpired": "expired",
    "TradeDisputed": "disputed",
}
SETTLEMENT_RESULTS = {0: "none", 1: "paid", 2: "refunded"}


@dataclass(frozen=True)
class BlockRecord:
    number: int
    hash: str
    timestamp: int


@dataclass(frozen=True)
class Touched:
    """The projection keys a set of events concerns."""

    trades: frozenset[str]
    holds: frozenset[str]
    messages: frozenset[str]

    @classmethod
    def of(cls, rows: Iterable[ChainEvent]) -> Touched:
        t, h, m = set(), set(), set()
        for e in rows:
            if e.trade_id:
                t.add(e.trade_id)
            if e.hold_id:
                h.add(e.hold_id)
            if e.message_id:
                m.add(e.message_id)
        return cls(frozenset(t), frozenset(h), frozenset(m))


# ------------------------------------------------------------------------ the events


def event_row(e: ChainEvent, block_time: int) -> dict[str, Any]:
    return {
        "chain": e.chain,
        "block": e.block,
        "log_index": e.log_index,
        "tx_hash": e.tx_hash,
        "block_time": block_time,
        "contract": e.contract,
        "name": e.name,
        "trade_id": e.trade_id,
        "hold_id": e.hold_id,
        "message_id": e.message_id,
        "args": e.args_json(),
    }


def stored_event(row: RowMapping) -> tuple[ChainEvent, int]:
    """An `events` row back as (ChainEvent, block time)."""
    return (
        ChainEvent(
            chain=row["chain"],
            block=int(row["block"]),
            log_index=int(row["log_index"]),
            tx_hash=row["tx_hash"],
            block_hash="",
            contract=row["contract"],
            name=row["name"],
            args=json.loads(row["args"]),
            trade_id=row["trade_id"],
            hold_id=row["hold_id"],
            message_id=row["message_id"],
        ),
        int(row["block_time"]),
    )


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def events_of(
    connection: Connection, column: str, keys: Iterable[str]
) -> dict[str, list[tuple[ChainEvent, int]]]:
    """Every stored event whose `column` (trade_id, hold_id, message_id) is one of `keys`,
    grouped by key, in chain order."""
    found: dict[str, list[tuple[ChainEvent, int]]] = defaultdict(list)
    col = events.c[column]
    for chunk in _chunks(sorted(keys)):
        query = (
            select(events)
            .where(col.in_(chunk))
            .order_by(events.c.block_time, events.c.chain, events.c.block, events.c.log_index)
        )
        for row in connection.execute(query).mappings():
            found[row[column]].append(stored_event(row))
    return found


# ---------------------------------------------------------------------- projections


def trade_row(trade_id: str, history: Sequence[tuple[ChainEvent, int]]) -> dict[str, Any] | None:
    """The trades row of one trade from its events (None before its TradeProposed)."""
    proposed = next(
        ((e, t) for e, t in history if e.contract == "TradeRegistry" and e.name == "TradeProposed"),
        None,
    )
    if proposed is None:
        return None
    event, at = proposed
    row: dict[str, Any] = {
        "trade_id": trade_id,
        "buyer": event.args["buyer"],
        "seller": event.args["seller"],
        "price": int(event.args["price"]),
        "deadline": int(event.args["deadline"]),
        "hold_expiry": int(event.args["holdExpiry"]),
        "status": "proposed",
        "settlement": "none",
        "hold_id": None,
        "proposed_block": event.block,
        "proposed_at": at,
        "updated_at": at,
    }
    for e, t in history:
        row["updated_at"] = max(row["updated_at"], t)
        if e.contract != "TradeRegistry":
            continue
        if e.name in TRADE_STATUS_EVENTS:
            row["status"] = TRADE_STATUS_EVENTS[e.name]
        if e.name == "TradeFunded":
            row["hold_id"] = e.hold_id
        elif e.name == "TradeSettled":
            row["settlement"] = SETTLEMENT_RESULTS.get(int(e.args["result"]), "unknown")
    return row


def hold_row(hold_id: str, history: Sequence[tuple[ChainEvent, int]]) -> dict[str, Any] | None:
    """The holds row of one hold from the token's events (None without a HoldPlaced)."""
    token = [e for e, _ in history if e.contract == "YuanToken"]
    placed = next((e for e in token if e.name == "HoldPlaced"), None)
    if placed is None:
        return None
    row: dict[str, Any] = {
        "hold_id": hold_id,
        "ref": placed.args["ref"],
        "payer": placed.args["payer"],
        "payee": placed.args["payee"],
        "notary": placed.args["notary"],
        "amount": int(placed.args["amount"]),
        "expiry": int(placed.args["expiry"]),
        "status": "held",
        "placed_block": placed.block,
        "ended_block": None,
    }
    for e in token:
        if e.name in ("HoldExecuted", "HoldReleased"):
            row["status"] = "executed" if e.name == "HoldExecuted" else "released"
            row["ended_block"] = e.block
    return row


def message_row(
    message_id: str, history: Sequence[tuple[ChainEvent, int]]
) -> dict[str, Any] | None:
    """The messages row of one message: the outbox's MessageSent, then what the other
    chain's inbox did with it (None before it was sent)."""
    sent = next(
        ((e, t) for e, t in history if e.contract == "Outbox" and e.name == "MessageSent"), None
    )
    if sent is None:
        return None
    event, at = sent
    args = event.args
    row: dict[str, Any] = {
        "message_id": message_id,
        "source": event.chain,
        "destination_domain": int(args["destinationDomain"]),
        "kind": str(args.get("kind", "undecodable")),
        "detail": str(args.get("detail", "")),
        "trade_id": args.get("tradeId"),
        "hold_id": args.get("holdId"),
        "sent_block": event.block,
        "sent_at": at,
        "sent_tx": event.tx_hash,
        "status": "pending",
        "attempts": 0,
        "failure": None,
        "delivered_block": None,
        "delivered_at": None,
        "delivered_tx": None,
        "deliverer": None,
    }
    for e, t in history:
        if e.contract != "Inbox" or e.chain == event.chain:
            continue
        if e.name == "MessageFailed":
            row["attempts"] += 1
            row["failure"] = e.args.get("reasonText") or e.args["reason"]
            if row["status"] != "delivered":
                row["status"] = "failed"
                row.update(delivered_block=e.block, delivered_at=t, delivered_tx=e.tx_hash)
                row["deliverer"] = e.args["deliverer"]
        elif e.name in ("MessageDelivered", "MessageRetried"):
            row["status"] = "delivered"
            row.update(delivered_block=e.block, delivered_at=t, delivered_tx=e.tx_hash)
            row["deliverer"] = e.args.get("deliverer") or e.args.get("retrier")
    return row


def account_deltas(e: ChainEvent) -> list[tuple[str, int, int]]:
    """(address, balance delta, held delta) of one token event."""
    if e.contract != "YuanToken":
        return []
    a = e.args
    if e.name == "Transfer":
        value = int(a["value"])
        return [(a["from"], -value, 0), (a["to"], value, 0)]
    if e.name == "HoldPlaced":
        return [(a["payer"], 0, int(a["amount"]))]
    if e.name in ("HoldExecuted", "HoldReleased"):
        return [(a["payer"], 0, -int(a["amount"]))]
    return []


# -------------------------------------------------------------------------- writing


def write_batch(
    connection: Connection,
    chain: str,
    block_records: Sequence[BlockRecord],
    batch: Sequence[ChainEvent],
    indexed_block: int,
) -> Touched:
    """Store one batch (in the caller's transaction) and move the checkpoint."""
    times = {b.number: b.timestamp for b in block_records}
    if block_records:
        connection.execute(
            blocks.insert(),
            [
                {"chain": chain, "number": b.number, "hash": b.hash, "timestamp": b.timestamp}
                for b in block_records
            ],
        )
    if batch:
        connection.execute(events.insert(), [event_row(e, times[e.block]) for e in batch])
    _apply_deltas(connection, batch, sign=1)
    touched = Touched.of(batch)
    rebuild(connection, touched)
    connection.execute(
        update(chains).where(chains.c.name == chain).values(indexed_block=indexed_block)
    )
    return touched


def rollback_to(connection: Connection, chain: str, ancestor: int) -> Touched:
    """Drop everything of `chain` above block `ancestor` (in the caller's transaction)."""
    dropped = [
        stored_event(row)[0]
        for row in connection.execute(
            select(events).where(and_(events.c.chain == chain, events.c.block > ancestor))
        ).mappings()
    ]
    _apply_deltas(connection, dropped, sign=-1)
    connection.execute(
        delete(events).where(and_(events.c.chain == chain, events.c.block > ancestor))
    )
    connection.execute(
        delete(blocks).where(and_(blocks.c.chain == chain, blocks.c.number > ancestor))
    )
    touched = Touched.of(dropped)
    rebuild(connection, touched)
    connection.execute(update(chains).where(chains.c.name == chain).values(indexed_block=ancestor))
    return touched


def rebuild(connection: Connection, touched: Touched) -> None:
    """Recompute the projection rows of the touched keys from `events`."""
    for table, key, column, build in (
        (trades, "trade_id", "trade_id", trade_row),
        (holds, "hold_id", "hold_id", hold_row),
        (messages, "message_id", "message_id", message_row),
    ):
        keys = sorted(getattr(touched, table.name))
        if not keys:
            continue
        histories = events_of(connection, column, keys)
        for chunk in _chunks(keys):
            connection.execute(delete(table).where(table.c[key].in_(chunk)))
        rows = [r for k in keys if (r := build(k, histories.get(k, []))) is not None]
        if rows:
            connection.execute(table.insert(), rows)


def _apply_deltas(connection: Connection, batch: Iterable[ChainEvent], sign: int) -> None:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in batch:
        for address, balance, held in account_deltas(e):
            if address == ZERO_ADDRESS:
                continue
            totals[address][0] += sign * balance
            totals[address][1] += sign * held
    if not totals:
        return
    existing: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(sorted(totals)):
        query = select(accounts).where(accounts.c.address.in_(chunk))
        for row in connection.execute(query).mappings():
            existing[row["address"]] = (int(row["balance"]), int(row["held"]))
    inserts, updates = [], []
    for address, (balance, held) in totals.items():
        if address in existing:
            old_balance, old_held = existing[address]
            updates.append(
                {"key": address, "new_balance": old_balance + balance, "new_held": old_held + held}
            )
        else:
            inserts.append({"address": address, "balance": balance, "held": held})
    if updates:  # one executemany, not a statement per account
        connection.execute(
            update(accounts)
            .where(accounts.c.address == bindparam("key"))
            .values(balance=bindparam("new_balance"), held=bindparam("new_held")),
            updates,
        )
    if inserts:
        connection.execute(accounts.insert(), inserts)


def message_keys_of_trade(connection: Connection, trade_id: str) -> tuple[list[str], list[str]]:
    """(hold ids, message ids) that belong to a trade, from its own events and messages."""
    hold_ids = {
        r[0]
        for r in connection.execute(
            select(events.c.hold_id).where(
                and_(events.c.trade_id == trade_id, events.c.hold_id.is_not(None))
            )
        )
    }
    message_ids = {
        r[0]
        for r in connection.execute(
            select(events.c.message_id).where(
                and_(
                    or_(events.c.trade_id == trade_id, events.c.hold_id.in_(sorted(hold_ids))),
                    events.c.message_id.is_not(None),
                )
            )
        )
    }
    return sorted(hold_ids), sorted(message_ids)
