"""The relayer's durable memory: one SQLite file in WAL mode (stdlib sqlite3).

Owns three tables and the rules that guard them (docs/adr/0004-relayer-store.md):

- checkpoints: per route, the highest source block B such that B and every block below
  it have been scanned at the confirmation depth and every message found in them is in
  the messages table. It only moves up (refused in code and by a trigger). Scanning
  resumes at B + 1; a restart re-reads from B - margin.
- messages: one row per message id, with the message bytes, where its log was seen,
  where the destination inbox consumed it (block, block hash, deliverer) while that is
  not yet at the destination's confirmation depth, and its status. Statuses only ever
  gain value:

      stage:      seen < signed < submitted(tx hash, nonce) < confirmed
      condition:  open | failed(reason, attempts, next retry) | dead
                  | waiting(reason, next look)

  Within a round the stage never goes down and the attempts never go down; confirmed
  (consumed on the destination, at its confirmation depth, the block hash re-checked)
  absorbs everything; dead ends a round. A new round (`round` + 1, attempts 0) is the
  only way out of dead (`reopen_dead`: the sweep, `pvd retry`) and out of confirmed
  (`reopen_lost`: the sweep found the delivery gone from the destination chain, a reorg
  deeper than the depth); it may start again from `seen`. So (round, stage, attempts)
  only grows, lexicographically. Waiting is not a failed attempt: the destination is
  paused or the payee frozen (a passing state someone else ends); attempts do not grow.
  Dead is off-chain only: the chain never knows. Every write checks this in code
  (StatusRegressionError) and a trigger checks it again, so even a hand-written UPDATE
  cannot move a status backwards. The enums only ever gain values (their stored values
  never change meaning); a schema change comes with a migration (`_MIGRATIONS`).
- signatures: attester signatures per message (this attester's own and its peers'),
  from which a quorum is assembled.

Every write is one IMMEDIATE transaction: the status check reads the row inside the
same transaction that writes it, so two connections (the relayer and `pvd retry`) never
interleave a read-check-write. Timestamps are Unix seconds from an injectable clock.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from eth_utils.address import is_address, to_checksum_address

from pvd.errors import UnrecoverableError, UserError
from pvd.relayer.config import Route

SCHEMA_VERSION = 2
_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")


class Stage(IntEnum):
    """How far a message got. Only ever increases."""

    SEEN = 0  # its log was read from the source chain and the message stored
    SIGNED = 1  # this attester signed it
    SUBMITTED = 2  # a delivery transaction was sent (tx hash, nonce recorded)
    CONFIRMED = 3  # the destination inbox consumed it (by anyone): done


class Condition(StrEnum):
    """Whether work on a not-yet-confirmed message is going on, waiting or given up."""

    OPEN = "open"
    FAILED = "failed"  # the last attempt failed; retried at next_retry_at
    DEAD = "dead"  # retries exhausted (or refused): off-chain only, reopened on demand
    WAITING = "waiting"  # paused or frozen on the destination: looked at again at
    #                      next_retry_at, no attempt counted


class StatusRegressionError(UnrecoverableError):
    """A write would move a message status or a checkpoint backwards: a relayer bug."""


class UnknownMessageError(UnrecoverableError):
    """A status write names a message id the store has never seen."""


class RetrySchedule(Protocol):
    """What the store asks after a failure: retry.Backoff satisfies it."""

    def next_delay(self, attempts: int) -> float | None: ...


@dataclass(frozen=True)
class SourceLocation:
    """Where a message's log was read: re-checked (block hash) before acting on it."""

    block: int
    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class SeenMessage:
    """A message just read from an outbox log, as the event source hands it over."""

    message_id: str
    message: bytes
    source: SourceLocation


@dataclass(frozen=True)
class Checkpoint:
    route: Route
    block: int  # this block and every block below it are done
    block_hash: str | None  # its hash when recorded: a restart can tell a reorg under it
    updated_at: float


@dataclass(frozen=True)
class Inclusion:
    """Where the destination inbox consumed a message, as first seen: re-checked (block
    hash) once the block is at the destination's confirmation depth."""

    block: int
    block_hash: str
    deliverer: str  # the address that delivered it (a gas key: this relayer's or not)
    tx_hash: str | None  # the delivery transaction, when known


