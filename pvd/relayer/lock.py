"""One relayer per store and per key: advisory file locks.

Owns the locks that make a second `pvd relay` on the same store or the same key refuse
to start. Each lock is an flock(2) on a small file holding the holder's PID:

- the store lock is `<store path>.lock`, next to the store;
- each key lock is `<lock dir>/<address>.lock` (lower-case address), one per key
  address (attestation and gas key alike), so that two relayers with different
  stores still cannot share a key (they would sign twice or race for gas nonces).

flock belongs to the open file description, so the kernel drops it when the holder
exits for any reason, SIGKILL included: a stale lock file is simply re-locked and its
PID overwritten. Two opens in one process conflict too, so the embedded mode (several
attesters in one process) gets the same protection. Lock files are never deleted:
unlinking a lock file races with a process that has just opened it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from pvd.errors import UserError


def holder_pid(path: Path) -> int | None:
    """The PID written in a lock file, if any (the holder may already be gone)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class InstanceLock:
    """An exclusive, non-blocking lock on one file; a context manager."""

    def __init__(self, path: Path, what: str, fix: str) -> None:
        self.path = path
        self.what = what  # e.g. "store /x/relay.sqlite": named in the refusal
        self.fix = fix  # what to do about it: also named in the refusal
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise UserError naming the PID that holds it."""
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UserError(
                f"cannot create lock file {self.path}: {exc.strerror}; "
                "check that its directory is writable"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError(
                    f"cannot lock {self.path}: {exc.strerror}; use a local filesystem"
                ) from None
            pid = holder_pid(self.path)
            holder = f"pid {pid}" if pid is not None else "a process that has not written its pid"
            raise UserError(
                f"another pvd relay ({holder}) already uses {self.what} (lock {self.path}); "
                f"{self.fix}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays; its PID is cleared."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def store_lock(store_path: Path) -> InstanceLock:
    """The lock next to a store: one relayer writes a store's checkpoints."""
    return InstanceLock(
        store_path.with_name(store_path.name + ".lock"),
        f"store {store_path}",
        "stop it first or give this relayer its own store path",
    )


def key_lock(lock_dir: Path, address: str) -> InstanceLock:
    """The lock for one key address: one relayer per key on this machine."""
    return InstanceLock(
        lock_dir / f"{address.lower()}.lock",
        f"key {address}",
        "stop it first or give each attester its own attestation and gas keys",
    )


class RelayerLocks:
    """The store lock plus one lock per key address, taken together or not at all."""

    def __init__(self, store_path: Path, lock_dir: Path, addresses: Iterable[str]) -> None:
        unique = sorted({a.lower(): a for a in addresses}.items())  # fixed order: no deadlock
        self.locks = [store_lock(store_path)] + [key_lock(lock_dir, a) for _, a in unique]

    def acquire(self) -> None:
        taken: list[InstanceLock] = []
        try:
            for lock in self.locks:
                lock.acquire()
                taken.append(lock)
        except BaseException:
            for lock in reversed(taken):
                lock.release()
            raise

    def release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()

    def __enter__(self) -> RelayerLocks:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
