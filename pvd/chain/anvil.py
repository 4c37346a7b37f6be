"""Anvil processes that pvd starts and stops itself (`pvd chains up|down`, the demo on
anvil, the integration tests). Ports are picked free; a process is stopped by its own PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from pvd.chain.ports import free_port
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT

START_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class AnvilNode:
    name: str
    chain_id: int
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def anvil_binary() -> str:
    """anvil from PATH, else the native binary that npm put in the project's node_modules."""
    found = shutil.which("anvil") or next(
        (str(p) for p in PROJECT_ROOT.glob("node_modules/@foundry-rs/anvil-*/bin/anvil")), None
    )
    if found is None:
        raise UserError("anvil is not installed: run `make setup` (npm installs it)")
    return found


# Keep the recent blocks' states in memory and drop older ones, as a non-archive node
# does (the relayer reads those at the latest block). anvil's default also writes old
# states to a disk cache, and then every read at a past block is slow: ADR 0008, and
# `make bench`'s `node` section measures both.
NON_ARCHIVE = ("--max-persisted-states", "0")


def start_anvil(
    name: str,
    chain_id: int,
    *,
    log_path: Path | None = None,
    block_time: float | None = None,
    history: Sequence[str] = NON_ARCHIVE,
) -> AnvilNode:
    """Start anvil on a free port and wait until it answers with `chain_id`. `history`:
    the flags for the states it keeps (NON_ARCHIVE; () is anvil's default)."""
    port = free_port()
    command = [anvil_binary(), "--port", str(port), "--chain-id", str(chain_id), "--silent"]
    command += history
    if block_time is not None:
        command += ["--block-time", str(block_time)]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    node = AnvilNode(name=name, chain_id=chain_id, port=port, pid=process.pid)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 1}))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(f"anvil for the {name} chain exited at start (port {port} taken?)")
        try:
            if w3.eth.chain_id == chain_id:
                return node
        except Exception:
            time.sleep(0.05)
    stop_anvil(node)
    raise UserError(f"anvil for the {name} chain did not answer within {START_TIMEOUT_SECONDS}s")


def stop_anvil(node: AnvilNode) -> None:
    """Stop the process we started (by PID), waiting briefly for it to end."""
    try:
        os.kill(node.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(node.pid, os.WNOHANG)
        except ChildProcessError:  # not our child (started by another pvd process)
            finished = 0 if process_alive(node.pid) else node.pid
        if finished:
            return
        time.sleep(0.05)
    os.kill(node.pid, signal.SIGKILL)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