@dataclass(frozen=True)
class MessageRecord:
    """One row of the messages table."""

    message_id: str
    route: Route
    message: bytes
    source: SourceLocation
    stage: Stage
    condition: Condition
    tx_hash: str | None  # the last delivery transaction this attester sent
    nonce: int | None
    confirmed_tx_hash: str | None  # the transaction that delivered it (maybe another's)
    confirmed_block: int | None
    included: Inclusion | None  # consumed on the destination, not yet at its depth
    fail_reason: str | None  # the last failure's reason (kept after a later success)
    attempts: int  # failed attempts in this round
    round: int  # 0, then +1 at every reopen of a dead message
    next_retry_at: float | None
    first_seen: float
    updated_at: float

    @property
    def status(self) -> str:
        """One word: confirmed, dead, failed, or the stage reached (seen/signed/submitted)."""
        if self.stage is Stage.CONFIRMED:
            return "confirmed"
        if self.condition is not Condition.OPEN:
            return self.condition.value
        return self.stage.name.lower()

    @property
    def pending(self) -> bool:
        """Still to be delivered and not given up."""
        return self.stage is not Stage.CONFIRMED and self.condition is not Condition.DEAD


def hex32(value: str | bytes, what: str = "value") -> str:
    """A 32-byte value as lower-case 0x-hex (ids and hashes are stored this way)."""
    text = "0x" + value.hex() if isinstance(value, bytes) else value.lower()
    if not text.startswith("0x"):
        text = "0x" + text
    if not _HEX32.match(text):
        raise ValueError(f"{what} must be 32 bytes (0x + 64 hex digits), got {value!r}")
    return text


@functools.lru_cache(maxsize=4096)  # the same few attesters and gas keys, again and again
def _address(value: str) -> str:
    if not is_address(value):
        raise ValueError(f"not an address: {value!r}")
    return str(to_checksum_address(value))


_CHECKPOINTS = (
    """
CREATE TABLE checkpoints (
    route       TEXT PRIMARY KEY,
    block       INTEGER NOT NULL CHECK (block >= 0),
    block_hash  TEXT,
    updated_at  REAL NOT NULL
)
""",
    """
CREATE TRIGGER checkpoints_only_move_up BEFORE UPDATE OF block ON checkpoints
WHEN NEW.block < OLD.block
BEGIN SELECT RAISE(ABORT, 'checkpoint would move backwards'); END
""",
    """
CREATE TABLE signatures (
    message_id  TEXT NOT NULL,
    signer      TEXT NOT NULL,
    signature   BLOB NOT NULL,
    added_at    REAL NOT NULL,
    PRIMARY KEY (message_id, signer)
)
""",
)

_MESSAGES_TABLE = """
CREATE TABLE {name} (
    id                 TEXT PRIMARY KEY,
    route              TEXT NOT NULL,
    message            BLOB NOT NULL,
    source_block       INTEGER NOT NULL,
    source_block_hash  TEXT NOT NULL,
    source_tx_hash     TEXT NOT NULL,
    source_log_index   INTEGER NOT NULL,
    stage              INTEGER NOT NULL CHECK (stage BETWEEN 0 AND 3),
    condition          TEXT NOT NULL CHECK (condition IN ('open', 'failed', 'dead', 'waiting')),
    tx_hash            TEXT,
    nonce              INTEGER,
    confirmed_tx_hash  TEXT,
    confirmed_block    INTEGER,
    fail_reason        TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    round              INTEGER NOT NULL DEFAULT 0 CHECK (round >= 0),
    next_retry_at      REAL,
    first_seen         REAL NOT NULL,
    updated_at         REAL NOT NULL,
    included_block      INTEGER,
    included_block_hash TEXT,
    included_by         TEXT,
    included_tx_hash    TEXT,
    CHECK (stage < 3 OR condition = 'open'),
    CHECK ((included_block IS NULL) = (included_block_hash IS NULL))
)
"""

