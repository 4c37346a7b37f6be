"""The explorer's data from the chain index (pvd/index): `IndexData` implements
`ExplorerData`.

`refresh()` runs one incremental step of the index's ingest per chain (only the blocks
since its checkpoint; a reorg is rolled back by the index) when the explorer owns the
indexer, and otherwise just reads how far another `pvd index` has got. A chain that
cannot be read is reported with why, and read again next time. The few figures the index
does not keep (supply by issuing bank, wallet classes and tier caps, cap exemptions) are
folded from the token's events as they arrive, from where the last refresh stopped.
Everything else is a query on the index's tables.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, distinct, select

from pvd.deploy.reverts import RevertDecoder, project_decoder
from pvd.explorer.view import (
    BankSupply,
    Chain,
    ChainHead,
    Crossing,
    Money,
    Step,
    Timeline,
    TradePage,
    TradeQuery,
    TradeRow,
    WalletUse,
)
from pvd.explorer.view import MessageRow as ViewMessage
from pvd.index import query
from pvd.index.ingest import ChainIndexer
from pvd.index.schema import accounts, events, holds, messages
from pvd.index.trace import Leg, trace

log = logging.getLogger(__name__)

NO_CAP = 2**64 - 1
_MONEY_EVENTS = ("Issued", "Redeemed", "WalletClassSet", "TierCapsSet", "CapExemptionSet")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def message_kind(kind: str, detail: str) -> str:
    """payment_held -> PaymentHeld; trade_outcome + delivered -> TradeOutcome(Delivered)."""
    name = "".join(part.title() for part in kind.split("_"))
    return f"{name}({detail.title()})" if detail else name


def steps(found: Sequence[query.EventRow]) -> list[Step]:
    """A trade's events as the timeline's steps, in the order given (the index's trace
    gives them in cause-and-effect order: `pvd.index.trace.causal_order`)."""
    return [
        Step(
            chain=Chain(e.chain),
            what=step_label(e.contract, e.name, dict(e.args)),
            block=e.block,
            timestamp=e.block_time,
            tx_hash=e.tx_hash,
            message_id=e.message_id if e.contract == "Outbox" and e.name == "MessageSent" else None,
            detail=e.contract,
        )
        for e in found
    ]


def step_label(contract: str, name: str, args: dict[str, Any]) -> str:
    if contract == "Outbox" and name == "MessageSent":
        return "Sent " + message_kind(str(args.get("kind", "message")), str(args.get("detail", "")))
    words = _CAMEL.sub(" ", name).lower()
    return words[:1].upper() + words[1:]


@dataclass
class _MoneyFold:
    """Token figures the index has no table for, folded from events in block order."""

    chain: str = "payment"
    block: int = -1  # events up to this block are folded in
    issued: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    classes: dict[str, int] = field(default_factory=dict)
    caps: dict[int, int] = field(default_factory=dict)  # class -> balance cap
    exempt: set[str] = field(default_factory=set)

    def apply(self, name: str, args: dict[str, Any]) -> None:
        if name == "Issued":
            self.issued[args["operator"]] += int(args["amount"])
        elif name == "Redeemed":
            self.issued[args["operator"]] -= int(args["amount"])
        elif name == "WalletClassSet":
            self.classes[args["account"]] = int(args["walletClass"])
        elif name == "TierCapsSet":
            self.caps[int(args["walletClass"])] = int(args["balanceCap"])
        elif name == "CapExemptionSet":
            if args["exempt"]:
                self.exempt.add(args["account"])
            else:
                self.exempt.discard(args["account"])


class IndexData:
    """ExplorerData on the chain index; `indexers` given means this explorer keeps the
    index up to date itself (it must hold the index's writer lock)."""

    def __init__(
        self,
        engine: Engine,
        indexers: dict[Chain, ChainIndexer] | None = None,
        decoder: RevertDecoder | None = None,
    ) -> None:
        self.engine = engine
        self.indexers = indexers or {}
        self._decoder = decoder
        self._lock = threading.Lock()
        self._errors: dict[Chain, str] = {}
        self._heads: tuple[ChainHead, ...] = ()
        self._fold = _MoneyFold()

    # ------------------------------------------------------------------ reading

    def refresh(self) -> tuple[ChainHead, ...]:
        errors: dict[Chain, str] = {}
        for chain, indexer in self.indexers.items():
            try:
                indexer.step()
            except Exception as exc:  # any failure of one chain is shown, not raised
                errors[chain] = _describe(indexer, exc)
                log.warning(
                    "explorer cannot read a chain",
                    extra={"chain": chain.value, "error": errors[chain]},
                )
        self._fold_money()
        checkpoints = {c.name: c for c in query.chain_checkpoints(self.engine)}
        heads = []
        for chain in (Chain.BUSINESS, Chain.PAYMENT):
            point = checkpoints.get(chain.value)
            block = None if point is None else point.indexed_block
            stamp = None if block is None else query.block_time(self.engine, chain.value, block)
            heads.append(ChainHead(chain, block, stamp, errors.get(chain)))
        with self._lock:
            self._errors = errors
            self._heads = tuple(heads)
        return self._heads

    def _fold_money(self) -> None:
        with self.engine.connect() as connection:
            checkpoint = next(
                (c.indexed_block for c in query.chain_checkpoints(self.engine)
                 if c.name == "payment"), -1,
            )  # fmt: skip
            fold = self._fold
            if checkpoint < fold.block:  # a reorg rolled the index back: fold again
                fold = _MoneyFold()
            rows = connection.execute(
                select(events.c.block, events.c.name, events.c.args)
                .where(
                    and_(
                        events.c.chain == "payment",
                        events.c.contract == "YuanToken",
                        events.c.name.in_(_MONEY_EVENTS),
                        events.c.block > fold.block,
                        events.c.block <= checkpoint,
                    )
                )
                .order_by(events.c.block, events.c.log_index)
            ).all()
        with self._lock:
            for row in rows:
                fold.apply(row.name, json.loads(row.args))
            fold.block = max(fold.block, checkpoint)
            self._fold = fold

    def heads(self) -> tuple[ChainHead, ...]:
        with self._lock:
            return self._heads

    # ------------------------------------------------------------------- trades

    def trades(self, q: TradeQuery) -> TradePage:
        if q.trade_ids is not None:
            found = [query.trade(self.engine, t) for t in q.trade_ids]
            rows = [r for r in found if r is not None]
            if q.status:
                rows = [r for r in rows if r.status == q.status.lower()]
            return TradePage(self._rows(rows), len(rows), q)
        page = query.trades_page(
            self.engine,
            status=q.status.lower() if q.status else None,
            party=q.address,
            limit=q.page_size,
            cursor=q.cursor,
        )
        return TradePage(self._rows(page.rows), page.total, q, page.next_cursor, page.total_capped)

    def _rows(
        self, rows: list[query.TradeRow] | tuple[query.TradeRow, ...]
    ) -> tuple[TradeRow, ...]:
        hold_ids = [r.hold_id for r in rows if r.hold_id]
        with self.engine.connect() as connection:
            states: dict[str, str] = {
                str(h): str(st)
                for h, st in connection.execute(
                    select(holds.c.hold_id, holds.c.status).where(holds.c.hold_id.in_(hold_ids))
                ).all()
            } if hold_ids else {}  # fmt: skip
        return tuple(
            TradeRow(
                trade_id=r.trade_id,
                buyer=r.buyer,
                seller=r.seller,
                price_fen=r.price,
                status=r.status.title(),
                settlement=r.settlement.title(),
                hold=states.get(r.hold_id, "none") if r.hold_id else "none",
                proposed_at=r.proposed_at,
                proposed_block=r.proposed_block,
            )
            for r in rows
        )

    def timeline(self, trade_id: str) -> Timeline | None:
        """The trade's journey from the index's trace (the one `pvd trace` prints): its
        events as steps in causal order, its messages as crossings, and where it is stuck
        and why (or whose move it is)."""
        found = query.trade(self.engine, trade_id)
        if found is None:
            return None
        traced = trace(self.engine, trade_id)
        (row,) = self._rows([traced.trade])
        crossings = tuple(self._crossing(leg) for leg in traced.legs)  # in sending order
        step_list = steps(traced.events)  # the trace's cause-and-effect order
        stuck = "; ".join(traced.stuck) or traced.next_move
        return Timeline(row, tuple(step_list), crossings, stuck)

    def _crossing(self, leg: Leg) -> Crossing:
        delivered = leg.status == "delivered"
        return Crossing(
            message_id=leg.message_id,
            kind=message_kind(leg.kind, leg.detail),
            source=Chain(leg.source),
            sent_block=leg.sent_block,
            sent_at=leg.sent_at,
            delivered_at=leg.arrived_at if delivered else None,
            delivered_block=leg.arrived_block if delivered else None,
            status="in flight" if leg.status == "pending" else leg.status,
            reason=self.reason(leg.reason),
        )

    def reason(self, failure: str | None) -> str | None:
        """A recipient's revert by name and arguments (raw revert data is decoded here;
        a reason already in words is kept)."""
        if not failure:
            return None
        if not re.fullmatch(r"0x[0-9a-fA-F]*", failure):
            return failure
        if self._decoder is None:
            self._decoder = project_decoder()
        try:
            return self._decoder.explain(failure)
        except Exception:  # undecodable revert data is shown raw, never hidden
            return f"undecoded revert data {failure[:74]}"

    def trades_of_tx(self, tx_hash: str) -> tuple[str, ...]:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(distinct(events.c.trade_id), events.c.hold_id, events.c.message_id).where(
                    events.c.tx_hash == tx_hash.lower()
                )
            ).all()
            ids = {t for t, _, _ in found if t}
            hold_ids = [h for _, h, _ in found if h]
            message_ids = [m for _, _, m in found if m]
            if hold_ids:
                ids |= set(
                    connection.execute(
                        select(holds.c.ref).where(holds.c.hold_id.in_(hold_ids))
                    ).scalars()
                )
            if message_ids:
                ids |= {
                    t
                    for t in connection.execute(
                        select(messages.c.trade_id).where(messages.c.message_id.in_(message_ids))
                    ).scalars()
                    if t
                }
        known = [t for t in sorted(ids) if query.trade(self.engine, t) is not None]
        return tuple(known)

    # ---------------------------------------------------------------- messages

    def messages(self, limit: int = 200) -> tuple[ViewMessage, ...]:
        counts = query.money(self.engine).messages
        open_ = [
            *query.messages_by_status(self.engine, "pending", limit=limit),
            *query.messages_by_status(self.engine, "failed", limit=limit),
        ]
        room = max(0, limit - len(open_))
        delivered: list[query.MessageRow] = []
        if room:
            total = counts.get("delivered", 0)
            delivered = list(
                query.messages_by_status(
                    self.engine, "delivered", limit=min(room, 500), offset=max(0, total - room)
                )
            )
            delivered.reverse()  # newest first
        return tuple(self._message(m) for m in [*open_, *delivered][:limit])

    def _message(self, m: query.MessageRow) -> ViewMessage:
        return ViewMessage(
            message_id=m.message_id,
            kind=message_kind(m.kind, m.detail),
            source=Chain(m.source),
            trade_id=m.trade_id,
            sent_at=m.sent_at,
            sent_block=m.sent_block,
            status="in flight" if m.status == "pending" else m.status,
            delivered_at=m.delivered_at if m.status == "delivered" else None,
            reason=self.reason(m.failure),
        )

    # ------------------------------------------------------------------- money

    def money(self, near_cap: float = 0.8) -> Money:
        figures = query.money(self.engine)
        with self._lock:
            fold = self._fold
            issued = dict(fold.issued)
            classes = dict(fold.classes)
            caps = dict(fold.caps)
            exempt = set(fold.exempt)
        finite = [cap for cap in caps.values() if 0 < cap < NO_CAP]
        near: list[WalletUse] = []
        if finite:
            floor = int(min(finite) * near_cap)
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(accounts.c.address, accounts.c.balance).where(
                        accounts.c.balance >= floor
                    )
                ).all()
            for address, balance in rows:
                tier = classes.get(address, 0)
                cap = caps.get(tier, NO_CAP)
                if address in exempt or not 0 < cap < NO_CAP:
                    continue
                if balance >= cap * near_cap:
                    near.append(WalletUse(address, int(balance), cap, tier))
        near.sort(key=lambda w: w.used, reverse=True)
        return Money(
            total_supply_fen=figures.supply,
            by_bank=tuple(
                BankSupply(bank, amount)
                for bank, amount in sorted(issued.items(), key=lambda kv: -kv[1])
            ),
            holds_open=figures.holds.get("held", 0),
            holds_open_fen=figures.held_amount_open,
            near_caps=tuple(near[:100]),
        )


def _describe(indexer: ChainIndexer, exc: BaseException) -> str:
    """Why a chain could not be read, in one line (its node's URL, the error's kind)."""
    provider = getattr(indexer.source.w3, "provider", None)
    where = getattr(provider, "endpoint_uri", None)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(first) > 160:
        first = first[:157] + "..."
    kind = type(exc).__name__
    return f"no answer from {where} ({kind}: {first})" if where else f"{kind}: {first}"


def index_data_for_system(system: Any, db_url: str) -> IndexData:
    """IndexData over an in-process deployment (pvd.deploy.system.System), indexing it
    itself into the database at `db_url` (used by `pvd demo --explorer` and tests)."""
    from pvd.index.db import open_index
    from pvd.index.ingest import sources_from_system

    engine = open_index(db_url)
    indexers = {Chain(s.name): ChainIndexer(engine, s) for s in sources_from_system(system)}
    return IndexData(engine, indexers)
