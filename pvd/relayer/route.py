"""One relay route: messages from the source chain's outbox to the destination chain's
inbox. A tick runs three idempotent steps, each driven by what the store and the chains
say now, so that a crash between any two of them loses nothing and repeats nothing:

1. scan    read MessageSent logs from the checkpoint up to the confirmation depth; store
           them as `seen` and move the checkpoint, in one transaction;
2. attest  for the `seen` messages: re-check that each one's block is still canonical,
           check the source app's state at that block (pvd.relayer.checks), sign it
           with each local attestation key (one in production; the embedded demo runs
           several); one that would fail either check is first looked up on the
           destination inbox, and confirmed if the inbox already consumed it;
3. deliver for the signed messages: ask the destination inbox what it knows (delivered,
           failed on the recipient, or nothing yet); gather a quorum; pre-flight and send
           one `deliver`, or a `deliverBatch` when several are ready, at a gas limit
           learned from earlier deliveries; a message the inbox holds as failed (paused
           token, frozen payee) is retried there with backoff.

Each step reads the chains for all its messages at once, in JSON-RPC batches (pvd.chain.rpc),
so that a backlog costs a few round trips, not a few per message.

The first tick sweeps before it scans (pvd.relayer.sweep): the store is made to agree
with both chains about every message still open on them, below the checkpoint too; the
sweep runs again every `sweep_interval` seconds, so a dead message still open on chain,
or a confirmed one whose delivery a deep reorg removed, is taken up again while the
relayer runs.

Failures (docs/relayer.md, "Failures"). A delivery's revert is decoded by name
(pvd.relayer.failures): a pause or a freeze is waiting, not a failed attempt; any other
passing fault is an attempt, retried with backoff until the policy gives up, except
that a TRADE_OUTCOME is kept alive until its hold expires on the destination (its hold is
still executable: giving up would refund a seller who delivered). A Delivered outcome
still undelivered close to its hold's expiry raises an alert (metric and log line).

Confirmation at the destination (R3 on the destination side). A delivery seen on the
destination inbox (in this relayer's own receipt, or by `deliveryStatus` and the
delivery's event) is remembered with its block and block hash; the message is confirmed
only once that block is `destination_confirmations` deep and its hash is still the one
remembered. A delivery
that left the chain before (a reorg, a dropped transaction) is forgotten and sent again;
one whose block was replaced is re-read and waits for the depth again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from hexbytes import HexBytes
from web3 import Web3

from pvd.chain.logs import LogSource, ObservedLog, rpc_int
from pvd.chain.rpc import block_hashes
from pvd.errors import RecoverableError, UnrecoverableError
from pvd.protocol.attestation import InboxDomain, batch_signatures, digest, recover_digest
from pvd.protocol.messages import (
    Message,
    MessageFormatError,
    Outcome,
    TradeOutcome,
    batch_messages,
)
from pvd.protocol.statuses import DeliveryStatus
from pvd.relayer.checks import source_disagreements
from pvd.relayer.config import Route
from pvd.relayer.ends import (
    ChainEnd,
    DeliveryEvents,
    InboxRecord,
    call_data,
    delivery_events,
    inbox_records,
    inbox_view,
    rpc_batch,
    speaks_json_rpc,
)
from pvd.relayer.failures import RevertJudge, RevertVerdict
from pvd.relayer.keys import Signer
from pvd.relayer.log import relay_logger
from pvd.relayer.metrics import RelayerMetrics
from pvd.relayer.quorum import AttesterSet, Quorum, QuorumClient
from pvd.relayer.retry import Backoff, RetryPolicy
from pvd.relayer.sender import (
    Call,
    Mined,
    PreflightReverted,
    RpcRejected,
    Sender,
    SentTx,
)
from pvd.relayer.store import Condition, Inclusion, MessageRecord, Stage, Store
from pvd.relayer.sweep import (
    SWEEP_WINDOW_BLOCKS,
    SweepReport,
    message_fields,
    seen_message,
    sweep_route,
)

MESSAGE_SENT = Web3.keccak(text="MessageSent(bytes32,uint32,address,bytes)")

# What the inbox says it did with a message in a delivery transaction (topic 1: the id).
INBOX_DELIVERED = HexBytes(Web3.keccak(text="MessageDelivered(bytes32,uint32,address,address)"))
INBOX_FAILED = HexBytes(Web3.keccak(text="MessageFailed(bytes32,uint32,address,address,bytes)"))
INBOX_ALREADY_CONSUMED = HexBytes(Web3.keccak(text="MessageAlreadyConsumed(bytes32,address)"))
INBOX_REJECTED = HexBytes(Web3.keccak(text="MessageRejected(bytes32,address,bytes)"))
MAX_WAIT_SECONDS = 30.0  # the longest pause between two looks at a waiting message
DIGEST_CACHE = 10_000
# A step that handles more messages than this (a backlog) logs one line for them all,
# and each message's own line at debug level only.
LOG_EACH_UP_TO = 20
TX_BASE_GAS = 21_000  # every transaction's intrinsic gas
# After a delivery sent without its pre-flight reverted on chain, every delivery is
# pre-flighted again for this long (RelayRoute._needs_preflight).
PREFLIGHT_AFTER_REVERT_SECONDS = 60.0
# What a deliver step takes the inbox to hold for a message it did not read (one waiting
# for another attester's turn, RelayRoute._to_read): not consumed, nobody, no block.
NOT_READ = InboxRecord(DeliveryStatus.NONE, "0x" + "00" * 20, 0)


class StoreVerifier:
    """The quorum's Verifier for one route: recovers a signer from a message id by
    looking the message up in the store (the typed data covers the whole message).
    Digests are kept by message id (an id is the keccak of the message's bytes)."""

    def __init__(self, store: Store, inbox: InboxDomain) -> None:
        self.store = store
        self.inbox = inbox
        self._digests: dict[bytes, bytes] = {}

    def signed(self, message: Message) -> bytes:
        """The EIP-712 digest attesters sign for `message` (computed once per message)."""
        key = message.id
        if key not in self._digests:
            if len(self._digests) >= DIGEST_CACHE:
                self._digests.clear()
            self._digests[key] = digest(message, self.inbox)
        return self._digests[key]

    def _digest_of(self, message_id: bytes) -> bytes:
        if (known := self._digests.get(message_id)) is not None:
            return known
        record = self.store.get("0x" + message_id.hex())
        if record is None:
            raise ValueError("unknown message: not seen by this attester yet")
        message = Message.decode(record.message)
        if message.id != message_id:
            raise ValueError("the store holds another message under this id")
        return self.signed(message)

    def recover(self, message_id: bytes, signature: bytes) -> str:
        return recover_digest(self._digest_of(bytes(message_id)), signature)


@dataclass(frozen=True)
class RouteSettings:
    confirmations: int = 0
    chunk_blocks: int = 2_000
    rescan_margin: int = 0  # blocks re-read below the checkpoint at start
    batch_size: int = 50  # most messages in one deliverBatch
    attest_batch: int = 100  # most messages checked and signed in one attest step
    # Attesters take turns to submit a message (the first in turn is picked by the
    # message id); the others wait this many seconds per place in the queue (counted
    # from when they held a quorum, and from the first one's last landed delivery)
    # before they submit too, so one delivery is paid for, not one per attester.
    submit_turn_seconds: float = 2.0
    # The destination chain's confirmation depth (its own chain's `confirmations`): a
    # delivery is confirmed once its block is this deep and its hash re-checked.
    destination_confirmations: int = 0
    # Seconds between two sweeps while running (the first tick always sweeps): dead
    # messages still open on chain, and confirmed ones whose delivery left the chain.
    sweep_interval: float = 300.0
    # Blocks of outbox logs a sweep reads, ending at the checkpoint (pvd.relayer.sweep):
    # what it costs does not grow with the chain.
    sweep_window: int = SWEEP_WINDOW_BLOCKS
    # Alert on a Delivered outcome still undelivered this many seconds before its hold
    # expires (the seller is refunded at expiry); looked at every expiry_check_interval.
    expiry_alert_seconds: float = 3_600.0
    expiry_check_interval: float = 5.0
    # Pre-flight (eth_call) every delivery, even a batch the route may send without one
    # (RelayRoute._needs_preflight): what the relayer did before the pre-flight could be
    # skipped; for tests and comparisons.
    preflight_every_delivery: bool = False


class RelayRoute:
    """One direction (payment -> business, or back) for one attester."""

    def __init__(
        self,
        route: Route,
        source: ChainEnd,
        destination: ChainEnd,
        store: Store,
        attesters: Sequence[Signer],
        quorum: Callable[[StoreVerifier], QuorumClient],
        sender: Sender,
        metrics: RelayerMetrics,
        settings: RouteSettings,
        retry: RetryPolicy,
        rng: random.Random | None = None,
    ) -> None:
        self.route = route
        self.source = source
        self.destination = destination
        self.store = store
        self.attesters = tuple(attesters)
        self.sender = sender
        self.metrics = metrics
        self.settings = settings
        self.backoff = Backoff(retry, rng or random.Random())
        self.logs = LogSource(
            source.chain.w3, source.outbox.address, HexBytes(MESSAGE_SENT), settings.chunk_blocks
        )
        chain_id = destination.chain.w3.eth.chain_id
        # The deployment id is the inbox's own (bound into what attesters sign).
        deployment_id = destination.inbox.functions.deploymentId().call()
        self.inbox_domain = InboxDomain(
            chain_id, destination.inbox.address, destination.domain, deployment_id
        )
        self.verifier = StoreVerifier(store, self.inbox_domain)
        self.quorum = quorum(self.verifier)
        self.log = relay_logger("pvd.relayer.route", route=route.value)
        self.judge = RevertJudge.for_abis(
            [c.abi for end in (source, destination) for c in (end.inbox, *end.apps.values())]
        )
        self.retry = retry
        self._first_scan = True
        self._swept = False
        self.more_to_attest = False  # the last attest step left seen messages for the next
        self._ready_at: dict[str, float] = {}  # when this relayer first held a quorum
        self._progress_at: dict[str, float] = {}  # first-in-turn attester -> last landed
        self._swept_at = 0.0  # time.monotonic() of the last sweep
        self._expiries_checked_at: float | None = None
        self._alerted: dict[str, float] = {}  # message id -> when its expiry was last logged
        self._gas_per_message: int | None = None  # most a delivered message has used
        # message kinds a delivery of that kind alone was mined for at the learned limit
        self._proved_kinds: set[int] = set()
        self._unchecked: set[str] = set()  # tx hashes of deliveries sent without pre-flight
        self._reverted_at: float | None = None  # monotonic: a delivery last reverted on chain
        # the source chain's latest head as its subscription announced it (None: ask the
        # node); set by the Relayer for a subscribed chain
        self.head_hint: Callable[[], int | None] | None = None
        self._block_gas_limit: int | None = None
        self._attesters: AttesterSet | None = None  # the inbox's, as the last step read them
        # the destination block through which the inbox's delivery events were read (None:
        # the next deliver step reads every signed message's record, and the head)
        self._events_after: int | None = None

    # --- 0. sweep (first tick only) ---------------------------------------------------

    def sweep(self) -> SweepReport:
        """Make the store agree with both chains about this route's open messages
        (pvd.relayer.sweep). The first tick runs it before its scan; safe to repeat."""
        report = sweep_route(
            self.route,
            self.source,
            self.destination,
            self.store,
            self.logs,
            self.settings.confirmations,
            self.log,
            self.settings.destination_confirmations,
            self.settings.sweep_window,
        )
        for _mid in report.lost:
            self.metrics.count_lost(self.route)
        if report.lost:  # our own delivery may have gone with the blocks: recount nonces
            self.sender.sync_nonce()
        self._swept = True
        self._swept_at = time.monotonic()
        return report

    # --- 1. scan ------------------------------------------------------------------------

    def scan(self) -> list[str]:
        """Store the messages of the confirmed blocks not yet scanned; the new ids."""
        found = self._scan_reads()
        if found is None:
            return []
        seen_logs, head, block_hash = found
        domain = self.destination.domain
        seen = [s for log in seen_logs if (s := seen_message(log, domain, self.log)) is not None]
        checkpoint = self.store.checkpoint(self.route)
        if checkpoint is not None and head < checkpoint.block:
            # a first scan after `confirmations` was raised (re-reading below the
            # checkpoint): keep what it found, leave the checkpoint where it is
            new = self.store.record_scan(self.route, seen)
        else:
            new = self.store.record_scan(self.route, seen, head, block_hash)
        self.metrics.set_lag(self.route.source, head + self.settings.confirmations, head)
        by_id = {m.message_id: m.message for m in seen}
        self._log_messages("seen", [(mid, by_id[mid]) for mid in new], {"chain": self.source.name})
        return new

    def _log_messages(
        self,
        text: str,
        messages: Sequence[tuple[str, bytes]],
        fields: dict[str, object] | None = None,
    ) -> None:
        """Log what a step did to `messages` (id, encoding): one info line each (with its
        kind and trade id) in a step of at most LOG_EACH_UP_TO of them; in a larger step
        (a backlog) one info line with their count, and the line of each at debug level
        (a log line costs a relayer as much CPU as checking the message)."""
        extra = fields or {}
        level = logging.INFO
        if len(messages) > LOG_EACH_UP_TO:
            self.log.info(
                "%s: %d messages", text, len(messages), extra=extra | {"count": len(messages)}
            )
            if not self.log.isEnabledFor(logging.DEBUG):
                return
            level = logging.DEBUG
        for mid, encoded in messages:
            self.log.log(level, text, extra=message_fields(mid, encoded) | extra)

    def _scan_reads(self) -> tuple[list[ObservedLog], int, str] | None:
        """(the outbox's MessageSent logs from the scan start to the confirmed head, that
        head, its block hash), or None when there is nothing new to read.

        The chain head is the subscription's latest head where it has one (no round trip;
        a head it has not announced yet wakes the worker when it comes), else
        eth_blockNumber. One chunk's logs and the head's hash are read in one JSON-RPC
        batch where the node allows."""
        depth = self.settings.confirmations
        hinted = self.head_hint() if self.head_hint is not None else None
        checkpoint = self.store.checkpoint(self.route)
        if hinted is not None and checkpoint is not None:
            if hinted - depth < checkpoint.block:
                hinted = None  # the announcement lags the checkpoint: ask the node
            elif hinted - depth == checkpoint.block and not self._first_scan:
                return None  # the latest head announced is scanned already
        w3 = self.source.chain.w3
        fast = speaks_json_rpc(w3)
        if hinted is not None:
            chain_head = hinted
        elif fast:
            chain_head = rpc_int(rpc_batch(w3, [("eth_blockNumber", [])])[0])
        else:
            chain_head = int(w3.eth.block_number)
        head = chain_head - depth
        start = self._scan_start(head)
        if head < start:
            return None
        if fast and head - start < self.settings.chunk_blocks:
            where = {
                "address": self.source.outbox.address,
                "topics": [HexBytes(MESSAGE_SENT).to_0x_hex()],
                "fromBlock": hex(start),
                "toBlock": hex(head),
            }
            raw_logs, block = rpc_batch(
                w3, [("eth_getLogs", [where]), ("eth_getBlockByNumber", [hex(head), False])]
            )
            if block is not None:
                logs = sorted(
                    (ObservedLog.from_receipt(log) for log in raw_logs),
                    key=lambda log: (log.block_number, log.log_index),
                )
                return logs, head, HexBytes(block["hash"]).to_0x_hex()
            # the announced head is not on the node (a reorg to a shorter chain): read
            # it as the node has it
            self._first_scan = False
            return self._scan_reads_slow()
        return list(self.logs.logs(start, head)), head, self._block_hash(head)

    def _scan_reads_slow(self) -> tuple[list[ObservedLog], int, str] | None:
        head = self.logs.confirmed_head(self.settings.confirmations)
        start = self._scan_start(head)
        if head < start:
            return None
        return list(self.logs.logs(start, head)), head, self._block_hash(head)

    def _block_hash(self, number: int) -> str:
        return HexBytes(self.source.chain.w3.eth.get_block(number)["hash"]).to_0x_hex()

    def _scan_start(self, head: int) -> int:
        checkpoint = self.store.checkpoint(self.route)
        if checkpoint is None:
            # a new store reads from the deployment: the next scan goes on from the
            # checkpoint this one sets (re-reading the rescan margin then would decode
            # a backlog's logs twice)
            self._first_scan = False
            return self.source.outbox_block
        chain_head = head + self.settings.confirmations
        if checkpoint.block > chain_head:
            raise UnrecoverableError(
                f"{self.source.name} chain: the store's checkpoint {checkpoint.block} is ahead "
                f"of the chain head {chain_head}: the chain was reset; use a new store"
            )
        start = checkpoint.block + 1
        if self._first_scan:
            self._first_scan = False
            start = max(self.source.outbox_block, start - self.settings.rescan_margin)
        return start

    # --- 2. attest ----------------------------------------------------------------------

    def attest(self) -> int:
        """Sign every message seen and backed by its source's state; how many were
        signed. Signatures are stored in one transaction.

        The destination inbox is asked only about the messages the step would otherwise
        fail (their log's block left the chain, or the source state disagrees): one the
        inbox already consumed (another relayer was faster, or this store is new) is
        confirmed instead, whatever its source says now (a hold executed since no
        longer backs its PAYMENT_HELD). A consumed message the source still backs is
        signed, and the deliver step, which reads the inbox before anything is sent,
        confirms it: in a backlog no message is consumed yet when it is checked, and
        reading each one's inbox record here cost the destination node more than all
        the delivery transactions."""
        # at most attest_batch per step, so that a backlog's first deliveries need not
        # wait for every message to be checked and signed (the worker ticks again at once)
        batch = self.settings.attest_batch
        seen = self.store.actionable(self.route, limit=batch + 1, stages=(Stage.SEEN,))
        self.more_to_attest = len(seen) > batch
        seen = seen[: self.settings.attest_batch]
        if not seen:
            return 0
        hashes = self._block_hashes(self.source, sorted({r.source.block for r in seen}))
        canonical: list[tuple[MessageRecord, Message]] = []
        reorged: list[MessageRecord] = []
        for record in seen:
            if hashes[record.source.block].to_0x_hex() != record.source.block_hash:
                reorged.append(record)
            else:
                canonical.append((record, Message.decode(record.message)))
        verdicts = source_disagreements(
            self.source,
            self.destination,
            [(message, record.source.block) for record, message in canonical],
        )
        refused = [
            (r, reason) for (r, _), reason in zip(canonical, verdicts, strict=True) if reason
        ]
        consumed = self._consumed([*reorged, *(r for r, _ in refused)])
        for record in reorged:
            if record.message_id not in consumed:
                self._fail(record, "source_reorged", "the log's block left the chain")
                self._first_scan = True  # rescan from below the checkpoint
        for record, reason in refused:
            if record.message_id not in consumed:
                self.log.error("refusing to attest: %s", reason, extra=self.about(record))
                self._fail(record, "source_state_disagrees", reason, recoverable=False)
        signed: dict[str, dict[str, bytes]] = {}
        for (record, message), verdict in zip(canonical, verdicts, strict=True):
            if not verdict:
                typed = self.verifier.signed(message)
                signed[record.message_id] = {a.address: a.sign_hash(typed) for a in self.attesters}
        # to the peers first (the one whose turn it is waits for them; the push runs in
        # the background), then into the store: a signature is deterministic (RFC 6979),
        # so an attester that stops in between signs the very same bytes again
        for attester in self.attesters:
            mine = {mid: by[attester.address] for mid, by in signed.items()}
            self.quorum.push(attester.address, mine, self.route)
        self.store.mark_all_signed(signed)
        self._log_messages(
            "signed", [(r.message_id, r.message) for r, _ in canonical if r.message_id in signed]
        )
        return len(signed)

    def _consumed(self, records: Sequence[MessageRecord]) -> set[str]:
        """The ids of `records` the destination inbox holds as delivered (one batched
        read), each confirmed at the destination's depth (_observe_deliveries)."""
        if not records:
            return set()
        on_inbox = inbox_records(self.destination, {r.message_id: r.message for r in records})
        self._observe_deliveries(records, on_inbox)
        return {
            r.message_id
            for r in records
            if on_inbox[r.message_id].status is DeliveryStatus.DELIVERED
        }

    def _block_hashes(self, end: ChainEnd, numbers: list[int]) -> dict[int, HexBytes]:
        """`end`'s canonical hash of each block number (one round trip). RecoverableError
        if one is beyond its node's head (the chain got shorter since the number was read:
        a reorg under this step, which the next tick reads afresh)."""
        w3 = end.chain.w3
        if numbers and speaks_json_rpc(w3):
            blocks = rpc_batch(w3, [("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
            hashes = {
                n: HexBytes(b["hash"])
                for n, b in zip(numbers, blocks, strict=True)
                if b is not None
            }
        else:
            hashes = block_hashes(w3, numbers)
        missing = [n for n in numbers if n not in hashes]
        if missing:
            raise RecoverableError(
                f"{end.name} chain: blocks {missing[:5]} are not on the node now"
            )
        return hashes

    # --- 3. deliver ---------------------------------------------------------------------

    def deliver(self) -> int:
        """Deliver (or retry on the inbox) every signed message that can go now.

        The submit order of a message is a property of the message: its id picks the
        first attester of the set (sorted by address), the others follow in order
        (`_place_in_turn`), so every relayer agrees without talking. The first submits
        as soon as it holds a quorum; the one at place k only when the message is still
        not consumed k x submit_turn_seconds after both the moment it held a quorum and
        the last delivery it saw of a message that attester was first for (while the
        first keeps landing messages, the others hold back)."""
        signed = self.store.actionable(self.route, stages=(Stage.SIGNED, Stage.SUBMITTED))
        if not signed:
            self._events_after = None  # nothing to follow: start afresh with the next
            return 0
        now = time.monotonic()
        events = None
        if self._events_after is not None:
            events = delivery_events(self.destination, self._events_after)
        to_read, known = self._to_read(signed, now, events)
        # the inbox knows best (another attester may have delivered a message, or a
        # store may be new): one batched read, with its current attester set and
        # threshold, before anything is sent
        view = inbox_view(
            self.destination,
            {r.message_id: r.message for r in to_read},
            with_head=events is None,
        )
        self._events_after = events.head if events is not None else view.head
        attesters = AttesterSet.of(view.attesters, view.threshold)
        self._attesters = attesters
        # a message neither read nor seen delivered waits for another attester's turn:
        # taken as not consumed, it still counts its quorum (when it held one starts its
        # turn's clock), and is read before anything is sent for it, once its turn comes
        on_inbox = dict.fromkeys((r.message_id for r in signed), NOT_READ)
        on_inbox |= view.records | known
        for record in signed:
            delivered = on_inbox[record.message_id].status is DeliveryStatus.DELIVERED
            if delivered and self._ready_at.pop(record.message_id, None) is not None:
                # landed while this relayer waited: its first in turn makes progress
                self._progress_at[self._first_in_turn(record, attesters)] = now
        self._observe_deliveries(signed, on_inbox)
        waiting: list[MessageRecord] = []
        for record in signed:
            found = on_inbox[record.message_id]
            if found.status is DeliveryStatus.DELIVERED:
                continue
            if record.included is not None:  # it was on the destination, and is no more
                self._lost(record, found)
            if found.status is DeliveryStatus.FAILED:
                self._retry_on_inbox(record)
                continue
            if found is NOT_READ and record.message_id in self._ready_at:
                continue  # its quorum was counted: nothing to do before its turn
            waiting.append(record)
        quorums = self.quorum.collect_many([r.message_id for r in waiting], attesters, self.route)
        ready: list[tuple[MessageRecord, Message, Quorum]] = []
        turns = 0  # how many of `ready` are not this relayer's first turn
        late: set[str] = set()  # ids of those
        for record in waiting:
            quorum = quorums.get(record.message_id)
            if quorum is None:
                continue
            ready_at = self._ready_at.setdefault(record.message_id, now)
            place = self._place_in_turn(record, attesters)
            if place:
                since = max(
                    ready_at, self._progress_at.get(self._first_in_turn(record, attesters), 0)
                )
                if now - since < place * self.settings.submit_turn_seconds:
                    continue  # not this relayer's turn yet
                turns += 1
                late.add(record.message_id)
            ready.append((record, Message.decode(record.message), quorum))
        size = self.settings.batch_size
        # Until a delivery has taught this route its gas per message, a batch would need
        # eth_estimateGas, which runs the whole batch once per step of a binary search:
        # the first delivery goes alone (quick to estimate), the rest at the learned limit.
        cuts = [0, 1] if self._gas_per_message is None and len(ready) > 1 else [0]
        cuts += list(range(cuts[-1] + size, len(ready), size))
        # Every batch is sent before any receipt is awaited: the node mines them while the
        # next is prepared; the receipts are read after the last send (a route that has
        # not learned its gas yet waits for its first delivery's, to learn from it).
        in_flight: list[tuple[list[tuple[MessageRecord, Message, Quorum]], SentTx]] = []
        for start, end in zip(cuts, [*cuts[1:], len(ready)], strict=True):
            batch = ready[start:end]
            if start and turns:  # the first in turn may have landed some meanwhile
                batch = self._still_open(batch)
            if not batch:
                continue
            sent = self._send(batch, self._needs_preflight(batch, late))
            if sent is None:
                continue
            if self._gas_per_message is None:
                self._await_receipt(batch, sent)
            else:
                in_flight.append((batch, sent))
        for batch, sent in in_flight:
            self._await_receipt(batch, sent)
        return len(ready)

    def _to_read(
        self, signed: list[MessageRecord], now: float, events: DeliveryEvents | None
    ) -> tuple[list[MessageRecord], dict[str, InboxRecord]]:
        """Which signed messages a deliver step reads the inbox record of (`deliveryStatus`)
        and what it knows of the others without a read: (to read, id -> record known).

        Without the inbox's delivery events of the new blocks (`events` None: the first
        step, or one after the chain went below the last block read), every message is
        read. Otherwise a message the events show Delivered (or Retried) is known from
        its last event, and of the rest only those are read that this relayer may submit
        now (its turn, or its place's wait is over, by the last attester set read), that
        it sent, that were seen on the inbox before (included, to re-check at the depth)
        or that the events show Failed. A message waiting for another attester's turn
        gains nothing from being read: in a backlog those are two thirds of the signed
        messages, and the destination node's CPU went to reading them at every step."""
        attesters = self._attesters
        if attesters is None or events is None:
            return signed, {}
        to_read: list[MessageRecord] = []
        known: dict[str, InboxRecord] = {}
        for record in signed:
            mid = record.message_id
            fresh = (
                record.stage is Stage.SIGNED
                and record.condition is Condition.OPEN
                and record.included is None
            )
            if fresh and (found := events.delivered.get(mid)) is not None:
                known[mid] = found
            elif (
                not fresh
                or mid in events.failed
                or self._turn_wait_left(record, attesters, now) <= 0
            ):
                to_read.append(record)
        return to_read, known

    def _turn_wait_left(self, record: MessageRecord, attesters: AttesterSet, now: float) -> float:
        """Seconds until this relayer's place lets it submit `record` (0 or less: now);
        a message without a quorum yet counts from now."""
        place = self._place_in_turn(record, attesters)
        if not place:
            return 0.0
        since = max(
            self._ready_at.get(record.message_id, now),
            self._progress_at.get(self._first_in_turn(record, attesters), 0),
        )
        return place * self.settings.submit_turn_seconds - (now - since)

    def _still_open(
        self, batch: list[tuple[MessageRecord, Message, Quorum]]
    ) -> list[tuple[MessageRecord, Message, Quorum]]:
        """The messages of `batch` the destination inbox has not consumed (re-read now);
        the next deliver step confirms the others as usual."""
        on_inbox = inbox_records(self.destination, {r.message_id: r.message for r, _, _ in batch})
        return [
            item for item in batch if on_inbox[item[0].message_id].status is DeliveryStatus.NONE
        ]

    def _first_in_turn(self, record: MessageRecord, attesters: AttesterSet) -> str:
        members = sorted(attesters.members, key=lambda a: int(a, 16))
        return members[int(record.message_id, 16) % len(members)]

    def _place_in_turn(self, record: MessageRecord, attesters: AttesterSet) -> int:
        """This relayer's place in the queue of attesters for submitting a message: 0 if
        one of its keys is first (picked by the message id), else how many go before."""
        members = sorted(attesters.members, key=lambda a: int(a, 16))
        first = int(record.message_id, 16) % len(members)
        places = [
            (members.index(a.address) - first) % len(members)
            for a in self.attesters
            if a.address in attesters.members
        ]
        return min(places, default=len(members))

    def _needs_preflight(
        self, batch: list[tuple[MessageRecord, Message, Quorum]], late: set[str]
    ) -> bool:
        """Whether a delivery of `batch` is pre-flighted (`eth_createAccessList` or
        `eth_call`, which runs the whole delivery once more on the destination node) before
        it is sent; only a pre-flighted delivery gets an access list. It is not when all of
        these hold, so a revert on chain is unlikely and its gas small:

        - the route has learned its gas per message, and a delivery of each kind in the
          batch, that kind alone, was mined at it (the learned limit covers the kind);
        - it is a `deliverBatch` of several messages: the inbox skips a message that fails
          verification (MessageRejected) or was consumed already (MessageAlreadyConsumed)
          and goes on; it reverts as a whole only when a recipient would run short of gas
          (InboxRecipientOutOfGas) or the calldata is malformed. A lone `deliver` reverts
          on any verification failure;
        - this relayer is first in turn for every message of it: a later turn means the
          first did not land them, something unusual worth a pre-flight;
        - no delivery of this route reverted on chain in the last
          PREFLIGHT_AFTER_REVERT_SECONDS (then everything is pre-flighted for a while).

        A delivery sent without one that reverts costs the gas it used before the revert
        (at most its gas limit); its messages are failed attempts, retried with backoff,
        and pre-flighted then."""
        if self.settings.preflight_every_delivery or self._gas_per_message is None:
            return True
        if len(batch) < 2 or any(record.message_id in late for record, _, _ in batch):
            return True
        if any(int(message.kind) not in self._proved_kinds for _, message, _ in batch):
            return True
        reverted = self._reverted_at
        return reverted is not None and time.monotonic() - reverted < PREFLIGHT_AFTER_REVERT_SECONDS

    def _send(
        self, batch: list[tuple[MessageRecord, Message, Quorum]], preflight: bool = True
    ) -> SentTx | None:
        """Pre-flight (unless told not to, `_needs_preflight`) and send one delivery of
        `batch` (marked submitted); None if nothing was sent (each message's failure is
        recorded)."""
        inbox = self.destination.inbox
        messages = [record.message for record, _, _ in batch]
        signatures = [b"".join(q.signatures) for _, _, q in batch]
        if len(batch) == 1:
            data = call_data(inbox, "deliver", [messages[0], signatures[0]])
        else:
            data = call_data(
                inbox, "deliverBatch", [batch_messages(messages), batch_signatures(signatures)]
            )
        ids = [record.message_id for record, _, _ in batch]
        try:
            sent = self._submit(data, len(batch), preflight)
        except PreflightReverted as exc:
            for record, _, _ in batch:
                self._reverted(record, exc.data, _code(exc), "the delivery's pre-flight")
            return None
        except RecoverableError as exc:
            for record, _, _ in batch:
                self._fail(record, _code(exc), str(exc))
            return None
        self.store.mark_submitted(ids, sent.tx_hash, sent.nonce)
        return sent

    def _await_receipt(
        self, batch: list[tuple[MessageRecord, Message, Quorum]], sent: SentTx
    ) -> None:
        """The receipt of a sent delivery, and what the inbox did with each message."""
        unchecked = sent.tx_hash in self._unchecked
        self._unchecked.discard(sent.tx_hash)
        try:
            mined = self.sender.wait(sent)
        except RecoverableError as exc:
            for record, _, _ in batch:
                self._fail(record, _code(exc), str(exc))
            return
        if not mined.succeeded:  # reverted on chain, and paid for: learn nothing from it
            how = "without a pre-flight" if unchecked else "after its pre-flight passed"
            self.log.warning(
                "delivery of %d messages reverted on chain (sent %s; gas used %d); "
                "pre-flighting every delivery for %g s",
                len(batch),
                how,
                mined.gas_used,
                PREFLIGHT_AFTER_REVERT_SECONDS,
                extra={"tx_hash": mined.tx_hash, "block": mined.block_number},
            )
            self._reverted_at = time.monotonic()
            for record, _, _ in batch:
                self._fail(record, "delivery_reverted", f"{mined.tx_hash} reverted ({how})")
            return
        self._learn_gas(mined, len(batch))
        kinds = {int(message.kind) for _, message, _ in batch}
        if len(kinds) == 1:  # the learned limit is proved for this kind
            self._proved_kinds |= kinds
        self._settle(batch, mined)

    def _submit(self, data: bytes, count: int, preflight: bool = True) -> SentTx:
        """Send a delivery of `count` messages. With a gas limit learned from earlier
        deliveries, the pre-flight simulation runs at that limit and proves it (the inbox
        reverts, InboxRecipientOutOfGas, rather than record a recipient starved of gas),
        so no estimate is needed: eth_estimateGas runs the batch once per step of a binary
        search. A pre-flight that fails at the learned limit (too little gas, or a real fault
        the estimate's own pre-flight then reports) falls back to an estimate. Without
        `preflight` (`_needs_preflight`), a delivery at the learned limit is sent as it is."""
        address = self.destination.inbox.address
        learned = self._learned_gas_limit(count)
        if learned is not None and not preflight:
            sent = self.sender.send(Call(address, data, gas=learned), preflight=False)
            self._unchecked.add(sent.tx_hash)
            return sent
        if learned is not None:
            try:  # the pre-flight at the learned limit goes with the fee reads (one batch)
                return self.sender.send(Call(address, data, gas=learned))
            except (PreflightReverted, RpcRejected) as exc:  # nothing was sent
                self.log.debug("pre-flight at the learned gas limit %d failed: %s", learned, exc)
        return self.sender.send(Call(address, data))

    def _learned_gas_limit(self, count: int) -> int | None:
        if self._gas_per_message is None:
            return None
        if self._block_gas_limit is None:
            latest = self.destination.chain.w3.eth.get_block("latest")
            self._block_gas_limit = int(latest["gasLimit"])
        margin = 100 + self.sender.settings.gas_margin_percent
        limit = TX_BASE_GAS + count * self._gas_per_message * margin // 100
        return limit if limit <= self._block_gas_limit else None

    def _learn_gas(self, mined: Mined, count: int) -> None:
        per_message = -(-(mined.gas_used - TX_BASE_GAS) // count)  # rounded up
        self._gas_per_message = max(self._gas_per_message or 0, per_message)

    def _settle(self, batch: list[tuple[MessageRecord, Message, Quorum]], mined: Mined) -> None:
        """What the inbox did with each message of a mined delivery, from its events."""
        outcome: dict[bytes, tuple[HexBytes, HexBytes]] = {
            bytes(log.topics[1]): (log.topics[0], log.data)
            for log in mined.logs
            if log.address == self.destination.inbox.address and len(log.topics) > 1
        }
        delivered: list[MessageRecord] = []
        for record, message, _ in batch:
            event, data = outcome.get(message.id, (None, HexBytes(b"")))
            if event == INBOX_DELIVERED:
                delivered.append(record)
            elif event == INBOX_ALREADY_CONSUMED:
                # another attester delivered it first: the next tick reads the inbox's
                # record of it (delivered: confirmed at the depth; failed: retried there)
                self.log.info("already consumed by another delivery", extra=self.about(record))
            elif event == INBOX_FAILED:  # consumed, but the recipient reverted: held as Failed
                (_deliverer, reason) = abi_decode(["address", "bytes"], bytes(data))
                self._reverted(record, bytes(reason), "recipient_failed", "the recipient")
            elif event == INBOX_REJECTED:  # a batch skipped it: verification failed
                (reason,) = abi_decode(["bytes"], bytes(data))
                self._reverted(record, bytes(reason), "rejected", "the inbox's verification")
            else:
                self._fail(record, "not_consumed", f"{mined.tx_hash} did not consume it")
        self._included(delivered, mined)

    def _retry_on_inbox(self, record: MessageRecord) -> None:
        """The inbox holds the message as verified-but-failed: retry it there (anyone may)."""
        inbox = self.destination.inbox
        call = Call(inbox.address, HexBytes(inbox.encode_abi("retry", [record.message])))
        try:
            mined = self.sender.send_and_wait(call)
        except PreflightReverted as exc:
            self._reverted(record, exc.data, "inbox_retry_" + _code(exc), "the inbox's retry")
            return
        except RecoverableError as exc:
            self._fail(record, "inbox_retry_" + _code(exc), str(exc))
            return
        self._included([record], mined)

    # --- the destination's word on a delivery, and its confirmation depth --------------

    def _included(self, records: Sequence[MessageRecord], mined: Mined) -> None:
        """This relayer's own transaction delivered these messages (in `mined`)."""
        inclusion = Inclusion(
            mined.block_number, mined.block_hash, self.sender.address, mined.tx_hash
        )
        if self.settings.destination_confirmations == 0:
            self._confirmed([(record, inclusion) for record in records])
            return
        for record in records:
            self.store.mark_included(record.message_id, inclusion)
            self.log.info(
                "included, waiting for %d confirmations",
                self.settings.destination_confirmations,
                extra=self.about(record) | {"tx_hash": mined.tx_hash, "block": mined.block_number},
            )

    def _observe_deliveries(
        self, records: Sequence[MessageRecord], on_inbox: dict[str, InboxRecord]
    ) -> None:
        """Messages the destination inbox holds as delivered: confirm each whose block is
        at the destination's depth with its hash unchanged since it was first seen (or
        that is first seen already at the depth); remember where the others are."""
        delivered = [
            (r, on_inbox[r.message_id])
            for r in records
            if on_inbox[r.message_id].status is DeliveryStatus.DELIVERED
        ]
        if not delivered:
            return
        depth = self.settings.destination_confirmations
        if depth == 0:  # final at inclusion: nothing to re-check later
            self._confirmed(
                [
                    (record, Inclusion(found.block, "", found.deliverer, None))
                    for record, found in delivered
                ]
            )
            return
        w3 = self.destination.chain.w3
        head = int(w3.eth.block_number)
        hashes = self._block_hashes(
            self.destination, sorted({found.block for _, found in delivered})
        )
        final: list[tuple[MessageRecord, Inclusion]] = []
        for record, found in delivered:
            seen_at = Inclusion(found.block, hashes[found.block].to_0x_hex(), found.deliverer, None)
            before = record.included
            same = before is not None and (before.block, before.block_hash) == (
                seen_at.block,
                seen_at.block_hash,
            )
            if head - found.block < depth:
                if not same:
                    self.store.mark_included(record.message_id, seen_at)
                continue
            if before is not None and not same:
                # the block it was seen in was replaced (a reorg): the delivery is in
                # another block now; re-check it there, at the depth
                self.log.warning(
                    "delivery moved from block %d to %d: re-checking",
                    before.block,
                    found.block,
                    extra=self.about(record),
                )
                self.store.mark_included(record.message_id, seen_at)
                continue
            tx_hash = before.tx_hash if before is not None else None
            final.append((record, replace_tx(seen_at, tx_hash)))
        self._confirmed(final)

    def _lost(self, record: MessageRecord, found: InboxRecord) -> None:
        """A delivery seen on the destination is no longer there: deliver it again."""
        was = record.included
        assert was is not None
        self.metrics.count_lost(self.route)
        self.store.mark_lost(
            record.message_id,
            f"delivery_lost: block {was.block} ({was.block_hash}) no longer holds it "
            f"(inbox: {found.status.name})",
        )
        self.log.warning(
            "delivery in block %d left the destination chain (a reorg?): delivering again",
            was.block,
            extra=self.about(record) | {"block_hash": was.block_hash},
        )
        # a transaction of ours may have gone with it (and the nonce it used is free
        # again): recount this gas key's nonce from the node before sending anything
        self.sender.sync_nonce()

    def _confirmed(self, confirmed: Sequence[tuple[MessageRecord, Inclusion]]) -> None:
        """Confirm these messages at their inclusions: one store transaction for all."""
        if not confirmed:
            return
        self.store.mark_all_confirmed(
            [(r.message_id, inclusion.tx_hash, inclusion.block) for r, inclusion in confirmed]
        )
        me = self.sender.address.lower()
        now = time.time()
        each = len(confirmed) <= LOG_EACH_UP_TO or self.log.isEnabledFor(logging.DEBUG)
        level = logging.INFO if len(confirmed) <= LOG_EACH_UP_TO else logging.DEBUG
        mine = 0
        for record, inclusion in confirmed:
            self._ready_at.pop(record.message_id, None)
            self.metrics.count_confirmed(self.route)
            by_me = inclusion.deliverer.lower() == me
            if by_me:
                self.metrics.count_relayed(self.route)
                mine += 1
            self.metrics.observe_latency(self.route, max(0.0, now - record.first_seen))
            if each:
                self.log.log(
                    level,
                    "delivered" if by_me else "confirmed (delivered by %s)",
                    *(() if by_me else (inclusion.deliverer,)),
                    extra=self.about(record)
                    | {"tx_hash": inclusion.tx_hash, "block": inclusion.block},
                )
        if len(confirmed) > LOG_EACH_UP_TO:  # a backlog's step: one line for all of them
            for text, count in (("delivered", mine), ("confirmed", len(confirmed) - mine)):
                if count:
                    what = "delivered by this relayer" if text == "delivered" else "by others"
                    self.log.info("%s: %d messages (%s)", text, count, what, extra={"count": count})

    # --- failures -----------------------------------------------------------------------

    def _reverted(self, record: MessageRecord, data: bytes, code: str, where: str) -> None:
        """A revert with `data`: waiting (a pause, a freeze) or a failed attempt."""
        verdict = self.judge.judge(data)
        if verdict.waiting:
            self._wait(record, verdict)
        else:
            self._fail(record, code, f"{where} reverted: {verdict}")

    def _wait(self, record: MessageRecord, verdict: RevertVerdict) -> None:
        """Not an attempt: look again after a short wait, for as long as it lasts."""
        self.metrics.count_wait(self.route, verdict.code)
        delay = min(self.retry.max_delay, MAX_WAIT_SECONDS)
        updated = self.store.record_wait(record.message_id, f"{verdict.code}: {verdict}", delay)
        if record.condition is not Condition.WAITING and updated.condition is Condition.WAITING:
            self.log.warning(
                "waiting: %s (not a failed attempt; looking again every %g s)",
                verdict,
                delay,
                extra=self.about(record) | {"reason": verdict.code},
            )

    def _fail(
        self, record: MessageRecord, code: str, detail: str, *, recoverable: bool = True
    ) -> None:
        """Count a failed attempt; retry later with backoff, or give up (dead) -- except
        an outcome whose hold is still executable, kept alive until its expiry."""
        self.metrics.count_failure(self.route, code)
        reason = f"{code}: {detail}"
        if recoverable:
            schedule: Backoff | KeptAlive = self.backoff
            if (left := self._hold_time_left(record)) is not None and left > 0:
                schedule = KeptAlive(self.backoff, min(self.retry.max_delay, left))
            updated = self.store.record_failure(record.message_id, reason, schedule)
            if updated.condition is not Condition.DEAD:
                self.log.warning("failed, will retry: %s", reason, extra=self.about(record))
                return
        else:
            self.store.mark_dead(record.message_id, reason)
        self.log.error("dead: %s", reason, extra=self.about(record))

    def _hold_time_left(self, record: MessageRecord) -> float | None:
        """For a TRADE_OUTCOME: seconds until its hold expires by the destination's
        clock (its latest block); None for other kinds."""
        body = _outcome(record)
        if body is None:
            return None
        now = int(self.destination.chain.w3.eth.get_block("latest")["timestamp"])
        return float(body.expiry - now)

    def check_expiries(self, now: float | None = None) -> tuple[int, float | None]:
        """Alert on Delivered outcomes not yet delivered (dead ones included) whose hold
        expires within `expiry_alert_seconds` by the destination's clock: the gauge
        pvd_relay_payouts_near_expiry and a log line per message (at most once a
        minute each). Returns (how many, seconds until the soonest expiry or None)."""
        waiting = [
            (record, body)
            for record in self.store.unconfirmed(self.route)
            if (body := _outcome(record)) is not None and body.outcome is Outcome.DELIVERED
        ]
        if not waiting:
            self.metrics.set_expiries(self.route, 0, None)
            self._alerted.clear()
            return 0, None
        chain_now = int(self.destination.chain.w3.eth.get_block("latest")["timestamp"])
        moment = time.monotonic() if now is None else now
        near = 0
        soonest: float | None = None
        for record, body in waiting:
            left = float(body.expiry - chain_now)
            soonest = left if soonest is None else min(soonest, left)
            if left > self.settings.expiry_alert_seconds:
                continue
            near += 1
            last = self._alerted.get(record.message_id)
            if last is None or moment - last >= 60.0:
                self._alerted[record.message_id] = moment
                self.log.error(
                    "ALERT: Delivered outcome undelivered, its hold expires in %d s (status "
                    "%s: %s); at expiry the buyer can take the money back",
                    left,
                    record.status,
                    record.fail_reason or "no failure recorded",
                    extra=self.about(record),
                )
        self.metrics.set_expiries(self.route, near, soonest)
        return near, soonest

    def about(self, record: MessageRecord) -> dict[str, object]:
        """The log fields that tie a line to its message and trade."""
        return message_fields(record.message_id, record.message)

    # --- all three ----------------------------------------------------------------------

    def tick(self) -> None:
        if not self._swept or time.monotonic() - self._swept_at >= self.settings.sweep_interval:
            self.sweep()
        self.scan()
        self.attest()
        self.deliver()
        if "PvdSettlement" in self.destination.apps:  # outcomes go to the payment chain
            checked = self._expiries_checked_at
            if checked is None or time.monotonic() - checked >= self.settings.expiry_check_interval:
                self._expiries_checked_at = time.monotonic()
                self.check_expiries()


@dataclass(frozen=True)
class KeptAlive:
    """A retry schedule that never gives up: the backoff's delay while it has one, then
    `ceiling` (the policy's longest delay, or less if the hold expires sooner)."""

    backoff: Backoff
    ceiling: float

    def next_delay(self, attempts: int) -> float | None:
        delay = self.backoff.next_delay(attempts)
        return self.ceiling if delay is None else min(delay, self.ceiling)


def replace_tx(inclusion: Inclusion, tx_hash: str | None) -> Inclusion:
    return Inclusion(inclusion.block, inclusion.block_hash, inclusion.deliverer, tx_hash)


def _outcome(record: MessageRecord) -> TradeOutcome | None:
    """The TRADE_OUTCOME body of a record, or None for other kinds."""
    try:
        body = Message.decode(record.message).decoded_body()
    except (MessageFormatError, ValueError):
        return None
    return body if isinstance(body, TradeOutcome) else None


def _code(exc: BaseException) -> str:
    """The short reason code of a pvd error (sender errors carry one), for metrics."""
    return str(getattr(exc, "reason", type(exc).__name__.lower()))