_MESSAGES_RULES = (
    """
CREATE INDEX messages_by_route ON messages (route, stage, condition, first_seen)
""",
    """
CREATE INDEX messages_by_retry ON messages (condition, next_retry_at)
""",
    # (round, stage, attempts) only grows; within a round confirmed absorbs and dead is
    # left only for confirmed (see the module docstring and check_transition)
    """
CREATE TRIGGER messages_status_only_gains BEFORE UPDATE ON messages
WHEN NEW.round < OLD.round
  OR (NEW.round = OLD.round AND (
        NEW.stage < OLD.stage
     OR NEW.attempts < OLD.attempts
     OR (OLD.stage = 3 AND (NEW.stage <> 3 OR NEW.condition <> 'open'
                            OR NEW.attempts <> OLD.attempts))
     OR (OLD.condition = 'dead' AND NEW.stage < 3
         AND (NEW.condition <> 'dead' OR NEW.stage <> OLD.stage
              OR NEW.attempts <> OLD.attempts))))
  OR NEW.id <> OLD.id OR NEW.route <> OLD.route OR NEW.message <> OLD.message
  OR NEW.first_seen <> OLD.first_seen
BEGIN SELECT RAISE(ABORT, 'message status would move backwards'); END
""",
)

_V1_COLUMNS = (
    "id, route, message, source_block, source_block_hash, source_tx_hash, source_log_index, "
    "stage, condition, tx_hash, nonce, confirmed_tx_hash, confirmed_block, fail_reason, "
    "attempts, round, next_retry_at, first_seen, updated_at"
)

#: From schema version N to N + 1, in one transaction (with the version bump).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1 -> 2: the waiting condition (a CHECK constraint: the table is rebuilt), where a
    # delivery was included until it is at the destination's depth, and the rule that a
    # new round may leave confirmed (a delivery lost to a reorg).
    1: (
        "DROP TRIGGER messages_status_only_gains",
        "DROP INDEX messages_by_route",
        "DROP INDEX messages_by_retry",
        _MESSAGES_TABLE.format(name="messages_v2"),
        f"INSERT INTO messages_v2 ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM messages",
        "DROP TABLE messages",
        "ALTER TABLE messages_v2 RENAME TO messages",
        *_MESSAGES_RULES,
    ),
}

_SCHEMA = (*_CHECKPOINTS, _MESSAGES_TABLE.format(name="messages"), *_MESSAGES_RULES)

_COLUMNS = _V1_COLUMNS + ", included_block, included_block_hash, included_by, included_tx_hash"


def _record(row: sqlite3.Row) -> MessageRecord:
    return MessageRecord(
        message_id=row["id"],
        route=Route(row["route"]),
        message=bytes(row["message"]),
        source=SourceLocation(
            row["source_block"],
            row["source_block_hash"],
            row["source_tx_hash"],
            row["source_log_index"],
        ),
        stage=Stage(row["stage"]),
        condition=Condition(row["condition"]),
        tx_hash=row["tx_hash"],
        nonce=row["nonce"],
        confirmed_tx_hash=row["confirmed_tx_hash"],
        confirmed_block=row["confirmed_block"],
        included=None
        if row["included_block"] is None
        else Inclusion(
            row["included_block"],
            row["included_block_hash"],
            row["included_by"],
            row["included_tx_hash"],
        ),
        fail_reason=row["fail_reason"],
        attempts=row["attempts"],
        round=row["round"],
        next_retry_at=row["next_retry_at"],
        first_seen=row["first_seen"],
        updated_at=row["updated_at"],
    )


def check_transition(
    old: MessageRecord, stage: Stage, condition: Condition, round_: int, attempts: int
) -> None:
    """Raise StatusRegressionError unless old -> (stage, condition, round, attempts) gains.

    The rules of the module docstring, in one place (the trigger mirrors them).
    """
    mid = old.message_id
    if stage is Stage.CONFIRMED and condition is not Condition.OPEN:
        raise StatusRegressionError(f"message {mid}: a confirmed message cannot be {condition}")
    if round_ < old.round:
        raise StatusRegressionError(
            f"message {mid}: round {old.round} would go back to round {round_}"
        )
    if round_ > old.round:
        return  # a new round (a reopen) starts afresh
    if old.stage is Stage.CONFIRMED:
        if (stage, condition, attempts) != (old.stage, old.condition, old.attempts):
            raise StatusRegressionError(f"message {mid} is confirmed: nothing can change it")
        return
    if stage < old.stage:
        raise StatusRegressionError(
            f"message {mid} is {old.stage.name.lower()}: refusing to move it back to "
            f"{stage.name.lower()}"
        )
    if attempts < old.attempts:
        raise StatusRegressionError(
            f"message {mid}: attempts would go from round {old.round} attempt {old.attempts} "
            f"back to round {round_} attempt {attempts}"
        )
    if (
        old.condition is Condition.DEAD
        and stage is not Stage.CONFIRMED
        and (condition, stage, attempts) != (old.condition, old.stage, old.attempts)
    ):
        raise StatusRegressionError(
            f"message {mid} is dead: reopen it (pvd retry) before working on it again"
        )


