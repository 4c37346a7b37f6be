"""The start-up sweep of one route: make the store agree with both chains about every
message still open, whatever the store remembers (docs/relayer.md, "Start and
restart": a sweep of open messages on start catches anything missed).

Why messages are enough. Every open trade or hold that waits on the relayer has exactly
one message in flight:

- a hold announced but not yet consumed by the business inbox: its PAYMENT_HELD;
- a trade whose outcome (Delivered, Expired, Rejected) the payment inbox has not
  consumed: its TRADE_OUTCOME;
- a hold executed or released whose report the business inbox has not consumed: its
  PAYMENT_SETTLED.

So, per route (source outbox -> destination inbox), the sweep reads every MessageSent
log the source outbox emitted for the destination's domain, from the outbox's deployment
block up to the confirmed head (head - confirmations), in chunks (pvd.chain.logs.LogSource),
and asks the destination inbox `deliveryOf(id)` for each, in JSON-RPC batches
(pvd.relayer.ends.inbox_deliveries; one by one on eth-tester). Status None or Failed:
the message is open. Then, per message:

    on chain     store                  the sweep
    open         unknown                stores it as seen                     (added)
    open         dead                   re-opens it: a new round              (reopened)
    open         seen..submitted        nothing: the route is working on it
    open         confirmed              warns: the destination lost a delivery (reorg?)
    delivered    unknown                nothing: done, the store needs no record
    delivered    not confirmed (dead    marks it confirmed, a fact read from
                 included)              the chain                             (confirmed)
    not found    dead                   stays dead (its log left the chain)

Every open message is also handed to `Store.record_scan` (a no-op for a known one,
except that one still at `seen` follows its log if a reorg moved it). The sweep signs
and sends nothing: a message it adds or re-opens goes through the route's attest step,
which re-checks its block hash and its source contract's state before signing, as for
any scanned message.

What it catches that the re-scan from checkpoint - margin does not: a message below the
margin that the store never held (a node that returned incomplete logs, a store copied
or restored with its checkpoint past the message), and a dead message still open on
chain. It also keeps dead messages that are done or gone from being re-opened for
nothing. It runs once per route, on the route's first tick, before the first scan
(RelayRoute.sweep); a route the store knows nothing about (no checkpoint, no message)
is skipped: its first scan reads every log from the outbox's deployment block anyway.
Its cost: one pass over the outbox's logs and one `deliveryOf` per message sent to the
destination's domain, batched.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode

from pvd.chain.logs import LogSource, ObservedLog
from pvd.protocol.messages import Message, MessageFormatError
from pvd.protocol.statuses import DeliveryStatus
from pvd.relayer.config import Route
from pvd.relayer.ends import ChainEnd, inbox_deliveries
from pvd.relayer.log import RelayLog
from pvd.relayer.store import MessageRecord, SeenMessage, SourceLocation, Stage, Store


@dataclass(frozen=True)
class SweepReport:
    """What one route's sweep found (message ids, 0x-hex) and changed in the store."""

    route: Route
    through_block: int  # the confirmed source head swept up to; -1 if skipped
    open: tuple[str, ...]  # sent to the destination's domain, not yet consumed there
    added: tuple[str, ...]  # open and unknown to the store: stored as seen
    reopened: tuple[str, ...]  # open and dead in the store: re-opened
    confirmed: tuple[str, ...]  # consumed on the destination: marked confirmed

    @classmethod
    def skipped(cls, route: Route) -> SweepReport:
        return cls(route, -1, (), (), (), ())


def seen_message(
    log: ObservedLog, destination_domain: int, relay_log: RelayLog
) -> SeenMessage | None:
    """A MessageSent log of an outbox as the store takes it, or None if the message is
    for another domain (not this route's) or cannot be decoded (logged: an outbox emits
    only valid messages). Used by the route's scan and by the sweep."""
    (encoded,) = abi_decode(["bytes"], bytes(log.data))
    try:
        message = Message.decode(bytes(encoded))
    except MessageFormatError as exc:
        relay_log.error("undecodable message in block %s: %s", log.block_number, exc)
        return None
    if message.destination_domain != destination_domain:
        return None
    location = SourceLocation(
        log.block_number, log.block_hash.to_0x_hex(), log.tx_hash.to_0x_hex(), log.log_index
    )
    return SeenMessage("0x" + message.id.hex(), bytes(encoded), location)


def sweep_route(
    route: Route,
    source: ChainEnd,
    destination: ChainEnd,
    store: Store,
    logs: LogSource,
    confirmations: int,
    log: RelayLog,
) -> SweepReport:
    """Make the store agree with both chains about `route`'s open messages (see the
    module docstring); what was found and changed. Safe to repeat: a second run over
    unchanged chains changes nothing."""
    if store.checkpoint(route) is None and not store.status_counts(route):
        log.info("sweep skipped: nothing stored yet, the first scan reads from the start")
        return SweepReport.skipped(route)
    head = logs.confirmed_head(confirmations)
    sent: dict[str, SeenMessage] = {}
    for entry in logs.logs(source.outbox_block, head):
        seen = seen_message(entry, destination.domain, log)
        if seen is not None:
            sent[seen.message_id] = seen
    dead = {r.message_id: r for r in store.dead(route)}
    ids = list(sent) + [mid for mid in dead if mid not in sent]
    on_chain = inbox_deliveries(destination, ids)
    stored: dict[str, MessageRecord | None] = {mid: store.get(mid) for mid in sent}
    stored.update(dead)

    def is_open(mid: str) -> bool:
        return on_chain[mid][0] is not DeliveryStatus.DELIVERED

    open_ids = [mid for mid in sent if is_open(mid)]
    reopened = store.reopen_dead([mid for mid in open_ids if mid in dead])
    added = store.record_scan(route, [sent[mid] for mid in open_ids])
    for mid in open_ids:
        record = stored[mid]
        if record is not None and record.stage is Stage.CONFIRMED:
            log.warning(
                "the store holds it as confirmed, the destination inbox as not consumed "
                "(a reorg of the destination chain?)",
                extra={"message_id": mid, "chain": destination.name},
            )
    done = [
        mid
        for mid in ids
        if not is_open(mid) and (r := stored[mid]) is not None and r.stage is not Stage.CONFIRMED
    ]
    by_block = sorted(done, key=lambda mid: on_chain[mid][1])
    for block, group in itertools.groupby(by_block, key=lambda mid: on_chain[mid][1]):
        store.mark_confirmed(list(group), tx_hash=None, block=block)
    for mid in dead:
        if mid not in sent and is_open(mid):
            log.info(
                "dead and no longer in the outbox's logs: left dead",
                extra={"message_id": mid, "chain": source.name},
            )
    for what, changed in (("added", added), ("re-opened", reopened), ("confirmed", done)):
        for mid in changed:
            log.info(f"sweep: {what}", extra={"message_id": mid})
    report = SweepReport(route, head, tuple(open_ids), tuple(added), tuple(reopened), tuple(done))
    log.info(
        "sweep through block %d: %d open on chain, %d added, %d re-opened, %d confirmed",
        head,
        len(report.open),
        len(report.added),
        len(report.reopened),
        len(report.confirmed),
        extra={"chain": source.name, "block": head},
    )
    return report
