"""One relay route: messages from the source chain's outbox to the destination chain's
inbox. A tick runs three idempotent steps, each driven by what the store and the chains
say now, so that a crash between any two of them loses nothing and repeats nothing:

1. scan    read MessageSent logs from the checkpoint up to the confirmation depth; store
           them as `seen` and move the checkpoint, in one transaction;
2. attest  for the `seen` messages: confirm those the destination inbox already consumed
           (nothing to attest); re-check that each other's block is still canonical,
           check the source app's state at that block (pvd.relayer.checks), sign it
           with each local attestation key (one in production; the embedded demo runs
           several);
3. deliver for the signed messages: ask the destination inbox what it knows (delivered,
           failed on the recipient, or nothing yet); gather a quorum; pre-flight and send
           one `deliver`, or a `deliverBatch` when several are ready, at a gas limit
           learned from earlier deliveries; a message the inbox holds as failed (paused
           token, frozen payee) is retried there with backoff.

Each step reads the chains for all its messages at once, in JSON-RPC batches (pvd.chain.rpc),
so that a backlog costs a few round trips, not a few per message.

The first tick sweeps before it scans (pvd.relayer.sweep): the store is made to agree
with both chains about every message still open on them, below the checkpoint too.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hexbytes import HexBytes
from web3 import Web3

from pvd.chain.logs import LogSource
from pvd.chain.rpc import block_hashes
from pvd.errors import RecoverableError, UnrecoverableError
from pvd.protocol.attestation import InboxDomain, digest, recover_digest
from pvd.protocol.messages import Message
from pvd.protocol.statuses import DeliveryStatus
from pvd.relayer.checks import source_disagreements
from pvd.relayer.config import Route
from pvd.relayer.ends import ChainEnd, inbox_deliveries
from pvd.relayer.keys import Signer
from pvd.relayer.log import relay_logger
from pvd.relayer.metrics import RelayerMetrics
from pvd.relayer.quorum import AttesterSet, Quorum, QuorumClient
from pvd.relayer.retry import Backoff, RetryPolicy
from pvd.relayer.sender import Call, Mined, Sender, SendFailed, SentTx
from pvd.relayer.store import Condition, MessageRecord, Stage, Store
from pvd.relayer.sweep import SweepReport, seen_message, sweep_route

MESSAGE_SENT = Web3.keccak(text="MessageSent(bytes32,uint32,address,bytes)")

# What the inbox says it did with a message in a delivery transaction (topic 1: the id).
INBOX_DELIVERED = HexBytes(Web3.keccak(text="MessageDelivered(bytes32,uint32,address,address)"))
INBOX_FAILED = HexBytes(Web3.keccak(text="MessageFailed(bytes32,uint32,address,address,bytes)"))
INBOX_ALREADY_CONSUMED = HexBytes(Web3.keccak(text="MessageAlreadyConsumed(bytes32,address)"))
DIGEST_CACHE = 10_000
TX_BASE_GAS = 21_000  # every transaction's intrinsic gas


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
    # Attesters take turns to submit a message (the first in turn is picked by the
    # message id); the others wait this many seconds per place in the queue before they
    # submit too, so one delivery is usually paid for, not one per attester.
    submit_turn_seconds: float = 2.0


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
        self._first_scan = True
        self._swept = False
        self._gas_per_message: int | None = None  # most a delivered message has used
        self._block_gas_limit: int | None = None

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
        )
        self._swept = True
        return report

    # --- 1. scan ------------------------------------------------------------------------

    def scan(self) -> list[str]:
        """Store the messages of the confirmed blocks not yet scanned; the new ids."""
        head = self.logs.confirmed_head(self.settings.confirmations)
        start = self._scan_start(head)
        if head < start:
            return []
        domain = self.destination.domain
        seen = [
            s
            for log in self.logs.logs(start, head)
            if (s := seen_message(log, domain, self.log)) is not None
        ]
        block_hash = HexBytes(self.source.chain.w3.eth.get_block(head)["hash"]).to_0x_hex()
        new = self.store.record_scan(self.route, seen, head, block_hash)
        self.metrics.set_lag(self.route.source, head + self.settings.confirmations, head)
        for message_id in new:
            self.log.info("seen", extra={"message_id": message_id, "chain": self.source.name})
        return new

    def _scan_start(self, head: int) -> int:
        checkpoint = self.store.checkpoint(self.route)
        if checkpoint is None:
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
        """Sign every message seen, not yet consumed on the destination and backed by its
        source's state; how many were signed. Signatures are stored in one transaction."""
        seen = [r for r in self.store.actionable(self.route) if r.stage is Stage.SEEN]
        if not seen:
            return 0
        # a message the destination already consumed (another relayer was faster, or this
        # store is new) needs no signature, and its source state may have moved on since
        on_inbox = inbox_deliveries(self.destination, [r.message_id for r in seen])
        for record in seen:
            status, block = on_inbox[record.message_id]
            if status is DeliveryStatus.DELIVERED:
                self._confirmed(record, block)
        seen = [r for r in seen if on_inbox[r.message_id][0] is not DeliveryStatus.DELIVERED]
        hashes = block_hashes(self.source.chain.w3, sorted({r.source.block for r in seen}))
        canonical: list[tuple[MessageRecord, Message]] = []
        for record in seen:
            if hashes[record.source.block].to_0x_hex() != record.source.block_hash:
                self._fail(record, "source_reorged", "the log's block left the chain")
                self._first_scan = True  # rescan from below the checkpoint
            else:
                canonical.append((record, Message.decode(record.message)))
        verdicts = source_disagreements(
            self.source, [(message, record.source.block) for record, message in canonical]
        )
        signed: dict[str, dict[str, bytes]] = {}
        for (record, message), reason in zip(canonical, verdicts, strict=True):
            if reason:
                self.log.error(
                    "refusing to attest: %s", reason, extra={"message_id": record.message_id}
                )
                self._fail(record, "source_state_disagrees", reason, recoverable=False)
                continue
            typed = self.verifier.signed(message)
            signed[record.message_id] = {a.address: a.sign_hash(typed) for a in self.attesters}
        self.store.mark_all_signed(signed)
        for message_id in signed:
            self.log.info("signed", extra={"message_id": message_id})
        return len(signed)

    # --- 3. deliver ---------------------------------------------------------------------

    def deliver(self) -> int:
        """Deliver (or retry on the inbox) every signed message that can go now."""
        signed = [r for r in self.store.actionable(self.route) if r.stage is not Stage.SEEN]
        if not signed:
            return 0
        attesters = self._attester_set()
        # the inbox knows best (another attester may have delivered a message, or a
        # store may be new): one batched read for all of them, before anything is sent
        on_inbox = inbox_deliveries(self.destination, [r.message_id for r in signed])
        ready: list[tuple[MessageRecord, Message, Quorum]] = []
        for record in signed:
            status, block = on_inbox[record.message_id]
            if status is DeliveryStatus.DELIVERED:
                self._confirmed(record, block)
                continue
            if status is DeliveryStatus.FAILED:
                self._retry_on_inbox(record)
                continue
            place = self._place_in_turn(record, attesters)
            if self.store.clock() - record.first_seen < place * self.settings.submit_turn_seconds:
                continue  # not this relayer's turn yet
            quorum = self.quorum.collect(record.message_id, attesters, self.route)
            if quorum is not None:
                ready.append((record, Message.decode(record.message), quorum))
        for start in range(0, len(ready), self.settings.batch_size):
            self._send(ready[start : start + self.settings.batch_size])
        return len(ready)

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

    def _attester_set(self) -> AttesterSet:
        inbox = self.destination.inbox.functions
        return AttesterSet.of(inbox.attesters().call(), inbox.threshold().call())

    def _send(self, batch: list[tuple[MessageRecord, Message, Quorum]]) -> None:
        inbox = self.destination.inbox
        messages = [record.message for record, _, _ in batch]
        signatures = [b"".join(q.signatures) for _, _, q in batch]
        if len(batch) == 1:
            data = HexBytes(inbox.encode_abi("deliver", [messages[0], signatures[0]]))
        else:
            data = HexBytes(inbox.encode_abi("deliverBatch", [messages, signatures]))
        ids = [record.message_id for record, _, _ in batch]
        try:
            sent = self._submit(data, len(batch))
        except RecoverableError as exc:
            for record, _, _ in batch:
                self._fail(record, _code(exc), str(exc))
            return
        self.store.mark_submitted(ids, sent.tx_hash, sent.nonce)
        try:
            mined = self.sender.wait(sent)
        except RecoverableError as exc:
            for record, _, _ in batch:
                self._fail(record, _code(exc), str(exc))
            return
        self._learn_gas(mined, len(batch))
        self._settle(batch, mined)

    def _submit(self, data: bytes, count: int) -> SentTx:
        """Send a delivery of `count` messages. With a gas limit learned from earlier
        deliveries, the pre-flight `eth_call` runs at that limit and proves it (the inbox
        reverts, InboxRecipientOutOfGas, rather than record a recipient starved of gas),
        so no estimate is needed: eth_estimateGas runs the batch once per step of a binary
        search. A pre-flight that fails at the learned limit (too little gas, or a real fault
        the estimate's own pre-flight then reports) falls back to an estimate."""
        address = self.destination.inbox.address
        learned = self._learned_gas_limit(count)
        if learned is not None:
            call = Call(address, data, gas=learned)
            try:
                self.sender.preflight(call)
            except SendFailed as exc:
                self.log.debug("pre-flight at the learned gas limit %d failed: %s", learned, exc)
            else:
                return self.sender.send(call, preflight=False)
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
        outcome: dict[bytes, HexBytes] = {
            bytes(log.topics[1]): log.topics[0]
            for log in mined.logs
            if log.address == self.destination.inbox.address and len(log.topics) > 1
        }
        for record, message, _ in batch:
            event = outcome.get(message.id)
            if event == INBOX_DELIVERED:
                self._confirmed(record, mined.block_number, mined.tx_hash)
            elif event == INBOX_ALREADY_CONSUMED:  # another attester delivered it first
                status, _, block = self.destination.inbox.functions.deliveryOf(message.id).call()
                if status == DeliveryStatus.DELIVERED:
                    self._confirmed(record, block)
                else:
                    self._fail(record, "recipient_failed", "held by the inbox for retry")
            elif event == INBOX_FAILED:
                self._fail(record, "recipient_failed", "held by the inbox for retry")
            else:
                self._fail(record, "not_consumed", f"{mined.tx_hash} did not consume it")

    def _retry_on_inbox(self, record: MessageRecord) -> None:
        """The inbox holds the message as verified-but-failed: retry it there (anyone may)."""
        inbox = self.destination.inbox
        call = Call(inbox.address, HexBytes(inbox.encode_abi("retry", [record.message])))
        try:
            mined = self.sender.send_and_wait(call)
        except RecoverableError as exc:
            self._fail(record, "inbox_retry_" + _code(exc), str(exc))
            return
        self._confirmed(record, mined.block_number, mined.tx_hash)

    def _confirmed(self, record: MessageRecord, block: int, tx_hash: str | None = None) -> None:
        self.store.mark_confirmed(record.message_id, tx_hash=tx_hash, block=block)
        self.metrics.count_relayed(self.route)
        self.metrics.observe_latency(self.route, max(0.0, time.time() - record.first_seen))
        self.log.info(
            "delivered", extra={"message_id": record.message_id, "tx_hash": tx_hash, "block": block}
        )

    def _fail(
        self, record: MessageRecord, code: str, detail: str, *, recoverable: bool = True
    ) -> None:
        """Count a failed attempt; retry later with backoff, or give up (dead)."""
        self.metrics.count_failure(self.route, code)
        reason = f"{code}: {detail}"
        if recoverable:
            updated = self.store.record_failure(record.message_id, reason, self.backoff)
            if updated.condition is not Condition.DEAD:
                self.log.warning(
                    "failed, will retry: %s", reason, extra={"message_id": record.message_id}
                )
                return
        else:
            self.store.mark_dead(record.message_id, reason)
        self.log.error("dead: %s", reason, extra={"message_id": record.message_id})

    # --- all three ----------------------------------------------------------------------

    def tick(self) -> None:
        if not self._swept:
            self.sweep()
        self.scan()
        self.attest()
        self.deliver()


def _code(exc: BaseException) -> str:
    """The short reason code of a pvd error (sender errors carry one), for metrics."""
    return str(getattr(exc, "reason", type(exc).__name__.lower()))
