"""One trade's life across both chains, from the index: `pvd trace TRADE_ID` and the
explorer's trade page.

`trace(engine, trade_id)` gives a `Trace`: every event of the trade on either chain (its
own, its hold's, its messages') with block, block time and tx hash; each cross-chain
message with the time it spent between chains (sent -> delivered, or waiting so far); and
where the trade is stuck and why:

- a message sent but not delivered: waiting for a quorum of attesters to sign and deliver;
- a message verified but failed on the recipient, with the decoded revert reason
  (anyone may retry it on the inbox);
- a hold still held past its expiry (it can be released to the payer; a Delivered outcome
  arriving now would be refunded instead of paid);
- a trade waiting for a party's next move (the buyer's hold, shipping, confirmation).

"Now" is the time of the newest indexed block of each chain, so a trace says what the
index knows, never more.

The events are in cause-and-effect order (`causal_order`), not block-time order: the two
chains' clocks are not one clock (skew, or a test chain moved forward), so time alone can
show a message delivered before it was sent. `pvd trace` and the explorer's timeline both
print this one order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from pvd.errors import UserError
from pvd.index.query import (
    EventRow,
    HoldRow,
    MessageRow,
    TradeRow,
    chain_checkpoints,
    holds_of_trade,
    messages_of_trade,
    normal_id,
    trade,
    trade_events,
)
from pvd.index.schema import blocks

_ID_ARGS = {"tradeId", "holdId", "messageId", "outcomeId", "message", "ref"}
_DELIVERIES = ("MessageDelivered", "MessageFailed", "MessageRetried")
_NEXT_MOVE = {
    "proposed": "waiting for the seller to accept",
    "accepted": "waiting for the buyer's hold on the payment chain (PAYMENT_HELD funds it)",
    "funded": "waiting for the seller to ship",
    "shipped": "waiting for the buyer to confirm delivery (or the deadline)",
    "disputed": "waiting for the arbiter's ruling",
}


@dataclass(frozen=True)
class Leg:
    """One cross-chain message of the trade."""

    message_id: str
    kind: str
    detail: str
    source: str
    destination: str
    status: str  # pending / delivered / failed
    sent_block: int
    sent_at: int
    sent_tx: str
    arrived_block: int | None
    arrived_at: int | None
    deliverer: str | None
    seconds_between_chains: int  # sent -> delivered/failed, or sent -> now if pending
    attempts: int
    reason: str | None  # the decoded revert reason of the last failure


@dataclass(frozen=True)
class Trace:
    trade: TradeRow
    holds: tuple[HoldRow, ...]
    events: tuple[EventRow, ...]
    legs: tuple[Leg, ...]
    stuck: tuple[str, ...]  # why the trade is not moving (empty: nothing stuck)
    next_move: str | None  # whose move it is, when nothing is stuck
    now: Mapping[str, tuple[int, int]]  # chain -> (newest indexed block, its time)

    def to_json(self) -> dict[str, Any]:
        return {
            "trade": asdict(self.trade),
            "holds": [asdict(h) for h in self.holds],
            "events": [
                {**{k: v for k, v in asdict(e).items() if k != "args"}, "args": dict(e.args)}
                for e in self.events
            ],
            "messages": [asdict(leg) for leg in self.legs],
            "stuck": list(self.stuck),
            "next": self.next_move,
            "indexed": {c: {"block": b, "time": t} for c, (b, t) in self.now.items()},
        }

    def to_text(self) -> str:
        return "\n".join(_text(self)) + "\n"


def _delivers(group: Sequence[EventRow]) -> set[str]:
    """The messages a transaction delivers (it must come after their sending)."""
    return {
        e.message_id
        for e in group
        if e.contract == "Inbox" and e.name in _DELIVERIES and e.message_id
    }


def _sends(group: Sequence[EventRow]) -> set[str]:
    return {
        e.message_id
        for e in group
        if e.contract == "Outbox" and e.name == "MessageSent" and e.message_id
    }


def causal_order(found: Sequence[EventRow]) -> tuple[EventRow, ...]:
    """Events of both chains in cause-and-effect order: each chain in its own block and
    log order, the two merged by block time, except that a transaction delivering a
    message (an inbox's MessageDelivered/Failed/Retried) always comes after the
    transaction that sent it, whatever the two clocks say."""
    lanes: dict[str, list[list[EventRow]]] = {}
    for e in sorted(found, key=lambda e: (e.chain, e.block, e.log_index)):
        groups = lanes.setdefault(e.chain, [])
        if groups and groups[-1][0].tx_hash == e.tx_hash and groups[-1][0].block == e.block:
            groups[-1].append(e)
        else:
            groups.append([e])
    sent: set[str] = set()
    ordered: list[EventRow] = []
    queues = [groups for _, groups in sorted(lanes.items(), reverse=True)]
    while any(queues):
        heads = [q for q in queues if q]
        ready = [q for q in heads if _delivers(q[0]) <= sent] or heads
        chosen = min(ready, key=lambda q: q[0][0].block_time)  # first lane wins a tie
        group = chosen.pop(0)
        ordered.extend(group)
        sent |= _sends(group)
    return tuple(ordered)


def trace(engine: Engine, trade_id: str) -> Trace:
    """The trace of one trade; UserError for a malformed id or a trade the index has not
    seen (with how far the index reaches)."""
    trade_id = normal_id(trade_id)
    row = trade(engine, trade_id)
    now = _now(engine)
    if row is None:
        reach = ", ".join(f"{c} to block {b}" for c, (b, _) in now.items()) or "nothing yet"
        raise UserError(
            f"no trade {trade_id} in the index (indexed: {reach}): check the id, or run "
            "`pvd index` to catch up"
        )
    names = {c.domain_id: c.name for c in chain_checkpoints(engine)}
    hold_rows = holds_of_trade(engine, trade_id)
    found = causal_order(trade_events(engine, trade_id))
    sending = {e.message_id: n for n, e in enumerate(found) if _sends([e])}
    legs = tuple(
        sorted(
            (_leg(m, names, now) for m in messages_of_trade(engine, trade_id)),
            key=lambda leg: sending.get(leg.message_id, len(sending)),
        )
    )  # in the order they were sent, as the events are
    stuck = tuple(_stuck(row, hold_rows, legs, now))
    next_move = None if stuck else _NEXT_MOVE.get(row.status)
    if next_move is None and not stuck and _settling(row):
        next_move = "the settlement is on its way back to the business chain"
    return Trace(row, hold_rows, found, legs, stuck, next_move, now)


def _now(engine: Engine) -> dict[str, tuple[int, int]]:
    now: dict[str, tuple[int, int]] = {}
    with engine.connect() as connection:
        for chain, top in connection.execute(
            select(blocks.c.chain, func.max(blocks.c.number)).group_by(blocks.c.chain)
        ):
            at = connection.execute(
                select(blocks.c.timestamp).where(blocks.c.chain == chain, blocks.c.number == top)
            ).scalar_one()
            now[str(chain)] = (int(top), int(at))
    return now


def _leg(m: MessageRow, names: Mapping[int, str], now: Mapping[str, tuple[int, int]]) -> Leg:
    destination = names.get(m.destination_domain, f"domain {m.destination_domain}")
    if m.delivered_at is not None:
        between = m.delivered_at - m.sent_at
    else:
        between = now.get(destination, now.get(m.source, (0, m.sent_at)))[1] - m.sent_at
    return Leg(
        message_id=m.message_id,
        kind=m.kind,
        detail=m.detail,
        source=m.source,
        destination=destination,
        status=m.status,
        sent_block=m.sent_block,
        sent_at=m.sent_at,
        sent_tx=m.sent_tx,
        arrived_block=m.delivered_block,
        arrived_at=m.delivered_at,
        deliverer=m.deliverer,
        seconds_between_chains=max(between, 0),
        attempts=m.attempts,
        reason=m.failure,
    )


def _stuck(
    row: TradeRow,
    hold_rows: tuple[HoldRow, ...],
    legs: tuple[Leg, ...],
    now: Mapping[str, tuple[int, int]],
) -> Iterator[str]:
    for leg in legs:
        detail = f" {leg.detail}" if leg.detail else ""
        what = f"{leg.kind.upper()}{detail} {leg.source}→{leg.destination}"
        if leg.status == "pending":
            yield (
                f"{what} sent {leg.seconds_between_chains} s ago (block {leg.sent_block}) and "
                "not delivered: waiting for a quorum of attesters to sign and deliver it"
            )
        elif leg.status == "failed":
            yield (
                f"{what} failed on the {leg.destination} inbox after {leg.attempts} attempt(s): "
                f"{leg.reason or 'no reason kept'}; anyone may retry it"
            )
    payment_time = now.get("payment", (0, 0))[1]
    for hold in hold_rows:
        if hold.status == "held" and payment_time > hold.expiry:
            yield (
                f"hold {hold.hold_id} is still held {payment_time - hold.expiry} s past its "
                f"expiry ({_utc(hold.expiry)}): it can be released to the payer, and a "
                "Delivered outcome arriving now is refunded, not paid"
            )


def _settling(row: TradeRow) -> bool:
    return (
        row.status in ("delivered", "expired")
        and row.hold_id is not None
        and (row.settlement == "none")
    )


def _utc(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: Any) -> str:
    text = str(value)
    return text[:10] + "…" if text.startswith("0x") and len(text) > 42 else text


def describe(event: EventRow) -> str:
    """`Name key=value ...` without the ids the trace is about."""
    shown = [
        f"{k}={_short(v)}"
        for k, v in event.args.items()
        if k not in _ID_ARGS and k != "reason" and not isinstance(v, list)
    ]
    return f"{event.contract}.{event.name}" + (f" {' '.join(shown)}" if shown else "")


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def _text(t: Trace) -> Iterator[str]:
    r = t.trade
    yield (
        f"trade {r.trade_id}: {r.status}, settlement {r.settlement}; price {_yuan(r.price)} yuan"
    )
    yield f"  buyer {r.buyer}  seller {r.seller}"
    yield f"  deadline {_utc(r.deadline)} UTC, hold expiry {_utc(r.hold_expiry)} UTC"
    for hold in t.holds:
        yield f"  hold {hold.hold_id}: {hold.status}, {_yuan(hold.amount)} yuan"
    yield ""
    yield f"{'time (UTC)':19}  {'chain':8} {'block':>7}  {'tx':12}  event"
    for e in t.events:
        yield f"{_utc(e.block_time)}  {e.chain:8} {e.block:>7}  {e.tx_hash[:12]}  {describe(e)}"
    yield ""
    yield "messages between the chains:"
    if not t.legs:
        yield "  none yet"
    for leg in t.legs:
        kind = leg.kind.upper() + (f" {leg.detail}" if leg.detail else "")
        if leg.status == "pending":
            where = f"not delivered yet ({leg.seconds_between_chains} s so far)"
        else:
            by = f" by {leg.deliverer}" if leg.deliverer else ""
            where = (
                f"{leg.status} at {leg.destination} block {leg.arrived_block}{by}, "
                f"{leg.seconds_between_chains} s between chains"
            )
        yield f"  {kind:26} {leg.source}→{leg.destination}: sent block {leg.sent_block}, {where}"
    yield ""
    if t.stuck:
        yield "stuck:"
        for line in t.stuck:
            yield f"  {line}"
    else:
        yield f"stuck: nothing{'; ' + t.next_move if t.next_move else ''}"
    reach = ", ".join(f"{c} block {b} ({_utc(at)} UTC)" for c, (b, at) in t.now.items())
    yield f"index: {reach}"


__all__ = ["Leg", "Trace", "causal_order", "describe", "trace"]