class Store:
    """The relayer's SQLite store. Safe to share between threads; one per process."""

    def __init__(
        self,
        path: str | Path,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open store {self.path}: {exc}; check [store] path") from None
        try:
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise UserError(
                    f"store {self.path} cannot use WAL mode (got {mode}); put it on a local disk"
                )
            # WAL + NORMAL: a commit survives a crash of this process, not a power loss
            # (ADR 0004, amendment: nothing a relayer needs is lost with it)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise UserError(
                f"store {self.path} is not a usable SQLite database ({exc}); move it away"
            ) from None
        except BaseException:
            self._conn.close()
            raise

    # --- plumbing ---------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._write() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                version = SCHEMA_VERSION
            elif version > SCHEMA_VERSION:
                raise UserError(
                    f"store {self.path} has schema version {version}, this pvd reads up to "
                    f"{SCHEMA_VERSION}; use the pvd that wrote it or a new store path"
                )
            while version < SCHEMA_VERSION:  # older: migrate, one version at a time
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: takes the write lock before the first read."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def journal_mode(self) -> str:
        return str(self._query("PRAGMA journal_mode")[0][0])

    # --- checkpoints ------------------------------------------------------------------

    def checkpoint(self, route: Route) -> Checkpoint | None:
        rows = self._query(
            "SELECT block, block_hash, updated_at FROM checkpoints WHERE route = ?", (route.value,)
        )
        if not rows:
            return None
        block, block_hash, updated_at = rows[0]
        return Checkpoint(route, block, block_hash, updated_at)

    def _advance(
        self, conn: sqlite3.Connection, route: Route, block: int, block_hash: str | None
    ) -> None:
        if block < 0:
            raise ValueError("a block number is >= 0")
        row = conn.execute(
            "SELECT block FROM checkpoints WHERE route = ?", (route.value,)
        ).fetchone()
        if row is not None and block < row[0]:
            raise StatusRegressionError(
                f"checkpoint of {route.value} is {row[0]}: refusing to move it back to {block}"
            )
        conn.execute(
            "INSERT INTO checkpoints (route, block, block_hash, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (route) DO UPDATE SET block = excluded.block, "
            "block_hash = excluded.block_hash, updated_at = excluded.updated_at",
            (route.value, block, None if block_hash is None else hex32(block_hash), self.clock()),
        )

    def advance_checkpoint(self, route: Route, block: int, block_hash: str | None = None) -> None:
        """Move a route's checkpoint up to `block` (equal is a no-op; lower is refused)."""
        with self._write() as conn:
            self._advance(conn, route, block, block_hash)

    def record_scan(
        self,
        route: Route,
        seen: Sequence[SeenMessage],
        through_block: int | None = None,
        block_hash: str | None = None,
    ) -> list[str]:
        """Store the messages of a scanned range and, in the same transaction, move the
        checkpoint to `through_block` (if given). Returns the ids that were new."""
        with self._write() as conn:
            new = [m.message_id for m in seen if self._observe(conn, route, m)]
            if through_block is not None:
                self._advance(conn, route, through_block, block_hash)
        return [hex32(mid) for mid in new]

    # --- messages: writes ---------------------------------------------------------------

    def _observe(self, conn: sqlite3.Connection, route: Route, seen: SeenMessage) -> bool:
        mid = hex32(seen.message_id, "message id")
        src = seen.source
        location = (
            src.block,
            hex32(src.block_hash, "block hash"),
            hex32(src.tx_hash, "tx hash"),
            src.log_index,
        )
        row = conn.execute(f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (mid,)).fetchone()
        now = self.clock()
        if row is None:
            conn.execute(
                f"INSERT INTO messages ({_V1_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, 0, 'open', NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, ?, ?)",
                (mid, route.value, bytes(seen.message), *location, now, now),
            )
            return True
        old = _record(row)
        if old.message != bytes(seen.message) or old.route is not route:
            raise UnrecoverableError(
                f"message {mid} was stored with other bytes or route: refusing the new copy"
            )
        moved = location != (
            old.source.block,
            old.source.block_hash,
            old.source.tx_hash,
            old.source.log_index,
        )
        if moved and old.stage is Stage.SEEN and old.condition is not Condition.DEAD:
            # a reorg moved the log before it was signed: follow it
            conn.execute(
                "UPDATE messages SET source_block = ?, source_block_hash = ?, source_tx_hash = ?, "
                "source_log_index = ?, updated_at = ? WHERE id = ?",
                (*location, now, mid),
            )
        return False

    def observe(self, route: Route, seen: SeenMessage) -> bool:
        """Store a message read from a log; True if it was new. Safe to repeat. A message
        still at `seen` follows its log if a reorg moved it; later stages keep theirs."""
        with self._write() as conn:
            return self._observe(conn, route, seen)

    def _load(self, conn: sqlite3.Connection, message_id: str) -> MessageRecord:
        mid = hex32(message_id, "message id")
        row = conn.execute(f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (mid,)).fetchone()
        if row is None:
            raise UnknownMessageError(f"message {mid} is not in the store")
        return _record(row)

    def _set(
        self,
        conn: sqlite3.Connection,
        old: MessageRecord,
        stage: Stage,
        condition: Condition,
        round_: int,
        attempts: int,
        **columns: object,
    ) -> None:
        check_transition(old, stage, condition, round_, attempts)
        values = {
            "stage": int(stage),
            "condition": condition.value,
            "round": round_,
            "attempts": attempts,
            "updated_at": self.clock(),
            **columns,
        }
        assignments = ", ".join(f"{name} = ?" for name in values)
        conn.execute(
            f"UPDATE messages SET {assignments} WHERE id = ?", (*values.values(), old.message_id)
        )

    def mark_signed(self, message_id: str, signer: str, signature: bytes) -> None:
        """This attester signed the message: store its signature; stage -> signed (a
        failure before signing is cleared). Signing again at `signed` replaces the
        signature and keeps the condition; after `signed` it is refused."""
        self.mark_all_signed({message_id: {signer: signature}})

    def mark_all_signed(self, signed: Mapping[str, Mapping[str, bytes]]) -> None:
        """mark_signed for many messages (id -> signer -> signature; the embedded demo
        signs with several keys), in one transaction."""
        with self._write() as conn:
            for message_id, signatures in signed.items():
                old = self._load(conn, message_id)
                condition = Condition.OPEN if old.stage < Stage.SIGNED else old.condition
                self._set(conn, old, Stage.SIGNED, condition, old.round, old.attempts)
                for signer, signature in signatures.items():
                    self._put_signature(conn, old.message_id, signer, signature)

    def _put_signature(
        self, conn: sqlite3.Connection, message_id: str, signer: str, signature: bytes
    ) -> bool:
        if len(signature) != 65:
            raise ValueError(f"a signature is 65 bytes (r, s, v), got {len(signature)}")
        cursor = conn.execute(
            "INSERT INTO signatures (message_id, signer, signature, added_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (message_id, signer) DO UPDATE SET signature = excluded.signature "
            "WHERE signature <> excluded.signature",
            (hex32(message_id, "message id"), _address(signer), bytes(signature), self.clock()),
        )
        return cursor.rowcount > 0

    def add_signature(self, message_id: str, signer: str, signature: bytes) -> bool:
        """Store a peer's signature (verified by the caller); True if it was new or changed.
        The message need not be known yet: a peer may be ahead of this attester."""
        with self._write() as conn:
            return self._put_signature(conn, message_id, signer, signature)

    def signatures(self, message_id: str) -> dict[str, bytes]:
        """Signer address -> signature, for one message."""
        rows = self._query(
            "SELECT signer, signature FROM signatures WHERE message_id = ? ORDER BY signer",
            (hex32(message_id, "message id"),),
        )
        return {signer: bytes(sig) for signer, sig in rows}

    def signatures_of(self, message_ids: Sequence[str]) -> dict[str, dict[str, bytes]]:
        """Signer address -> signature, for each of many messages, in one query per 500
        ids (a message without a signature maps to an empty dict)."""
        ids = [hex32(mid, "message id") for mid in message_ids]
        found: dict[str, dict[str, bytes]] = {mid: {} for mid in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._query(
                "SELECT message_id, signer, signature FROM signatures WHERE message_id IN "
                f"({', '.join('?' * len(chunk))}) ORDER BY message_id, signer",
                chunk,
            )
            for mid, signer, signature in rows:
                found[mid][signer] = bytes(signature)
        return found

    def mark_submitted(self, message_ids: str | Sequence[str], tx_hash: str, nonce: int) -> None:
        """A delivery transaction carrying these messages was sent: stage -> submitted.
        A replacement (fee bump) or a retry records its new tx hash and nonce."""
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        with self._write() as conn:
            for mid in ids:
                old = self._load(conn, mid)
                if old.stage is Stage.CONFIRMED:
                    raise StatusRegressionError(
                        f"message {old.message_id} is confirmed: it needs no submission"
                    )
                self._set(
                    conn,
                    old,
                    Stage.SUBMITTED,
                    Condition.OPEN,
                    old.round,
                    old.attempts,
                    tx_hash=hex32(tx_hash, "tx hash"),
                    nonce=nonce,
                    next_retry_at=None,
                )

    def mark_confirmed(
        self, message_ids: str | Sequence[str], tx_hash: str | None, block: int | None
    ) -> None:
        """The destination inbox consumed these messages (read from the chain, whoever
        delivered): stage -> confirmed, from any status, dead included. Safe to repeat."""
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        self.mark_all_confirmed([(mid, tx_hash, block) for mid in ids])

    def mark_all_confirmed(self, confirmed: Sequence[tuple[str, str | None, int | None]]) -> None:
        """mark_confirmed for many messages, each (id, tx hash, block), in one transaction
        (one commit for a whole delivery's messages, not one each)."""
        if not confirmed:
            return
        with self._write() as conn:
            for mid, tx_hash, block in confirmed:
                old = self._load(conn, mid)
                if old.stage is Stage.CONFIRMED:
                    continue
                self._set(
                    conn,
                    old,
                    Stage.CONFIRMED,
                    Condition.OPEN,
                    old.round,
                    old.attempts,
                    confirmed_tx_hash=None if tx_hash is None else hex32(tx_hash, "tx hash"),
                    confirmed_block=block,
                    next_retry_at=None,
                )

    def mark_included(self, message_id: str, inclusion: Inclusion) -> None:
        """The destination inbox consumed the message in a block not yet at the
        destination's confirmation depth: remember where (and by whom), to re-check that
        block's hash at the depth. The status is unchanged; a confirmed message is left
        alone. Repeating it with a new place (the delivery moved) replaces the old."""
        with self._write() as conn:
            old = self._load(conn, message_id)
            if old.stage is Stage.CONFIRMED:
                return
            conn.execute(
                "UPDATE messages SET included_block = ?, included_block_hash = ?, "
                "included_by = ?, included_tx_hash = ?, updated_at = ? WHERE id = ?",
                (
                    inclusion.block,
                    hex32(inclusion.block_hash, "block hash"),
                    _address(inclusion.deliverer),
                    None if inclusion.tx_hash is None else hex32(inclusion.tx_hash, "tx hash"),
                    self.clock(),
                    old.message_id,
                ),
            )

    def mark_lost(self, message_id: str, reason: str) -> None:
        """A delivery seen on the destination (not yet at its depth) is gone from it (a
        reorg, a dropped transaction): forget where it was; the message is open for a
        new delivery (its status is unchanged, a failure reason says why)."""
        with self._write() as conn:
            old = self._load(conn, message_id)
            if old.stage is Stage.CONFIRMED:
                raise StatusRegressionError(
                    f"message {old.message_id} is confirmed: reopen_lost starts a new round"
                )
            conn.execute(
                "UPDATE messages SET included_block = NULL, included_block_hash = NULL, "
                "included_by = NULL, included_tx_hash = NULL, fail_reason = ?, updated_at = ? "
                "WHERE id = ?",
                (reason, self.clock(), old.message_id),
            )

    def reopen_lost(self, message_ids: Iterable[str], reason: str) -> list[str]:
        """Confirmed messages whose delivery the destination no longer has (a reorg
        deeper than its confirmation depth): each starts a new round at `seen` (the
        attest step re-checks its source and signs again), open. Returns the ids."""
        with self._write() as conn:
            reopened: list[str] = []
            for mid in message_ids:
                old = self._load(conn, mid)
                if old.stage is not Stage.CONFIRMED:
                    continue
                self._set(
                    conn,
                    old,
                    Stage.SEEN,
                    Condition.OPEN,
                    old.round + 1,
                    0,
                    fail_reason=reason,
                    next_retry_at=None,
                    confirmed_tx_hash=None,
                    confirmed_block=None,
                    included_block=None,
                    included_block_hash=None,
                    included_by=None,
                    included_tx_hash=None,
                )
                reopened.append(old.message_id)
            return reopened

    def record_wait(self, message_id: str, reason: str, delay: float) -> MessageRecord:
        """The destination is paused, or the payee frozen: not an attempt. The message
        waits (attempts unchanged) and is looked at again in `delay` seconds. Returns the
        new record; a confirmed or dead message is left as it is."""
        with self._write() as conn:
            old = self._load(conn, message_id)
            if old.stage is Stage.CONFIRMED or old.condition is Condition.DEAD:
                return old
            self._set(
                conn,
                old,
                old.stage,
                Condition.WAITING,
                old.round,
                old.attempts,
                fail_reason=reason,
                next_retry_at=self.clock() + delay,
            )
            return self._load(conn, message_id)

    def record_failure(
        self, message_id: str, reason: str, schedule: RetrySchedule
    ) -> MessageRecord:
        """An attempt failed for a passing reason: attempts + 1, then `schedule` says when
        to retry (failed, next_retry_at) or to give up (dead). Returns the new record."""
        with self._write() as conn:
            old = self._load(conn, message_id)
            attempts = old.attempts + 1
            delay = schedule.next_delay(attempts)
            if delay is None:
                self._set(
                    conn,
                    old,
                    old.stage,
                    Condition.DEAD,
                    old.round,
                    attempts,
                    fail_reason=reason,
                    next_retry_at=None,
                )
            else:
                self._set(
                    conn,
                    old,
                    old.stage,
                    Condition.FAILED,
                    old.round,
                    attempts,
                    fail_reason=reason,
                    next_retry_at=self.clock() + delay,
                )
            return self._load(conn, message_id)

    def mark_dead(self, message_id: str, reason: str) -> None:
        """Give up on a message now (e.g. its source state contradicts its log)."""
        with self._write() as conn:
            old = self._load(conn, message_id)
            if old.condition is Condition.DEAD:
                return
            self._set(
                conn,
                old,
                old.stage,
                Condition.DEAD,
                old.round,
                old.attempts,
                fail_reason=reason,
                next_retry_at=None,
            )

    def reopen_dead(
        self, message_ids: Iterable[str] | None = None, route: Route | None = None
    ) -> list[str]:
        """Take dead messages up again (the start sweep, `pvd retry`): each starts a new
        round with attempts 0, failed and due now, keeping its stage and last reason.
        With no ids, every dead message (of `route`, if given). Returns the reopened ids."""
        with self._write() as conn:
            if message_ids is None:
                sql = "SELECT id FROM messages WHERE condition = 'dead' AND stage < 3"
                params: tuple[str, ...] = ()
                if route is not None:
                    sql, params = sql + " AND route = ?", (route.value,)
                ids = [row[0] for row in conn.execute(sql, params).fetchall()]
            else:
                ids = [hex32(mid, "message id") for mid in message_ids]
            reopened: list[str] = []
            for mid in ids:
                old = self._load(conn, mid)
                if old.condition is not Condition.DEAD or old.stage is Stage.CONFIRMED:
                    continue
                self._set(
                    conn,
                    old,
                    old.stage,
                    Condition.FAILED,
                    old.round + 1,
                    0,
                    next_retry_at=self.clock(),
                )
                reopened.append(mid)
            return reopened

    # --- messages: queries ------------------------------------------------------------

    def get(self, message_id: str) -> MessageRecord | None:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (hex32(message_id, "message id"),)
        )
        return _record(rows[0]) if rows else None

    def _where(self, route: Route | None, *clauses: str) -> tuple[str, list[object]]:
        # The route comes first: callers append the parameters of their own clauses after.
        parts: list[str] = []
        params: list[object] = []
        if route is not None:
            parts.append("route = ?")
            params.append(route.value)
        parts.extend(clauses)
        return " AND ".join(parts) or "1", params

    _PENDING = "stage < 3 AND condition <> 'dead'"

    def pending(self, route: Route | None = None, limit: int | None = None) -> list[MessageRecord]:
        """Not confirmed and not dead (failed ones included), oldest first."""
        where, params = self._where(route, self._PENDING)
        sql = f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY first_seen, id"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return [_record(row) for row in self._query(sql, params)]

    def actionable(
        self,
        route: Route | None = None,
        now: float | None = None,
        limit: int | None = None,
        stages: Sequence[Stage] | None = None,
    ) -> list[MessageRecord]:
        """What to work on now: pending and either open or failed and due, oldest first
        (only those at one of `stages`, if given)."""
        moment = self.clock() if now is None else now
        clauses = [self._PENDING, "(condition = 'open' OR next_retry_at <= ?)"]
        if stages is not None:
            clauses.append(f"stage IN ({', '.join(str(int(Stage(s))) for s in stages) or 'NULL'})")
        where, params = self._where(route, *clauses)
        params.append(moment)
        sql = f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY first_seen, id"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return [_record(row) for row in self._query(sql, params)]

    def due_for_retry(
        self, route: Route | None = None, now: float | None = None, limit: int | None = None
    ) -> list[MessageRecord]:
        """Failed messages whose retry time has come, soonest first."""
        moment = self.clock() if now is None else now
        where, params = self._where(
            route, "condition IN ('failed', 'waiting')", "next_retry_at <= ?"
        )
        params.append(moment)
        sql = f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY next_retry_at, id"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return [_record(row) for row in self._query(sql, params)]

    def unconfirmed(self, route: Route | None = None) -> list[MessageRecord]:
        """Every message not yet confirmed, dead and waiting ones included, oldest first."""
        where, params = self._where(route, "stage < 3")
        rows = self._query(
            f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY first_seen, id", params
        )
        return [_record(row) for row in rows]

    def dead(self, route: Route | None = None) -> list[MessageRecord]:
        where, params = self._where(route, "condition = 'dead'", "stage < 3")
        rows = self._query(
            f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY first_seen", params
        )
        return [_record(row) for row in rows]

    def confirmed_since(self, route: Route, block: int) -> list[MessageRecord]:
        """Confirmed messages of `route` whose delivery is in destination block `block`
        or later (the sweep looks at these for a delivery a deep reorg removed)."""
        where, params = self._where(route, "stage = 3", "confirmed_block >= ?")
        rows = self._query(
            f"SELECT {_COLUMNS} FROM messages WHERE {where} ORDER BY confirmed_block, id",
            [*params, block],
        )
        return [_record(row) for row in rows]

    def backlog(self, route: Route | None = None) -> int:
        """How many messages are pending (not confirmed, not dead)."""
        where, params = self._where(route, self._PENDING)
        return int(self._query(f"SELECT COUNT(*) FROM messages WHERE {where}", params)[0][0])

    def oldest_pending_age(self, route: Route | None = None, now: float | None = None) -> float:
        """Seconds since the oldest pending message was first seen (0 with none pending)."""
        where, params = self._where(route, self._PENDING)
        oldest = self._query(f"SELECT MIN(first_seen) FROM messages WHERE {where}", params)[0][0]
        if oldest is None:
            return 0.0
        moment = self.clock() if now is None else now
        return max(0.0, moment - float(oldest))

    def status_counts(self, route: Route | None = None) -> dict[str, int]:
        """How many messages have each status (see MessageRecord.status)."""
        where, params = self._where(route)
        rows = self._query(
            "SELECT CASE WHEN stage = 3 THEN 'confirmed' WHEN condition <> 'open' THEN condition "
            "ELSE CASE stage WHEN 0 THEN 'seen' WHEN 1 THEN 'signed' ELSE 'submitted' END END, "
            f"COUNT(*) FROM messages WHERE {where} GROUP BY 1",
            params,
        )
        return {status: int(count) for status, count in rows}
