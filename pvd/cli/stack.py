"""`pvd up`, `pvd down`, `pvd ps`: a whole local pvd stack in one command.

`up` starts two anvil chains (payment, business), deploys and wires pvd (or reuses the
deployment it made before, if the chains still hold it), gives the central bank the
compliance and pauser roles and the relayers' gas keys ether, writes one relay config per
attester (development keys, 2-of-3), starts three `pvd relay` processes, the chain index
(`pvd index --follow` into `<home>/index.db`) and the explorer (`pvd explorer` on a free
port, reading that index and the relayers' metrics) in the background, and waits until
each answers. Everything lives under `--home` (default .pvd/): `stack.json` (what runs),
`deployments/`, `relay/<attester>.toml` and stores, `index.db`, `logs/`. Re-running `up`
keeps what still runs and starts what does not; a new deployment starts with new relayer
stores and a new index (the old ones name chains that are gone).

`down` stops exactly the processes `up` recorded, each only while its PID is still that
process. `ps` lists them, dead ones as dead.

The managed processes are data: `SERVICES` lists what `up` starts after the chains and
the deployment, in order, each a `Service` with a command, a health check, an
environment and the services that must answer before it starts.

`start_relayers` starts the same three relayers (`RELAYERS`: same configs, keys, ports
and health checks, through the same code) for chains and a deployment made elsewhere:
`make relayers` (pvd_brownie.relayers) after `make chains` and a brownie deployment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pvd.chain.anvil import start_anvil
from pvd.chain.connection import Chain, rpc_chain
from pvd.chain.local import (
    LOCAL_CHAINS,
    ManagedProcess,
    StackState,
    adopt,
    holds_lock,
    read_stack,
    spawn,
    stack_file,
    stop,
    write_stack,
)
from pvd.chain.ports import free_port, port_free
from pvd.cli.commandserver import connect, socket_path
from pvd.cli.context import DEFAULT_HOME, HelpFormatter
from pvd.client import money
from pvd.client.roles import DEV_ACCOUNTS, dev_account
from pvd.deploy.manifest import read_manifest
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT

DOMAINS = {"payment": 1, "business": 2}
ATTESTERS = ("attester-1", "attester-2", "attester-3")
THRESHOLD = 2
GAS_FUNDS = 1000 * 10**18  # wei for each relayer's gas key (local chains only)
READY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Layout:
    """Where `up` keeps each file under its home folder."""

    home: Path

    @property
    def deployments(self) -> Path:
        return self.home / "deployments"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def relay_config(self, attester: str) -> Path:
        return self.home / "relay" / f"{attester}.toml"

    def relay_store(self, attester: str) -> Path:
        return self.home / "relay" / f"{attester}.sqlite"

    @property
    def locks(self) -> Path:
        return self.home / "relay" / "locks"

    @property
    def index_db(self) -> Path:
        return self.home / "index.db"

    @property
    def index_url(self) -> str:
        return f"sqlite:///{self.index_db}"


@dataclass(frozen=True)
class Service:
    """One background process `up` manages after the chains and the deployment."""

    name: str
    kind: str
    command: Callable[[Layout, StackState], list[str]]
    env: Callable[[Layout, StackState], Mapping[str, str]]
    ready: Callable[[Layout, StackState], bool]  # raises nothing; True once healthy
    url: Callable[[Layout, StackState], str | None]
    prepare: Callable[[Layout, StackState], None] = lambda layout, state: None
    after: tuple[str, ...] = ()  # services that must answer before this one starts


def _own_environment(layout: Layout, state: StackState) -> Mapping[str, str]:
    """The caller's environment without its PVD_ variables (the stack passes its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}


def _pvd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pvd.cli.main", *args]


def _deployment_args(state: StackState) -> list[str]:
    return [
        *("--payment-manifest", state.manifests["payment"]),
        *("--business-manifest", state.manifests["business"]),
        *("--payment-rpc", state.rpc["payment"]),
        *("--business-rpc", state.rpc["business"]),
    ]


