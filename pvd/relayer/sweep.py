"""The sweep of one route (at start, then periodically): make the store agree with both
chains about every message still open, whatever the store remembers, so that anything
missed, given up or lost to a reorg is caught.

Why messages are enough. Every open trade or hold that waits on the relayer has exactly
one message in flight:

- a hold announced but not yet consumed by the business inbox: its PAYMENT_HELD;
- a trade whose outcome (Delivered, Expired, Rejected) the payment inbox has not
  consumed: its TRADE_OUTCOME;
- a hold executed or released whose report the business inbox has not consumed: its
  PAYMENT_SETTLED.

So, per route (source outbox -> destination inbox), the sweep takes as candidates:

- every MessageSent log the source outbox emitted for the destination's domain in a
  bounded window of blocks ending at the route's stored checkpoint (the scan's: every
  block above it is the scan's to read next): [checkpoint + 1 - window, checkpoint],
  never below the outbox's deployment block, read in chunks (pvd.chain.logs.LogSource);
- every message the store holds for the route that is not confirmed (pending, failed,
  waiting, dead), and every confirmed one whose delivery is in the destination's last
  `window` blocks, wherever its log lies: one whose log lies below the window is taken
  from the store if its source block is still canonical (one batched block-hash read);

and asks the destination inbox `deliveryStatus(message)` for each, in JSON-RPC batches,
and the block of a consumed one's delivery event (pvd.relayer.ends.inbox_deliveries; one
by one on eth-tester). Status None or Failed:
the message is open. Then, per message:

    on chain     store                  the sweep
    open         unknown                stores it as seen                     (added)
    open         dead                   re-opens it: a new round              (reopened)
    open         seen..submitted        nothing: the route is working on it
    open         confirmed              re-opens it: a new round from seen;   (lost)
                                        the destination lost a delivery deeper
                                        than its confirmation depth (a reorg)
    delivered    unknown                nothing: done, the store needs no record
    delivered    not confirmed (dead    marks it confirmed if its block is at
    at depth     included), not seen    the destination's depth (a fact read
                 in a block before      from the chain)                       (confirmed)
    delivered    dead                   re-opens it: the route confirms it    (reopened)
    below depth                         at the depth
    not found    dead                   stays dead (its log left the chain)

Every open message is also handed to `Store.record_scan` (a no-op for a known one,
except that one still at `seen` follows its log if a reorg moved it). The sweep signs
and sends nothing: a message it adds or re-opens goes through the route's attest step,
which re-checks its block hash and its source contract's state before signing, as for
any scanned message.

What it catches that the re-scan from checkpoint - margin does not: a message in the
window below the margin that the store never held (a node that returned incomplete logs,
a store copied or restored with its checkpoint past the message), and a dead message
still open on chain, however old. It also keeps dead messages that are done or gone from
being re-opened for nothing. A message the store never held and whose log lies below the
window is not found by the sweep: the window (`RouteSettings.sweep_window`, 2,000 blocks)
bounds how far back a store may have been restored.

It runs once per route, on the route's first tick, before the first scan
(RelayRoute.sweep), and again every `sweep_interval`; a route the store knows nothing
about (no checkpoint, no message) is skipped: its first scan reads every log from the
outbox's deployment block anyway.
Its cost is bounded, whatever the chain's length: `window` blocks of outbox logs, one
`deliveryStatus` per candidate (the window's messages and the store's unconfirmed ones), one
pass over the inbox's delivery events of the consumed ones, and one block-hash read per
distinct source block of a stored candidate below the window, batched.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hexbytes import HexBytes

from pvd.chain.logs import LogSource, ObservedLog
from pvd.chain.rpc import block_hashes
from pvd.protocol.messages import Message, MessageFormatError
from pvd.protocol.messages import message_id as id_of_encoding
from pvd.protocol.statuses import DeliveryStatus
from pvd.relayer.config import Route
from pvd.relayer.ends import ChainEnd, decode_lone_bytes, inbox_deliveries
from pvd.relayer.log import RelayLog
from pvd.relayer.store import (
    Condition,
    MessageRecord,
    SeenMessage,
    SourceLocation,
    Stage,
    Store,
)

SWEEP_WINDOW_BLOCKS = 2_000  # blocks of outbox logs a sweep reads, ending at the checkpoint


@dataclass(frozen=True)
class SweepReport:
    """What one route's sweep found (message ids, 0x-hex) and changed in the store."""

    route: Route
    through_block: int  # the last source block whose logs were read; -1 if skipped
    open: tuple[str, ...]  # sent to the destination's domain, not yet consumed there
    added: tuple[str, ...]  # open and unknown to the store: stored as seen
    reopened: tuple[str, ...]  # open and dead in the store: re-opened
    confirmed: tuple[str, ...]  # consumed on the destination: marked confirmed
    lost: tuple[str, ...] = ()  # confirmed, open on the destination again: re-opened
    from_block: int = -1  # the first source block whose logs were read; -1 if skipped
    stored_below: int = 0  # candidates taken from the store, their logs below the window

    @classmethod
    def skipped(cls, route: Route) -> SweepReport:
        return cls(route, -1, (), (), (), ())

    @property
    def blocks_read(self) -> int:
        """How many source blocks of logs the sweep read."""
        return max(0, self.through_block - self.from_block + 1) if self.from_block >= 0 else 0


