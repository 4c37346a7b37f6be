"""Local processes that outlive the command that started them.

- `pvd chains up|down`: the two local anvil chains (payment, business). Their PIDs and
  ports are kept in a state file, and an environment file for brownie's `payment-local` /
  `business-local` networks is written beside it. `down` stops exactly the processes
  recorded there.
- `pvd up|down|ps`: the whole local stack. Every process it starts is a `ManagedProcess`
  in `<home>/stack.json` (`StackState`), recorded with its command line and its start
  time as the kernel reports it, so `down` stops a PID only while it is still the process
  `up` started (a PID reused by another program is left alone) and `ps` tells running,
  dead and replaced apart. What runs is a list of processes, not a fixed set: any
  service (a relayer, an indexer, an explorer) is one more entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pvd.chain.anvil import AnvilNode, process_alive, start_anvil, stop_anvil
from pvd.errors import UserError

# Chain ids of the local anvils; brownie's network-config.yaml declares the same.
LOCAL_CHAINS = (("payment", 7001), ("business", 7002))


def env_file(state: Path) -> Path:
    return state.with_name("chains.env")


def running(state: Path) -> list[AnvilNode]:
    if not state.exists():
        return []
    try:
        return [AnvilNode(**entry) for entry in json.loads(state.read_text())]
    except (json.JSONDecodeError, TypeError) as exc:
        raise UserError(
            f"chain state file {state} is corrupt ({exc}): "
            "stop stray anvils by hand, then delete it"
        ) from None


def up(state: Path) -> list[AnvilNode]:
    if live := [node for node in running(state) if process_alive(node.pid)]:
        raise UserError(
            f"local chains already running (pids {', '.join(str(n.pid) for n in live)}): "
            "`make chains-down` first"
        )
    state.parent.mkdir(parents=True, exist_ok=True)
    nodes: list[AnvilNode] = []
    try:
        for name, chain_id in LOCAL_CHAINS:
            nodes.append(start_anvil(name, chain_id, log_path=state.with_name(f"{name}.log")))
    except BaseException:
        for node in nodes:
            stop_anvil(node)
        raise
    state.write_text(json.dumps([asdict(node) for node in nodes], indent=2))
    env_file(state).write_text(
        "".join(f"export PVD_{node.name.upper()}_RPC={node.url}\n" for node in nodes)
    )
    return nodes


def down(state: Path) -> list[AnvilNode]:
    nodes = running(state)
    for node in nodes:
        stop_anvil(node)
    state.unlink(missing_ok=True)
    env_file(state).unlink(missing_ok=True)
    return nodes


# ----------------------------------------------------------------- the local stack

STACK_FILE = "stack.json"
STOP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ManagedProcess:
    """One background process of the local stack."""

    name: str  # unique in the stack: "anvil-payment", "relay-attester-1", ...
    kind: str  # "anvil", "relay", ... (what `ps` groups by)
    pid: int
    command: tuple[str, ...]
    start_ticks: int | None  # the kernel's start time of the PID (None: not on Linux)
    log: str
    url: str | None = None  # what it serves: an RPC URL, a metrics URL

    def state(self) -> str:
        """ "running", "dead" (gone) or "replaced" (the PID now belongs to another program)."""
        if not process_alive(self.pid) or _zombie(self.pid):
            return "dead"
        if self.start_ticks is not None and start_ticks(self.pid) != self.start_ticks:
            return "replaced"
        return "running"


@dataclass(frozen=True)
class StackState:
    """What `pvd up` started and wrote: `<home>/stack.json`."""

    rpc: Mapping[str, str] = field(default_factory=dict)  # chain role -> RPC URL
    manifests: Mapping[str, str] = field(default_factory=dict)  # chain role -> manifest
    processes: tuple[ManagedProcess, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)  # configs, deployment key...

    def to_json(self) -> dict[str, Any]:
        return {
            "rpc": dict(self.rpc),
            "manifests": dict(self.manifests),
            "processes": [asdict(p) for p in self.processes],
            "details": dict(self.details),
        }


def stack_file(home: Path) -> Path:
    return home / STACK_FILE


def read_stack(home: Path) -> StackState | None:
    """The stack `pvd up` recorded under `home` (None if there is none)."""
    path = stack_file(home)
    try:
        data = json.loads(path.read_text())
        return StackState(
            rpc=dict(data["rpc"]),
            manifests=dict(data["manifests"]),
            processes=tuple(
                ManagedProcess(**{**p, "command": tuple(p["command"])}) for p in data["processes"]
            ),
            details=dict(data.get("details", {})),
        )
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(
            f"stack state file {path} is corrupt ({type(exc).__name__}): stop stray processes "
            "by hand (pvd ps shows none), then delete it"
        ) from None


def write_stack(home: Path, state: StackState) -> Path:
    path = stack_file(home)
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def spawn(
    name: str,
    kind: str,
    command: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    url: str | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start `command` in the background, in its own session (a terminal's Ctrl-C does
    not reach it), output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    return ManagedProcess(
        name=name,
        kind=kind,
        pid=process.pid,
        command=tuple(command),
        start_ticks=start_ticks(process.pid),
        log=str(log),
        url=url,
    )


def adopt(name: str, kind: str, pid: int, log: Path, url: str | None = None) -> ManagedProcess:
    """Record a process started elsewhere (an anvil from pvd.chain.anvil) as managed."""
    return ManagedProcess(
        name=name,
        kind=kind,
        pid=pid,
        command=tuple(_cmdline(pid)),
        start_ticks=start_ticks(pid),
        log=str(log),
        url=url,
    )


def stop(process: ManagedProcess) -> str:
    """Stop `process` if it is still the one that was started: SIGTERM, then SIGKILL after
    STOP_TIMEOUT_SECONDS. Returns what was found: "stopped", "dead" or "replaced" (a PID
    now used by another program, left alone)."""
    found = process.state()
    if found != "running":
        _reap(process.pid)
        return found
    try:
        os.kill(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return "dead"
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not process_alive(process.pid) or _zombie(process.pid):
            _reap(process.pid)  # our child's zombie goes here; another's, by its parent
            return "stopped"
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    _reap(process.pid)
    return "stopped"


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), a
    value a reused PID does not repeat; None where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 counted from 1; fields here start at field 3


def holds_lock(pid: int, path: Path) -> bool | None:
    """Whether process `pid` holds an flock on the file `path` (its open files in
    /proc/<pid>/fd and their locks in /proc/<pid>/fdinfo); None where /proc is not there."""
    folder = Path(f"/proc/{pid}/fd")
    if not Path("/proc/self/fdinfo").is_dir():
        return None
    target = os.path.realpath(path)
    try:
        descriptors = list(folder.iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) != target:
                continue
            info = Path(f"/proc/{pid}/fdinfo/{descriptor.name}").read_text()
        except OSError:
            continue
        if any(line.startswith("lock:") and "FLOCK" in line for line in info.splitlines()):
            return True
    return False


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