# --------------------------------------------------------------------------- relayers


def _relay_ports(state: StackState, attester: str) -> dict[str, int]:
    ports: dict[str, int] = state.details["ports"][attester]
    return ports


def _relay_service(attester: str) -> Service:
    def command(layout: Layout, state: StackState) -> list[str]:
        config = str(layout.relay_config(attester))
        return [sys.executable, "-m", "pvd.cli.main", "relay", "--config", config]

    def env(layout: Layout, state: StackState) -> Mapping[str, str]:
        index = ATTESTERS.index(attester) + 1
        keys = {
            # TEST KEYS: the public development mnemonic's, for local chains only
            "PVD_ATTESTATION_KEY": "0x" + bytes(dev_account(attester).key).hex(),
            "PVD_GAS_KEY": "0x" + bytes(dev_account(f"relayer-{index}").key).hex(),
        }
        return {**_own_environment(layout, state), **keys}

    def ready(layout: Layout, state: StackState) -> bool:
        url = f"http://127.0.0.1:{_relay_ports(state, attester)['quorum']}/health"
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                return bool(json.load(answer)["signer"] == dev_account(attester).address)
        except (OSError, ValueError, KeyError):
            return False

    def url(layout: Layout, state: StackState) -> str:
        return f"http://127.0.0.1:{_relay_ports(state, attester)['metrics']}/metrics"

    def prepare(layout: Layout, state: StackState) -> None:
        _write_relay_config(layout, state, attester)

    return Service(f"relay-{attester}", "relay", command, env, ready, url, prepare)


# ------------------------------------------------------------------- index and explorer

INDEX_POLL_SECONDS = 0.25  # the explorer's own step: a new block shows within a second


def _index_service() -> Service:
    """`pvd index --follow` into the stack's own index. It answers once it holds the
    index's writer lock (so the explorer, started after it, only reads) and the index
    holds both chains of this deployment up to their deployment blocks."""

    def command(layout: Layout, state: StackState) -> list[str]:
        return _pvd(
            "index",
            "--follow",
            *("--poll", str(INDEX_POLL_SECONDS)),
            *("--db", layout.index_url),
            *_deployment_args(state),
        )

    def ready(layout: Layout, state: StackState) -> bool:
        process = _process(state, "index")
        lock = layout.index_db.with_name(layout.index_db.name + ".writer.lock")
        if process is None or holds_lock(process.pid, lock) is False:
            return False
        return _index_holds_deployment(layout, state)

    def url(layout: Layout, state: StackState) -> str:
        return layout.index_url

    return Service("index", "index", command, _own_environment, ready, url)


def _index_holds_deployment(layout: Layout, state: StackState) -> bool:
    """The index's checkpoints name this deployment's chains, each indexed at least to
    the block of its last deployed contract."""
    from sqlalchemy.exc import SQLAlchemyError

    from pvd.index.db import open_index
    from pvd.index.query import chain_checkpoints

    if not layout.index_db.exists():
        return False
    try:
        engine = open_index(layout.index_url, create=False)
    except UserError:
        return False
    try:
        found = {c.name: c for c in chain_checkpoints(engine)}
    except SQLAlchemyError:  # the schema still being created: not ready yet
        return False
    finally:
        engine.dispose()
    for role, path in state.manifests.items():
        manifest = read_manifest(Path(path))
        checkpoint = found.get(role)
        if checkpoint is None or (checkpoint.chain_id, checkpoint.genesis_hash) != (
            manifest.chain.chain_id,
            manifest.chain.genesis_hash,
        ):
            return False
        if checkpoint.indexed_block < max(c.block for c in manifest.contracts.values()):
            return False
    return True


def _explorer_port(state: StackState) -> int:
    port: int = state.details["ports"]["explorer"]
    return port