def message_fields(message_id: str, encoded: bytes) -> dict[str, object]:
    """The log fields that tie a line to a message and its trade: message id, kind
    (PAYMENT_HELD, TRADE_OUTCOME, PAYMENT_SETTLED) and trade id (every body's first
    word); only the id if the bytes do not decode."""
    fields: dict[str, object] = {"message_id": message_id}
    try:
        body = Message.decode(encoded).decoded_body()
    except (MessageFormatError, ValueError):
        return fields
    fields["kind"] = type(body).KIND.name
    fields["trade_id"] = "0x" + body.trade_id.hex()
    return fields


def seen_message(
    log: ObservedLog, destination_domain: int, relay_log: RelayLog
) -> SeenMessage | None:
    """A MessageSent log of an outbox as the store takes it, or None if the message is
    for another domain (not this route's) or cannot be decoded (logged: an outbox emits
    only valid messages). Used by the route's scan and by the sweep."""
    encoded = decode_lone_bytes(bytes(log.data))
    try:
        message = Message.decode(encoded)
    except MessageFormatError as exc:
        relay_log.error("undecodable message in block %s: %s", log.block_number, exc)
        return None
    if message.destination_domain != destination_domain:
        return None
    location = SourceLocation(
        log.block_number, log.block_hash.to_0x_hex(), log.tx_hash.to_0x_hex(), log.log_index
    )
    # the id is the keccak of the encoding, which a strict decode leaves as it was read
    return SeenMessage("0x" + id_of_encoding(encoded).hex(), encoded, location)


