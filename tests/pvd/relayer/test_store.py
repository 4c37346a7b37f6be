"""pvd.relayer.store: WAL, checkpoints that only rise, statuses that only gain."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from pvd.errors import UnrecoverableError, UserError
from pvd.relayer.config import Route
from pvd.relayer.retry import Backoff, RetryPolicy
from pvd.relayer.store import (
    Condition,
    MessageRecord,
    SeenMessage,
    SourceLocation,
    Stage,
    StatusRegressionError,
    Store,
    UnknownMessageError,
    hex32,
)
from tests.pvd.relayer.helpers import FakeClock

B2P = Route.BUSINESS_TO_PAYMENT
P2B = Route.PAYMENT_TO_BUSINESS
SIGNER = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
PEER = "0x6813Eb9362372EEF6200f3b1dbC3f819671cBA69"
SIG = b"\x01" * 64 + b"\x1b"
TX = "0x" + "aa" * 32
TX2 = "0x" + "bb" * 32


def seen(n: int, block: int = 10, block_hash: str | None = None) -> SeenMessage:
    body = f"message {n}".encode()
    return SeenMessage(
        message_id="0x" + keccak(body).hex(),
        message=body,
        source=SourceLocation(
            block=block,
            block_hash=block_hash or "0x" + keccak(block.to_bytes(8, "big")).hex(),
            tx_hash="0x" + keccak(b"tx" + body).hex(),
            log_index=n,
        ),
    )


class NeverRetry:
    def next_delay(self, attempts: int) -> float | None:
        return None


class RetryIn:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def next_delay(self, attempts: int) -> float | None:
        return self.seconds


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with Store(tmp_path / "relay.sqlite", clock=clock) as opened:
        yield opened


def stored(store: Store, message: SeenMessage) -> MessageRecord:
    record = store.get(message.message_id)
    assert record is not None
    return record


# --- the file ----------------------------------------------------------------------------


def test_the_store_is_in_wal_mode(store: Store, tmp_path: Path) -> None:
    assert store.journal_mode() == "wal"
    raw = sqlite3.connect(tmp_path / "relay.sqlite")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_a_file_that_is_not_a_database_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="is not a usable SQLite database"):
        Store(path)


def test_a_store_from_another_schema_version_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "relay.sqlite"
    Store(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(UserError, match="has schema version 99, this pvd reads up to 2"):
        Store(path)


def test_reopening_a_store_keeps_its_contents(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "relay.sqlite"
    with Store(path, clock=clock) as first:
        first.record_scan(B2P, [seen(1)], through_block=10)
    with Store(path, clock=clock) as second:
        assert stored(second, seen(1)).status == "seen"
        checkpoint = second.checkpoint(B2P)
        assert checkpoint is not None and checkpoint.block == 10


# --- checkpoints -------------------------------------------------------------------------


def test_a_route_has_no_checkpoint_until_one_is_recorded(store: Store) -> None:
    assert store.checkpoint(B2P) is None


def test_the_checkpoint_moves_up(store: Store, clock: FakeClock) -> None:
    store.advance_checkpoint(B2P, 5, "0x" + "01" * 32)
    clock.advance(1)
    store.advance_checkpoint(B2P, 9)
    checkpoint = store.checkpoint(B2P)
    assert checkpoint is not None
    assert (checkpoint.block, checkpoint.block_hash, checkpoint.updated_at) == (9, None, clock())
    assert store.checkpoint(P2B) is None


def test_the_checkpoint_refuses_to_move_down(store: Store) -> None:
    store.advance_checkpoint(B2P, 9)
    with pytest.raises(StatusRegressionError, match="refusing to move it back to 8"):
        store.advance_checkpoint(B2P, 8)
    checkpoint = store.checkpoint(B2P)
    assert checkpoint is not None and checkpoint.block == 9


def test_the_same_checkpoint_again_is_accepted(store: Store) -> None:
    store.advance_checkpoint(B2P, 9, "0x" + "01" * 32)
    store.advance_checkpoint(B2P, 9, "0x" + "02" * 32)
    checkpoint = store.checkpoint(B2P)
    assert checkpoint is not None and checkpoint.block_hash == "0x" + "02" * 32


def test_a_hand_written_update_cannot_lower_the_checkpoint(store: Store, tmp_path: Path) -> None:
    store.advance_checkpoint(B2P, 9)
    raw = sqlite3.connect(tmp_path / "relay.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="checkpoint would move backwards"):
        raw.execute("UPDATE checkpoints SET block = 3")
    raw.close()
    checkpoint = store.checkpoint(B2P)
    assert checkpoint is not None and checkpoint.block == 9


def test_a_scan_stores_its_messages_and_checkpoint_together(store: Store) -> None:
    new = store.record_scan(B2P, [seen(1), seen(2)], through_block=10, block_hash="0x" + "0a" * 32)
    assert new == [seen(1).message_id, seen(2).message_id]
    checkpoint = store.checkpoint(B2P)
    assert checkpoint is not None and checkpoint.block == 10
    assert store.backlog(B2P) == 2


def test_a_failed_scan_stores_nothing(store: Store) -> None:
    store.record_scan(B2P, [], through_block=5)
    broken = SeenMessage("0x1234", b"x", seen(3).source)  # not a 32-byte id
    with pytest.raises(ValueError, match="message id must be 32 bytes"):
        store.record_scan(B2P, [seen(1), broken], through_block=10)
    assert store.get(seen(1).message_id) is None
    checkpoint = store.checkpoint(B2P)
    assert checkpoint is not None and checkpoint.block == 5


def test_a_scan_below_the_checkpoint_stores_nothing(store: Store) -> None:
    store.advance_checkpoint(B2P, 10)
    with pytest.raises(StatusRegressionError):
        store.record_scan(B2P, [seen(1)], through_block=4)
    assert store.get(seen(1).message_id) is None


# --- the status lattice -------------------------------------------------------------------


def test_a_new_message_is_seen_and_open(store: Store, clock: FakeClock) -> None:
    assert store.observe(B2P, seen(1)) is True
    record = stored(store, seen(1))
    assert (record.status, record.stage, record.condition) == ("seen", Stage.SEEN, Condition.OPEN)
    assert (record.attempts, record.round, record.tx_hash, record.nonce) == (0, 0, None, None)
    assert record.message == seen(1).message
    assert record.source == seen(1).source
    assert record.route is B2P
    assert record.first_seen == record.updated_at == clock()


def test_observing_a_message_twice_changes_nothing(store: Store, clock: FakeClock) -> None:
    store.observe(B2P, seen(1))
    before = stored(store, seen(1))
    clock.advance(5)
    assert store.observe(B2P, seen(1)) is False
    assert stored(store, seen(1)) == before


def test_a_message_goes_seen_signed_submitted_confirmed(store: Store, clock: FakeClock) -> None:
    store.observe(B2P, seen(1))
    mid = seen(1).message_id
    store.mark_signed(mid, SIGNER, SIG)
    assert stored(store, seen(1)).status == "signed"
    store.mark_submitted(mid, TX, 7)
    record = stored(store, seen(1))
    assert (record.status, record.tx_hash, record.nonce) == ("submitted", TX, 7)
    clock.advance(3)
    store.mark_confirmed(mid, TX, 42)
    record = stored(store, seen(1))
    assert (record.status, record.confirmed_tx_hash, record.confirmed_block) == (
        "confirmed",
        TX,
        42,
    )
    assert record.updated_at == clock()
    assert store.signatures(mid) == {SIGNER: SIG}


def test_a_submitted_message_cannot_go_back_to_signed(store: Store) -> None:
    store.observe(B2P, seen(1))
    store.mark_submitted(seen(1).message_id, TX, 7)
    before = stored(store, seen(1))
    with pytest.raises(StatusRegressionError, match="is submitted: refusing to move it back"):
        store.mark_signed(seen(1).message_id, SIGNER, SIG)
    assert stored(store, seen(1)) == before
    assert store.signatures(seen(1).message_id) == {}


def test_a_confirmed_message_cannot_change_again(store: Store) -> None:
    store.observe(B2P, seen(1))
    mid = seen(1).message_id
    store.mark_confirmed(mid, TX, 42)
    before = stored(store, seen(1))
    with pytest.raises(StatusRegressionError, match="confirmed"):
        store.mark_submitted(mid, TX2, 8)
    with pytest.raises(StatusRegressionError, match="confirmed"):
        store.record_failure(mid, "reverted", RetryIn(1))
    with pytest.raises(StatusRegressionError, match="confirmed"):
        store.mark_dead(mid, "refused")
    with pytest.raises(StatusRegressionError, match="confirmed"):
        store.mark_signed(mid, SIGNER, SIG)
    store.mark_confirmed(mid, TX2, 99)  # a repeat is a no-op: the first record stands
    assert stored(store, seen(1)) == before


def test_a_resubmission_records_its_new_transaction(store: Store) -> None:
    store.observe(B2P, seen(1))
    store.mark_submitted(seen(1).message_id, TX, 7)
    store.mark_submitted(seen(1).message_id, TX2, 7)  # fee bump: same nonce, new hash
    record = stored(store, seen(1))
    assert (record.status, record.tx_hash, record.nonce) == ("submitted", TX2, 7)


def test_a_batch_is_submitted_and_confirmed_in_one_write(store: Store) -> None:
    ids = [m.message_id for m in (seen(1), seen(2), seen(3))]
    store.record_scan(B2P, [seen(1), seen(2), seen(3)])
    store.mark_submitted(ids, TX, 3)
    assert store.status_counts() == {"submitted": 3}
    store.mark_confirmed(ids, TX, 50)
    assert store.status_counts() == {"confirmed": 3}
    assert store.backlog() == 0


def test_a_batch_with_one_bad_message_changes_none(store: Store) -> None:
    store.record_scan(B2P, [seen(1), seen(2)])
    store.mark_confirmed(seen(2).message_id, TX, 5)
    with pytest.raises(StatusRegressionError):
        store.mark_submitted([seen(1).message_id, seen(2).message_id], TX2, 4)
    assert stored(store, seen(1)).status == "seen"


def test_a_failure_schedules_a_retry(store: Store, clock: FakeClock) -> None:
    store.observe(B2P, seen(1))
    store.mark_signed(seen(1).message_id, SIGNER, SIG)
    record = store.record_failure(seen(1).message_id, "token_paused", RetryIn(30))
    assert (record.status, record.stage, record.attempts) == ("failed", Stage.SIGNED, 1)
    assert (record.fail_reason, record.next_retry_at) == ("token_paused", clock() + 30)
    assert store.due_for_retry() == []
    assert store.actionable() == []
    clock.advance(30)
    assert [r.message_id for r in store.due_for_retry()] == [seen(1).message_id]
    assert [r.message_id for r in store.actionable()] == [seen(1).message_id]


def test_queries_filtered_by_route_bind_their_parameters_in_order(
    store: Store, clock: FakeClock
) -> None:
    store.observe(B2P, seen(1))
    store.observe(P2B, seen(2))
    store.record_failure(seen(1).message_id, "token_paused", RetryIn(30))
    assert [r.message_id for r in store.actionable(P2B)] == [seen(2).message_id]
    assert store.actionable(B2P) == []
    assert store.due_for_retry(B2P) == []
    clock.advance(30)
    assert [r.message_id for r in store.actionable(B2P)] == [seen(1).message_id]
    assert [r.message_id for r in store.due_for_retry(B2P)] == [seen(1).message_id]
    assert store.due_for_retry(P2B) == []


def test_success_after_a_failure_clears_the_failure_but_keeps_the_count(store: Store) -> None:
    store.observe(B2P, seen(1))
    store.record_failure(seen(1).message_id, "rpc_timeout", RetryIn(0))
    store.mark_submitted(seen(1).message_id, TX, 1)
    record = stored(store, seen(1))
    assert (record.status, record.attempts, record.fail_reason) == ("submitted", 1, "rpc_timeout")
    assert record.next_retry_at is None


def test_the_retry_policy_makes_a_message_dead_after_max_attempts(store: Store) -> None:
    store.observe(B2P, seen(1))
    backoff = Backoff(RetryPolicy(1.0, 10.0, 3), random.Random(1))
    statuses = [
        store.record_failure(seen(1).message_id, "reverted", backoff).status for _ in range(3)
    ]
    assert statuses == ["failed", "failed", "dead"]
    record = stored(store, seen(1))
    assert (record.attempts, record.next_retry_at) == (3, None)
    assert store.backlog() == 0
    assert [r.message_id for r in store.dead()] == [seen(1).message_id]


def test_a_dead_message_takes_no_work_until_reopened(store: Store) -> None:
    store.observe(B2P, seen(1))
    mid = seen(1).message_id
    store.record_failure(mid, "reverted", NeverRetry())
    before = stored(store, seen(1))
    with pytest.raises(StatusRegressionError, match="is dead: reopen it"):
        store.mark_submitted(mid, TX, 1)
    with pytest.raises(StatusRegressionError, match="is dead: reopen it"):
        store.record_failure(mid, "reverted", NeverRetry())
    with pytest.raises(StatusRegressionError, match="is dead: reopen it"):
        store.mark_signed(mid, SIGNER, SIG)
    assert stored(store, seen(1)) == before


def test_reopening_a_dead_message_starts_a_new_round(store: Store, clock: FakeClock) -> None:
    store.observe(B2P, seen(1))
    mid = seen(1).message_id
    store.mark_signed(mid, SIGNER, SIG)
    store.record_failure(mid, "token_paused", RetryIn(5))
    store.record_failure(mid, "token_paused", NeverRetry())
    clock.advance(60)
    assert store.reopen_dead() == [mid]
    record = stored(store, seen(1))
    assert (record.status, record.stage, record.round, record.attempts) == (
        "failed",
        Stage.SIGNED,
        1,
        0,
    )
    assert (record.next_retry_at, record.fail_reason) == (clock(), "token_paused")
    assert [r.message_id for r in store.due_for_retry()] == [mid]
    store.mark_submitted(mid, TX, 1)
    assert stored(store, seen(1)).status == "submitted"


def test_reopen_takes_only_the_named_or_routed_dead_messages(store: Store) -> None:
    store.record_scan(B2P, [seen(1), seen(2)])
    store.record_scan(P2B, [seen(3)])
    for n in (1, 2, 3):
        store.mark_dead(seen(n).message_id, "refused")
    assert store.reopen_dead([seen(2).message_id]) == [seen(2).message_id]
    assert store.reopen_dead(route=P2B) == [seen(3).message_id]
    assert stored(store, seen(1)).status == "dead"
    assert store.reopen_dead([seen(2).message_id]) == []  # not dead any more: skipped


def test_a_dead_message_can_still_be_confirmed(store: Store) -> None:
    store.observe(B2P, seen(1))
    store.mark_dead(seen(1).message_id, "refused")
    store.mark_confirmed(seen(1).message_id, TX, 9)  # another attester delivered it
    assert stored(store, seen(1)).status == "confirmed"
    assert store.reopen_dead() == []


def test_a_hand_written_update_cannot_move_a_status_back(store: Store, tmp_path: Path) -> None:
    store.observe(B2P, seen(1))
    store.record_failure(seen(1).message_id, "rpc_timeout", RetryIn(0))
    store.mark_submitted(seen(1).message_id, TX, 1)
    before = stored(store, seen(1))
    assert before.attempts == 1
    raw = sqlite3.connect(tmp_path / "relay.sqlite")
    for sql in (
        "UPDATE messages SET stage = 1",
        "UPDATE messages SET attempts = 0",
        "UPDATE messages SET round = -1",
        "UPDATE messages SET message = x'00'",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="message status would move backwards"):
            raw.execute(sql)
    raw.execute("UPDATE messages SET stage = 3, condition = 'open'")  # forward is allowed
    raw.commit()
    with pytest.raises(sqlite3.IntegrityError, match="would move backwards"):
        raw.execute("UPDATE messages SET condition = 'failed'")
    raw.close()
    assert stored(store, seen(1)).stage is Stage.CONFIRMED
    assert before.stage is Stage.SUBMITTED


def test_a_status_write_for_an_unknown_message_is_refused(store: Store) -> None:
    with pytest.raises(UnknownMessageError, match="is not in the store"):
        store.mark_submitted(seen(9).message_id, TX, 1)


# --- observe and reorgs ------------------------------------------------------------------


def test_a_seen_message_follows_its_log_when_a_reorg_moves_it(store: Store) -> None:
    store.observe(B2P, seen(1, block=10))
    moved = seen(1, block=11)
    assert store.observe(B2P, moved) is False
    assert stored(store, seen(1)).source == moved.source


def test_a_signed_message_keeps_the_log_it_was_signed_for(store: Store) -> None:
    store.observe(B2P, seen(1, block=10))
    store.mark_signed(seen(1).message_id, SIGNER, SIG)
    store.observe(B2P, seen(1, block=11))
    assert stored(store, seen(1)).source == seen(1, block=10).source


def test_other_bytes_under_a_known_id_are_refused(store: Store) -> None:
    store.observe(B2P, seen(1))
    forged = SeenMessage(seen(1).message_id, b"forged", seen(1).source)
    with pytest.raises(UnrecoverableError, match="other bytes or route"):
        store.observe(B2P, forged)
    assert stored(store, seen(1)).message == seen(1).message


# --- signatures --------------------------------------------------------------------------


def test_peer_signatures_are_kept_next_to_our_own(store: Store) -> None:
    store.observe(B2P, seen(1))
    mid = seen(1).message_id
    store.mark_signed(mid, SIGNER.lower(), SIG)
    assert store.add_signature(mid, PEER, b"\x02" * 65) is True
    assert store.add_signature(mid, PEER, b"\x02" * 65) is False
    assert store.signatures(mid) == {PEER: b"\x02" * 65, SIGNER: SIG}


def test_a_peer_signature_may_arrive_before_the_message(store: Store) -> None:
    mid = seen(4).message_id
    assert store.add_signature(mid, PEER, SIG) is True
    assert store.signatures(mid) == {PEER: SIG}
    assert store.get(mid) is None


def test_a_signature_of_the_wrong_length_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="65 bytes"):
        store.add_signature(seen(1).message_id, PEER, b"\x00" * 64)


# --- queries -----------------------------------------------------------------------------


def test_backlog_and_oldest_pending_age_count_only_pending(store: Store, clock: FakeClock) -> None:
    assert (store.backlog(), store.oldest_pending_age()) == (0, 0.0)
    store.observe(B2P, seen(1))
    clock.advance(10)
    store.record_scan(B2P, [seen(2), seen(3)])
    clock.advance(1)
    store.observe(P2B, seen(4))
    clock.advance(5)
    store.mark_confirmed(seen(1).message_id, TX, 1)
    store.mark_dead(seen(2).message_id, "refused")
    assert store.backlog() == 2
    assert store.backlog(B2P) == 1
    assert store.oldest_pending_age(B2P) == 6.0
    assert store.oldest_pending_age(P2B) == 5.0
    assert store.oldest_pending_age(now=clock() + 1) == 7.0
    assert [r.message_id for r in store.pending()] == [seen(3).message_id, seen(4).message_id]
    assert store.status_counts() == {"confirmed": 1, "dead": 1, "seen": 2}
    assert store.status_counts(P2B) == {"seen": 1}


def test_pending_lists_oldest_first_and_honours_the_limit(store: Store, clock: FakeClock) -> None:
    for n in (3, 1, 2):
        store.observe(B2P, seen(n))
        clock.advance(1)
    assert [r.message_id for r in store.pending(B2P, limit=2)] == [
        seen(3).message_id,
        seen(1).message_id,
    ]


def test_hex32_normalises_ids_and_refuses_other_lengths() -> None:
    assert hex32(b"\xab" * 32) == "0x" + "ab" * 32
    assert hex32("AB" * 32) == "0x" + "ab" * 32
    with pytest.raises(ValueError):
        hex32("0x1234")


# --- two connections ---------------------------------------------------------------------


def test_a_stale_second_connection_cannot_move_a_status_back(tmp_path: Path) -> None:
    path = tmp_path / "relay.sqlite"
    with Store(path) as relayer, Store(path) as tool:
        relayer.observe(B2P, seen(1))
        assert tool.get(seen(1).message_id) is not None  # the tool read it at `seen`
        relayer.mark_submitted(seen(1).message_id, TX, 1)
        with pytest.raises(StatusRegressionError):
            tool.mark_signed(seen(1).message_id, SIGNER, SIG)
        assert tool.get(seen(1).message_id).status == "submitted"  # type: ignore[union-attr]


def test_two_connections_writing_at_once_never_move_anything_back(tmp_path: Path) -> None:
    path = tmp_path / "relay.sqlite"
    messages = [seen(n) for n in range(60)]
    with Store(path) as setup:
        setup.record_scan(B2P, messages)
    errors: list[BaseException] = []
    regressions: list[int] = []
    observed_checkpoints: list[int] = []
    stop = threading.Event()
    start = threading.Barrier(2)

    def advance(own: Store, block: int) -> None:
        # behind the other writer: refused, never applied
        with contextlib.suppress(StatusRegressionError):
            own.advance_checkpoint(B2P, block)

    def submitter() -> None:
        with Store(path) as own:
            start.wait()
            try:
                for n, message in enumerate(messages):
                    own.mark_submitted(message.message_id, TX, n)
                    advance(own, 2 * n + 1)
            except BaseException as exc:
                errors.append(exc)

    def signer() -> None:
        with Store(path) as own:
            start.wait()
            try:
                for n, message in enumerate(messages):
                    try:
                        own.mark_signed(message.message_id, SIGNER, SIG)
                    except StatusRegressionError:
                        regressions.append(n)  # the submitter got there first: refused
                    advance(own, 2 * n)
            except BaseException as exc:
                errors.append(exc)

    def reader() -> None:
        with Store(path) as own:
            while not stop.is_set():
                checkpoint = own.checkpoint(B2P)
                if checkpoint is not None:
                    observed_checkpoints.append(checkpoint.block)

    threads = [threading.Thread(target=f) for f in (submitter, signer)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()

    assert errors == []
    assert observed_checkpoints == sorted(observed_checkpoints)
    with Store(path) as check:
        assert check.status_counts() == {"submitted": len(messages)}
        checkpoint = check.checkpoint(B2P)
        assert checkpoint is not None and checkpoint.block == 2 * (len(messages) - 1) + 1
        signed = [n for n in range(len(messages)) if check.signatures(messages[n].message_id)]
    # every message was either signed before it was submitted, or its signing was refused
    assert sorted(signed + regressions) == list(range(len(messages)))


# --- schema 2: waiting, inclusion at the destination, lost deliveries ----------------------

# The version-1 schema as pvd wrote it before the migration (its messages table).
V1_MESSAGES = """
CREATE TABLE messages (
    id TEXT PRIMARY KEY, route TEXT NOT NULL, message BLOB NOT NULL,
    source_block INTEGER NOT NULL, source_block_hash TEXT NOT NULL,
    source_tx_hash TEXT NOT NULL, source_log_index INTEGER NOT NULL,
    stage INTEGER NOT NULL CHECK (stage BETWEEN 0 AND 3),
    condition TEXT NOT NULL CHECK (condition IN ('open', 'failed', 'dead')),
    tx_hash TEXT, nonce INTEGER, confirmed_tx_hash TEXT, confirmed_block INTEGER,
    fail_reason TEXT, attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    round INTEGER NOT NULL DEFAULT 0 CHECK (round >= 0), next_retry_at REAL,
    first_seen REAL NOT NULL, updated_at REAL NOT NULL,
    CHECK (stage < 3 OR condition = 'open')
);
CREATE INDEX messages_by_route ON messages (route, stage, condition, first_seen);
CREATE INDEX messages_by_retry ON messages (condition, next_retry_at);
CREATE TRIGGER messages_status_only_gains BEFORE UPDATE ON messages
WHEN NEW.stage < OLD.stage BEGIN SELECT RAISE(ABORT, 'message status would move backwards'); END;
CREATE TABLE checkpoints (route TEXT PRIMARY KEY, block INTEGER NOT NULL CHECK (block >= 0),
    block_hash TEXT, updated_at REAL NOT NULL);