def _explorer_service() -> Service:
    """`pvd explorer` on the stack's index (read as the indexer writes it) and the
    relayers' metrics. It answers once its trades page does."""

    def command(layout: Layout, state: StackState) -> list[str]:
        metrics = [
            arg
            for attester in ATTESTERS
            for arg in ("--relayer-metrics", _relay_service(attester).url(layout, state) or "")
        ]
        return _pvd(
            "explorer",
            *_deployment_args(state),
            *("--db", layout.index_url),
            *("--port", str(_explorer_port(state))),
            *metrics,
        )

    def ready(layout: Layout, state: StackState) -> bool:
        try:
            with urllib.request.urlopen(f"{url(layout, state)}trades", timeout=2) as answer:
                return bool(answer.status == 200 and b"<h1>Trades" in answer.read())
        except (OSError, ValueError):
            return False

    def url(layout: Layout, state: StackState) -> str:
        return f"http://127.0.0.1:{_explorer_port(state)}/"

    return Service("explorer", "explorer", command, _own_environment, ready, url, after=("index",))


def _command_server_service() -> Service:
    """`pvd command-server`: the trade and money steps of this home run in a process that
    has already imported web3 (pvd.cli.commandserver). It answers once its socket does."""

    def command(layout: Layout, state: StackState) -> list[str]:
        return _pvd("command-server", "--home", str(layout.home))

    def ready(layout: Layout, state: StackState) -> bool:
        try:
            connect(socket_path(layout.home)).close()
        except OSError:
            return False
        return True

    def url(layout: Layout, state: StackState) -> str:
        return f"unix:{socket_path(layout.home)}"

    return Service("commands", "commands", command, _own_environment, ready, url)


RELAYERS: list[Service] = [_relay_service(name) for name in ATTESTERS]
SERVICES: list[Service] = [
    *RELAYERS,
    _index_service(),
    _explorer_service(),
    _command_server_service(),
]


def _write_relay_config(layout: Layout, state: StackState, me: str) -> Path:
    ports = state.details["ports"]
    peers = "".join(
        f"\n[[quorum.peers]]\naddress = '{dev_account(other).address}'\n"
        f"url = 'http://127.0.0.1:{ports[other]['quorum']}'\n"
        for other in ATTESTERS
        if other != me
    )
    chains = "".join(
        f"""
[chains.{role}]
rpc_urls = ['{state.rpc[role]}']
domain_id = {DOMAINS[role]}
manifest = '{state.manifests[role]}'
confirmations = 0
poll_interval = 0.2
"""
        for role in ("payment", "business")
    )
    text = f"""\
# {me}: written by `pvd up` for a local stack. Development keys (TEST KEYS, public) are
# passed in the environment variables named below; never put a key in this file.
[relay]
name = '{me}'
{chains}
[keys.attestation]
env = 'PVD_ATTESTATION_KEY'

[keys.gas]
env = 'PVD_GAS_KEY'

[store]
path = '{layout.relay_store(me)}'
lock_dir = '{layout.locks}'

[metrics]
port = {ports[me]["metrics"]}

[retry]
base_delay = 0.2
max_delay = 5.0
max_attempts = 100

[quorum]
listen_port = {ports[me]["quorum"]}
{peers}"""
    path = layout.relay_config(me)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------------- up


def up(home: Path, out: Callable[[str], None] = print) -> StackState:
    """Start (or complete) the local stack under `home`; returns what runs."""
    layout = Layout(home.resolve())
    _check_writable(layout.home)
    state = read_stack(layout.home) or StackState()
    started = time.monotonic()

    state = _chains(layout, state, out)
    write_stack(layout.home, state)
    state = _deployment(layout, state, out)
    write_stack(layout.home, state)

    state = _start_services(layout, _with_ports(layout, state), SERVICES)
    out(f"explorer: {_explorer_service().url(layout, state)}; index: {layout.index_url}")
    out(f"local stack ready in {time.monotonic() - started:.1f}s (state: {stack_file(home)})")
    return state