def sweep_route(
    route: Route,
    source: ChainEnd,
    destination: ChainEnd,
    store: Store,
    logs: LogSource,
    confirmations: int,
    log: RelayLog,
    destination_confirmations: int = 0,
    window: int = SWEEP_WINDOW_BLOCKS,
) -> SweepReport:
    """Make the store agree with both chains about `route`'s open messages (see the
    module docstring); what was found and changed. Safe to repeat: a second run over
    unchanged chains changes nothing. Reads `window` blocks of logs at most."""
    if window < 1:
        raise ValueError("the sweep's window is at least one block")
    checkpoint = store.checkpoint(route)
    if checkpoint is None and not store.status_counts(route):
        log.info("sweep skipped: nothing stored yet, the first scan reads from the start")
        return SweepReport.skipped(route)
    head = logs.confirmed_head(confirmations)
    top = head if checkpoint is None else min(head, checkpoint.block)
    start = max(source.outbox_block, top + 1 - window)
    in_window: dict[str, SeenMessage] = {}
    for entry in logs.logs(start, top):
        seen = seen_message(entry, destination.domain, log)
        if seen is not None:
            in_window[seen.message_id] = seen
    dest_head = destination.chain.w3.eth.block_number
    known = store.unconfirmed(route) + store.confirmed_since(route, dest_head + 1 - window)
    below = [r for r in known if r.message_id not in in_window and r.source.block < start]
    canonical = block_hashes(source.chain.w3, sorted({r.source.block for r in below}))
    older = {
        r.message_id: SeenMessage(r.message_id, r.message, r.source)
        for r in below
        if canonical.get(r.source.block) == HexBytes(r.source.block_hash)
    }
    sent = older | in_window  # chain order: the stored ones lie below the window
    dead = {r.message_id: r for r in known if r.condition is Condition.DEAD}
    ids = list(sent) + [mid for mid in dead if mid not in sent]
    on_chain = inbox_deliveries(
        destination, {mid: sent[mid].message if mid in sent else dead[mid].message for mid in ids}
    )
    stored: dict[str, MessageRecord | None] = {r.message_id: r for r in below}
    stored.update((mid, store.get(mid)) for mid in in_window)
    stored.update(dead)

    def about(mid: str) -> dict[str, object]:
        record = stored.get(mid)
        encoded = sent[mid].message if mid in sent else record.message if record else b""
        return message_fields(mid, encoded)

    def is_open(mid: str) -> bool:
        return on_chain[mid][0] is not DeliveryStatus.DELIVERED

    open_ids = [mid for mid in sent if is_open(mid)]

    def at_depth(mid: str) -> bool:
        return not destination_confirmations or dest_head - on_chain[mid][1] >= (
            destination_confirmations
        )

    consumed_shallow = [mid for mid in dead if not is_open(mid) and not at_depth(mid)]
    reopened = store.reopen_dead([mid for mid in open_ids if mid in dead] + consumed_shallow)
    added = store.record_scan(route, [sent[mid] for mid in open_ids])
    lost_ids = [
        mid
        for mid in open_ids
        if (record := stored[mid]) is not None and record.stage is Stage.CONFIRMED
    ]
    lost = store.reopen_lost(
        lost_ids,
        "delivery_lost: confirmed, but the destination inbox no longer holds it consumed "
        "(a reorg deeper than its confirmation depth)",
    )
    for mid in lost:
        log.warning(
            "confirmed, but the destination inbox holds it as not consumed (a reorg "
            "deeper than its confirmation depth?): re-opened",
            extra=about(mid) | {"chain": destination.name},
        )
    done = [
        mid
        for mid in ids
        if not is_open(mid)
        and at_depth(mid)
        and (r := stored[mid]) is not None
        and r.stage is not Stage.CONFIRMED
        and r.included is None  # seen in a block before: the route re-checks its hash
    ]
    by_block = sorted(done, key=lambda mid: on_chain[mid][1])
    for block, group in itertools.groupby(by_block, key=lambda mid: on_chain[mid][1]):
        store.mark_confirmed(list(group), tx_hash=None, block=block)
    for mid in dead:
        if mid not in sent and is_open(mid):
            log.info(
                "dead and no longer in the outbox's logs: left dead",
                extra=about(mid) | {"chain": source.name},
            )
    for what, changed in (("added", added), ("re-opened", reopened), ("confirmed", done)):
        for mid in changed:
            log.info(f"sweep: {what}", extra=about(mid))
    report = SweepReport(
        route,
        top,
        tuple(open_ids),
        tuple(added),
        tuple(reopened),
        tuple(done),
        tuple(lost),
        start,
        len(older),
    )
    log.info(
        "sweep through block %d: %d open on chain, %d added, %d re-opened, %d confirmed%s",
        top,
        len(report.open),
        len(report.added),
        len(report.reopened),
        len(report.confirmed),
        f", {len(report.lost)} lost deliveries re-opened" if report.lost else "",
        extra={"chain": source.name, "block": top},
    )
    return report
