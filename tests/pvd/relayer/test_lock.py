"""pvd.relayer.lock: one relayer per store and per key; a dead holder's lock is reclaimed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvd.errors import UserError
from pvd.relayer.lock import RelayerLocks, holder_pid, key_lock, store_lock

ADDRESS = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
GAS = "0x6813Eb9362372EEF6200f3b1dbC3f819671cBA69"
REPO = Path(__file__).resolve().parents[3]

# A child process that takes the relayer locks, says so, and waits to be told to go.
HOLDER = """
import sys
from pathlib import Path
from pvd.relayer.lock import RelayerLocks
locks = RelayerLocks(Path(sys.argv[1]), Path(sys.argv[2]), [sys.argv[3]])
locks.acquire()
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A subprocess holding the store and key locks; always stopped after the test."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(tmp_path / "relay.sqlite"),
            str(tmp_path / "locks"),
            ADDRESS,
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_a_second_lock_on_the_same_store_is_refused_naming_the_pid(tmp_path: Path) -> None:
    store = tmp_path / "relay.sqlite"
    with store_lock(store), pytest.raises(UserError) as info:
        store_lock(store).acquire()
    message = str(info.value)
    assert f"another pvd relay (pid {os.getpid()}) already uses store {store}" in message
    assert "give this relayer its own store path" in message
    assert "\n" not in message


def test_the_lock_file_lies_next_to_the_store_and_holds_the_pid(tmp_path: Path) -> None:
    store = tmp_path / "relay.sqlite"
    with store_lock(store) as lock:
        assert lock.path == tmp_path / "relay.sqlite.lock"
        assert holder_pid(lock.path) == os.getpid()
    assert holder_pid(tmp_path / "relay.sqlite.lock") is None


def test_a_lock_is_released_when_its_holder_leaves_the_block(tmp_path: Path) -> None:
    store = tmp_path / "relay.sqlite"
    with store_lock(store) as first:
        assert first.held
    assert not first.held
    with store_lock(store) as second:
        assert second.held


def test_acquiring_a_held_lock_again_in_its_holder_is_a_no_op(tmp_path: Path) -> None:
    lock = store_lock(tmp_path / "relay.sqlite")
    lock.acquire()
    lock.acquire()
    assert lock.held
    lock.release()
    lock.release()
    assert not lock.held


def test_a_second_relayer_on_the_same_key_is_refused_whatever_its_store(tmp_path: Path) -> None:
    first = RelayerLocks(tmp_path / "one.sqlite", tmp_path / "locks", [ADDRESS, GAS])
    second = RelayerLocks(tmp_path / "two.sqlite", tmp_path / "locks", [GAS.lower()])
    with first, pytest.raises(UserError) as info:
        second.acquire()
    message = str(info.value)
    assert f"already uses key {GAS.lower()}" in message
    assert f"lock {tmp_path / 'locks' / (GAS.lower() + '.lock')}" in message
    assert "give each attester its own attestation and gas keys" in message


def test_a_refused_relayer_keeps_none_of_the_locks_it_took(tmp_path: Path) -> None:
    locks_dir = tmp_path / "locks"
    with key_lock(locks_dir, GAS):
        refused = RelayerLocks(tmp_path / "two.sqlite", locks_dir, [ADDRESS, GAS])
        with pytest.raises(UserError):
            refused.acquire()
        assert not any(lock.held for lock in refused.locks)
        with store_lock(tmp_path / "two.sqlite") as store, key_lock(locks_dir, ADDRESS) as key:
            assert store.held and key.held


def test_a_lock_held_by_another_process_names_that_process(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(UserError) as info:
        RelayerLocks(tmp_path / "relay.sqlite", tmp_path / "locks", [ADDRESS]).acquire()
    assert f"another pvd relay (pid {holder.pid}) already uses store" in str(info.value)
    with pytest.raises(UserError) as info:
        key_lock(tmp_path / "locks", ADDRESS).acquire()
    assert f"(pid {holder.pid}) already uses key {ADDRESS}" in str(info.value)


def test_the_locks_are_released_when_the_holder_exits(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.wait(timeout=10) == 0
    with RelayerLocks(tmp_path / "relay.sqlite", tmp_path / "locks", [ADDRESS]) as locks:
        assert all(lock.held for lock in locks.locks)


def test_a_stale_lock_of_a_killed_process_is_reclaimed(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    lock_file = tmp_path / "relay.sqlite.lock"
    assert holder_pid(lock_file) == holder.pid
    os.kill(holder.pid, signal.SIGKILL)
    assert holder.wait(timeout=10) == -signal.SIGKILL
    assert holder_pid(lock_file) == holder.pid  # the file still names the dead process
    with RelayerLocks(tmp_path / "relay.sqlite", tmp_path / "locks", [ADDRESS]) as locks:
        assert all(lock.held for lock in locks.locks)
        assert holder_pid(lock_file) == os.getpid()
        assert holder_pid(tmp_path / "locks" / f"{ADDRESS.lower()}.lock") == os.getpid()


def test_an_unwritable_lock_directory_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create lock file"):
        key_lock(blocker / "locks", ADDRESS).acquire()