def start_relayers(home: Path, rpc: Mapping[str, str], manifests: Mapping[str, str]) -> StackState:
    """The stack's three relayers (RELAYERS) alone, for chains (`rpc`, by role) and a
    deployment (`manifests`) made elsewhere: their gas keys funded, configs, stores, logs
    and the record of what runs under `home` (`down(home)` stops them). UserError if
    relayers recorded there still run; a relayer that does not start stops the others."""
    layout = Layout(home.resolve())
    _check_writable(layout.home)
    recorded = read_stack(layout.home)
    if live := [p for p in (recorded.processes if recorded else ()) if p.state() == "running"]:
        pids = ", ".join(str(p.pid) for p in live)
        raise UserError(
            f"local relayers already run from {layout.home} (pids {pids}): stop them first"
        )
    state = StackState(rpc=dict(rpc), manifests=dict(manifests))
    fund_gas_keys(_chain(role, state) for role in ("payment", "business"))
    state = _with_ports(layout, state)
    write_stack(layout.home, state)
    try:
        return _start_services(layout, state, RELAYERS)
    except BaseException:
        down(layout.home)
        raise


def _with_ports(layout: Layout, state: StackState) -> StackState:
    """Each relayer's quorum and metrics ports and the explorer's: a restarted relayer
    keeps its ports while they are free (its peers' configs name them), else new free
    ones."""
    ports = dict(state.details.get("ports", {}))
    for attester in ATTESTERS:
        if attester not in ports or (
            not _running(state, f"relay-{attester}")
            and not all(map(port_free, ports[attester].values()))
        ):
            ports[attester] = {"quorum": free_port(), "metrics": free_port()}
    if "explorer" not in ports or (
        not _running(state, "explorer") and not port_free(ports["explorer"])
    ):
        ports["explorer"] = free_port()
    return replace(state, details={**state.details, "ports": ports, "home": str(layout.home)})


def _start_services(layout: Layout, state: StackState, services: list[Service]) -> StackState:
    """Start those of `services` that do not run, in order (each after those it waits
    for answer), recording each in the stack file; return once all answer."""
    waiting: list[Service] = []
    for service in services:
        if _running(state, service.name):
            continue
        if before := [s for s in waiting if s.name in service.after]:
            _wait_ready(layout, state, before)
            waiting = [s for s in waiting if s not in before]
        service.prepare(layout, state)
        process = spawn(
            service.name,
            service.kind,
            service.command(layout, state),
            layout.logs / f"{service.name}.log",
            env=service.env(layout, state),
            url=service.url(layout, state),
            cwd=PROJECT_ROOT,
        )
        state = _with_process(state, process)
        write_stack(layout.home, state)
        waiting.append(service)
    _wait_ready(layout, state, waiting)
    return state


def _chains(layout: Layout, state: StackState, out: Callable[[str], None]) -> StackState:
    rpc = dict(state.rpc)
    for role, chain_id in LOCAL_CHAINS:
        name = f"anvil-{role}"
        if _running(state, name) and _answers(rpc.get(role, "")):
            continue
        log = layout.logs / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        node = start_anvil(role, chain_id, log_path=log)
        rpc[role] = node.url
        state = _with_process(
            replace(state, rpc=rpc), adopt(name, "anvil", node.pid, log, node.url)
        )
        out(f"started anvil for the {role} chain: {node.url} (pid {node.pid})")
    return replace(state, rpc=rpc)


def _deployment(layout: Layout, state: StackState, out: Callable[[str], None]) -> StackState:
    from pvd.deploy.system import SystemConfig, deploy_system

    payment = _chain("payment", state)
    business = _chain("business", state)
    if _deployed_here(state, payment, business):
        out("reusing the deployment on these chains")
        return state
    state = _forget_old_services(layout, state, out)
    config = SystemConfig(
        attesters=tuple(dev_account(a).address for a in ATTESTERS), threshold=THRESHOLD
    )
    system = deploy_system(payment, business, config, manifest_folder=layout.deployments)
    manifests = {"payment": str(system.manifests[0]), "business": str(system.manifests[1])}
    central = dev_account("central-bank").address
    token = system.payment.token
    for role in (money.COMPLIANCE_ROLE, money.PAUSER_ROLE):
        money.grant_role(payment, token, central, role, central)
    fund_gas_keys((payment, business))
    out(f"deployed pvd (2-of-3 attesters): {manifests['payment']}, {manifests['business']}")
    return replace(state, manifests=manifests)


