"""pvd.chain.local's managed processes: a PID is stopped only while it is still the
process that was started; dead and replaced ones are told apart."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from pvd.chain.anvil import process_alive
from pvd.chain.local import ManagedProcess, StackState, read_stack, spawn, stop, write_stack

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_spawned_process_runs_and_is_stopped(tmp_path: Path) -> None:
    process = spawn("sleeper", "test", SLEEP, tmp_path / "sleeper.log")
    assert process.state() == "running" and process.start_ticks is not None
    assert stop(process) == "stopped"
    assert process.state() == "dead" and not process_alive(process.pid)
    assert stop(process) == "dead"


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    real = spawn("sleeper", "test", SLEEP, tmp_path / "sleeper.log")
    try:
        assert real.start_ticks is not None
        impostor = dataclasses.replace(real, start_ticks=real.start_ticks - 1)
        assert impostor.state() == "replaced"
        assert stop(impostor) == "replaced"
        assert process_alive(real.pid)
    finally:
        assert stop(real) == "stopped"


def test_the_stack_file_round_trips(tmp_path: Path) -> None:
    process = ManagedProcess("relay-a", "relay", 12345, ("pvd", "relay"), 99, "/x.log", "http://u")
    state = StackState({"payment": "http://p"}, {"payment": "/m.json"}, (process,), {"k": 1})
    write_stack(tmp_path, state)
    assert read_stack(tmp_path) == state
    assert read_stack(tmp_path / "none") is None


def test_chains_status_tells_a_dead_anvil_from_a_live_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from pvd.chain import local as localchains
    from pvd.cli.main import main

    state = tmp_path / "chains.json"
    nodes = localchains.up(state)
    try:
        stop(adopt_node(nodes[0]))
        assert main(["chains", "status", "--state", str(state), "--json"]) == 0
        report = {n["name"]: n["state"] for n in json.loads(capsys.readouterr().out)}
        assert report == {"payment": "dead (process gone)", "business": "live"}
    finally:
        localchains.down(state)


def adopt_node(node: object) -> ManagedProcess:
    from pvd.chain.local import adopt

    return adopt("anvil", "anvil", node.pid, Path("/dev/null"))  # type: ignore[attr-defined]