CREATE TABLE signatures (message_id TEXT NOT NULL, signer TEXT NOT NULL,
    signature BLOB NOT NULL, added_at REAL NOT NULL, PRIMARY KEY (message_id, signer));
PRAGMA user_version = 1;
"""


def test_a_version_1_store_is_migrated_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)
    raw.executescript(V1_MESSAGES)
    m = seen(1)
    raw.execute(
        "INSERT INTO messages (id, route, message, source_block, source_block_hash, "
        "source_tx_hash, source_log_index, stage, condition, fail_reason, attempts, round, "
        "first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 'failed', 'rpc_timeout', 3, 0, "
        "5.0, 6.0)",
        (m.message_id, B2P.value, m.message, 10, m.source.block_hash, m.source.tx_hash, 1),
    )
    raw.execute("INSERT INTO checkpoints VALUES (?, 10, NULL, 6.0)", (B2P.value,))
    raw.commit()
    raw.close()

    with Store(path) as migrated:
        record = migrated.get(m.message_id)
        assert record is not None
        assert (record.stage, record.condition, record.attempts, record.fail_reason) == (
            Stage.SIGNED,
            Condition.FAILED,
            3,
            "rpc_timeout",
        )
        assert record.included is None and record.first_seen == 5.0
        checkpoint = migrated.checkpoint(B2P)
        assert checkpoint is not None and checkpoint.block == 10
        waited = migrated.record_wait(m.message_id, "token_paused: EnforcedPause()", 1.0)
        assert waited.condition is Condition.WAITING  # the new value is accepted
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
    with pytest.raises(sqlite3.IntegrityError, match="would move backwards"):
        raw.execute("UPDATE messages SET attempts = 0")  # the new trigger is in place
    raw.close()


def test_waiting_counts_no_attempt_and_comes_back_at_its_time(
    store: Store, clock: FakeClock
) -> None:
    store.observe(B2P, seen(1))
    store.record_failure(seen(1).message_id, "rpc_timeout", RetryIn(0))

    waited = store.record_wait(seen(1).message_id, "token_paused: EnforcedPause()", 5.0)

    assert (waited.condition, waited.attempts, waited.status) == (Condition.WAITING, 1, "waiting")
    assert waited.pending and store.backlog(B2P) == 1
    assert store.actionable(B2P) == []
    clock.advance(5.0)
    assert [r.message_id for r in store.actionable(B2P)] == [seen(1).message_id]
    assert [r.message_id for r in store.due_for_retry(B2P)] == [seen(1).message_id]
    assert store.status_counts(B2P) == {"waiting": 1}
    store.mark_dead(seen(1).message_id, "test")
    assert store.record_wait(seen(1).message_id, "token_paused", 1.0).condition is Condition.DEAD


def test_an_inclusion_is_remembered_until_confirmed_and_forgotten_when_lost(store: Store) -> None:
    from pvd.relayer.store import Inclusion

    store.observe(B2P, seen(1))
    store.mark_submitted(seen(1).message_id, TX, 1)
    here = Inclusion(20, "0x" + "cc" * 32, SIGNER, TX)
    store.mark_included(seen(1).message_id, here)
    record = stored(store, seen(1))
    assert (record.stage, record.included) == (Stage.SUBMITTED, here)

    store.mark_lost(seen(1).message_id, "delivery_lost: block 20 no longer holds it")

    record = stored(store, seen(1))
    assert (record.stage, record.condition, record.included) == (
        Stage.SUBMITTED,
        Condition.OPEN,
        None,
    )
    assert (record.fail_reason or "").startswith("delivery_lost")
    store.mark_confirmed(seen(1).message_id, TX2, 21)
    with pytest.raises(StatusRegressionError, match="confirmed"):
        store.mark_lost(seen(1).message_id, "too late")


def test_a_confirmed_message_leaves_confirmed_only_by_a_new_round(
    store: Store, tmp_path: Path
) -> None:
    store.observe(B2P, seen(1))
    store.mark_confirmed(seen(1).message_id, TX, 20)
    raw = sqlite3.connect(tmp_path / "relay.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="would move backwards"):
        raw.execute("UPDATE messages SET stage = 0")  # same round: refused
    raw.close()

    assert store.reopen_lost([seen(1).message_id], "delivery_lost: deep reorg") == [
        seen(1).message_id
    ]

    record = stored(store, seen(1))
    assert (record.stage, record.condition, record.round, record.attempts) == (
        Stage.SEEN,
        Condition.OPEN,
        1,
        0,
    )
    assert (record.confirmed_block, record.confirmed_tx_hash, record.included) == (None, None, None)
    assert store.reopen_lost([seen(1).message_id], "again") == []  # not confirmed: untouched
    raw = sqlite3.connect(tmp_path / "relay.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="would move backwards"):
        raw.execute("UPDATE messages SET round = 0")
    raw.close()


def test_the_store_commits_with_synchronous_normal_under_wal(store: Store) -> None:
    # ADR 0004 (amendment): a commit survives a process crash; a power loss may drop the
    # last commits, which the relayer reads back from the chains
    assert store._query("PRAGMA synchronous")[0][0] == 1  # NORMAL


def test_many_messages_are_confirmed_in_one_call_each_at_its_own_place(store: Store) -> None:
    for n in (1, 2, 3):
        store.observe(B2P, seen(n))
    store.mark_confirmed(seen(3).message_id, TX, 5)
    store.mark_all_confirmed(
        [(seen(1).message_id, TX, 40), (seen(2).message_id, None, 41), (seen(3).message_id, TX2, 9)]
    )
    one, two, three = (stored(store, seen(n)) for n in (1, 2, 3))
    assert (one.status, one.confirmed_tx_hash, one.confirmed_block) == ("confirmed", TX, 40)
    assert (two.status, two.confirmed_tx_hash, two.confirmed_block) == ("confirmed", None, 41)
    # an already confirmed message is left as it was
    assert (three.confirmed_tx_hash, three.confirmed_block) == (TX, 5)


def test_a_refused_confirmation_in_a_batch_confirms_none_of_it(store: Store) -> None:
    store.observe(B2P, seen(1))
    with pytest.raises(UnknownMessageError):
        store.mark_all_confirmed([(seen(1).message_id, TX, 40), (seen(2).message_id, TX, 41)])
    assert stored(store, seen(1)).status == "seen"


def test_the_signatures_of_many_messages_come_in_one_read(store: Store) -> None:
    for n in (1, 2, 3):
        store.observe(B2P, seen(n))
    store.mark_signed(seen(1).message_id, SIGNER, SIG)
    store.add_signature(seen(2).message_id, SIGNER, SIG)
    found = store.signatures_of([seen(n).message_id for n in (1, 2, 3)])
    assert found == {
        seen(1).message_id: {SIGNER: SIG},
        seen(2).message_id: {SIGNER: SIG},
        seen(3).message_id: {},
    }


def test_actionable_messages_can_be_asked_for_by_stage_in_the_same_order(
    store: Store, clock: FakeClock
) -> None:
    store.record_scan(P2B, [seen(n) for n in range(1, 6)])
    store.mark_signed(seen(2).message_id, SIGNER, SIG)
    store.mark_signed(seen(4).message_id, SIGNER, SIG)
    store.mark_submitted([seen(4).message_id], TX, 3)
    store.record_failure(seen(5).message_id, "token_paused", RetryIn(30))  # not due yet
    everything = store.actionable(P2B)
    at_seen = store.actionable(P2B, stages=(Stage.SEEN,))
    assert at_seen == [r for r in everything if r.stage is Stage.SEEN]
    assert sorted(r.message_id for r in at_seen) == sorted([seen(1).message_id, seen(3).message_id])
    assert store.actionable(P2B, limit=1, stages=(Stage.SEEN,)) == at_seen[:1]
    later = store.actionable(P2B, stages=(Stage.SIGNED, Stage.SUBMITTED))
    assert later == [r for r in everything if r.stage is not Stage.SEEN]
    assert sorted(r.stage for r in later) == [Stage.SIGNED, Stage.SUBMITTED]
    assert store.actionable(P2B, stages=()) == []
    clock.advance(30)  # due now, still at seen
    assert seen(5).message_id in [r.message_id for r in store.actionable(P2B, stages=[Stage.SEEN])]