def fund_gas_keys(chains: Iterable[Chain]) -> None:
    """Give each relayer's gas key (development keys) GAS_FUNDS wei on each chain, with
    anvil's anvil_setBalance: local development chains only."""
    for chain in chains:
        for index in range(1, len(ATTESTERS) + 1):
            gas = dev_account(f"relayer-{index}").address
            chain.w3.provider.make_request("anvil_setBalance", [gas, hex(GAS_FUNDS)])  # type: ignore[arg-type]


def _forget_old_services(
    layout: Layout, state: StackState, out: Callable[[str], None]
) -> StackState:
    """Before a new deployment: the services of the old one (relayers, index, explorer)
    are stopped, and the relayers' stores and the index (checkpoints, messages and
    history of chains that are gone) removed."""
    for process in state.processes:
        if process.kind != "anvil" and process.state() == "running":
            stop(process)
            out(f"stopped {process.name}: it served a deployment that is gone")
    suffixes = ("-wal", "-shm", ".lock")
    for attester in ATTESTERS:
        store = layout.relay_store(attester)
        for path in (store, *(store.with_name(store.name + s) for s in suffixes)):
            path.unlink(missing_ok=True)
    index = layout.index_db
    for path in (index, *(index.with_name(index.name + s) for s in (*suffixes, ".writer.lock"))):
        path.unlink(missing_ok=True)
    return replace(state, processes=tuple(p for p in state.processes if p.kind == "anvil"))


def _deployed_here(state: StackState, payment: Chain, business: Chain) -> bool:
    """The recorded manifests are for these very chains and their contracts are there."""
    if set(state.manifests) != {"payment", "business"}:
        return False
    for chain in (payment, business):
        path = Path(state.manifests[chain.name])
        if not path.exists():
            return False
        manifest = read_manifest(path)
        identity = chain.identity()
        if (identity.chain_id, identity.genesis_hash) != (
            manifest.chain.chain_id,
            manifest.chain.genesis_hash,
        ):
            return False
        if any(not chain.w3.eth.get_code(c.address) for c in manifest.contracts.values()):  # type: ignore[arg-type]
            return False
    return True


def _chain(role: str, state: StackState) -> Chain:
    from pvd.chain.connection import dev_accounts

    return rpc_chain(role, state.rpc[role], DOMAINS[role], dev_accounts(DEV_ACCOUNTS))


def _wait_ready(layout: Layout, state: StackState, services: list[Service]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    pending = list(services)
    while pending:
        for service in list(pending):
            process = _process(state, service.name)
            if process is not None and process.state() != "running":
                raise UserError(
                    f"{service.name} exited at start: read {process.log} "
                    "(then pvd down, fix, pvd up)"
                )
            if service.ready(layout, state):
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise UserError(
                f"{names} not healthy after {READY_TIMEOUT_SECONDS:.0f}s: read the logs in "
                f"{layout.logs} (pvd ps shows what runs; pvd down stops it)"
            )
        if pending:
            time.sleep(0.1)


def _check_writable(home: Path) -> None:
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not _takes_files(existing):
        raise UserError(
            f"cannot write to {home} ({existing} is not a writable folder): pass a writable --home"
        )


def _answers(url: str) -> bool:
    if not url:
        return False
    try:
        request = urllib.request.Request(
            url,
            data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=1) as answer:
            return "result" in json.load(answer)
    except (OSError, ValueError):
        return False


def _process(state: StackState, name: str) -> ManagedProcess | None:
    return next((p for p in state.processes if p.name == name), None)


def _running(state: StackState, name: str) -> bool:
    process = _process(state, name)
    return process is not None and process.state() == "running"


def _with_process(state: StackState, process: ManagedProcess) -> StackState:
    others = tuple(p for p in state.processes if p.name != process.name)
    return replace(state, processes=(*others, process))


# ------------------------------------------------------------------------ down and ps


def down(home: Path) -> list[tuple[ManagedProcess, str]]:
    """Stop what `up` recorded (services first, chains last); forget the stack."""
    state = read_stack(home.resolve())
    if state is None:
        return []
    order = sorted(state.processes, key=lambda p: p.kind == "anvil")
    results = [(process, stop(process)) for process in order]
    stack_file(home.resolve()).unlink(missing_ok=True)
    return results


def describe(state: StackState | None) -> dict[str, Any]:
    if state is None:
        return {"processes": [], "rpc": {}, "manifests": {}}
    return {
        "rpc": dict(state.rpc),
        "manifests": dict(state.manifests),
        "processes": [
            {
                "name": p.name,
                "kind": p.kind,
                "pid": p.pid,
                "state": p.state(),
                "url": p.url,
                "log": p.log,
            }
            for p in state.processes
        ],
        "relay_configs": {
            a: str(Layout(Path(state.details["home"])).relay_config(a)) for a in ATTESTERS
        }
        if "home" in state.details
        else {},
        "index_db": Layout(Path(state.details["home"])).index_url
        if "home" in state.details
        else None,
        "explorer": next((p.url for p in state.processes if p.kind == "explorer"), None),
    }


def _print_table(report: dict[str, Any]) -> None:
    rows = [("NAME", "KIND", "PID", "STATE", "URL", "LOG")]
    for p in report["processes"]:
        rows.append((p["name"], p["kind"], str(p["pid"]), p["state"], p["url"] or "-", p["log"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[-1]
        )
    for role, path in report["manifests"].items():
        print(f"{role} manifest: {path}")
    for attester, path in report.get("relay_configs", {}).items():
        print(f"{attester} config: {path}")
    if report.get("index_db"):
        print(f"index database: {report['index_db']} (pvd trace --db {report['index_db']} ID)")
    if report.get("explorer"):
        print(f"explorer: {report['explorer']}")


# ------------------------------------------------------------------------ the commands


def add_parser(sub: Any) -> None:
    """Register `pvd up`, `pvd down` and `pvd ps`."""
    for name, help_, handler in (
        (
            "up",
            "start a local stack: two anvils, pvd deployed, three relayers, the chain index "
            "and the explorer",
            _cmd_up,
        ),
        ("down", "stop exactly what pvd up started", _cmd_down),
        ("ps", "what pvd up started, and whether it still runs", _cmd_ps),
    ):
        parser = sub.add_parser(name, help=help_, description=help_, formatter_class=HelpFormatter)
        parser.add_argument(
            "--home", type=Path, default=DEFAULT_HOME, help="the folder the stack lives in"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.set_defaults(handler=handler)


def _cmd_up(args: argparse.Namespace) -> int:
    say: Callable[[str], None] = (lambda _: None) if args.json else print
    state = up(Path(args.home), say)
    report = describe(state)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    results = down(Path(args.home))
    if args.json:
        print(json.dumps([{"name": p.name, "pid": p.pid, "found": r} for p, r in results]))
    elif not results:
        print("no local stack recorded: nothing to stop")
    else:
        for process, result in results:
            note = {
                "stopped": "stopped",
                "dead": "was already dead",
                "replaced": "left alone: its PID now belongs to another program",
            }[result]
            print(f"{process.name} (pid {process.pid}): {note}")
    return 0


def _cmd_ps(args: argparse.Namespace) -> int:
    report = describe(read_stack(Path(args.home).resolve()))
    if args.json:
        print(json.dumps(report, indent=2))
    elif not report["processes"]:
        print("no local stack recorded (pvd up starts one)")
    else:
        _print_table(report)
    return 0


def _takes_files(folder: Path) -> bool:
    """A file can be created in `folder` (tried with a temporary file, removed at once:
    permission bits say nothing for root or for file systems such as /proc)."""
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".pvd-write-test-")
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True
