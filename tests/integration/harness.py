"""The integration harness: two anvil chains, the whole pvd system deployed on them, three
attesters each with its own keys, store, signature port and metrics port, and `pvd relay`
subprocesses that tests start, stop and SIGKILL.

Nothing here sleeps for a fixed time to wait for an outcome: `eventually` polls a
predicate (every 0.05 s) until it holds or a deadline passes, and says what it waited
for when it fails. Every process started here is stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from pvd.bench.cluster import JsonRpcForwarder
from pvd.chain.anvil import AnvilNode, anvil_binary, start_anvil, stop_anvil
from pvd.chain.connection import DEV_MNEMONIC, Chain, dev_accounts, rpc_chain
from pvd.chain.local import LOCAL_CHAINS
from pvd.chain.ports import free_port
from pvd.deploy.compiler import Artifact, compile_contracts
from pvd.deploy.system import System, SystemConfig, deploy_system

log = logging.getLogger("tests.integration")

ROOT = Path(__file__).resolve().parents[2]  # the worktree whose pvd/ is under test
PAYMENT_DOMAIN = 1
BUSINESS_DOMAIN = 2
YUAN = 100  # fen
BUYER_FUNDS = 5_000 * YUAN
PRICE = 1_500 * YUAN
HOUR = 3600
POLL = 0.05  # seconds: the relayers' poll interval and eventually()'s
GAS_FUNDS = 10**21  # wei given to each attester's gas key on both chains

T = TypeVar("T")


# --- waiting --------------------------------------------------------------------------


def eventually(
    predicate: Callable[[], T], what: str, timeout: float = 30.0, interval: float = POLL
) -> T:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` seconds
    pass (AssertionError naming `what` and the last value or error seen)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except ProcessExited:
            raise
        except Exception as exc:  # a node or file not ready yet: keep polling
            last = f"{type(exc).__name__}: {exc}"
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last})")
        time.sleep(interval)


class ProcessExited(AssertionError):
    """A relayer that should be running has exited: no point waiting any longer."""


# --- the cast -------------------------------------------------------------------------


def hd_account(index: int) -> LocalAccount:
    """Account m/44'/60'/0'/0/index of the public development mnemonic (test keys only)."""
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


@dataclass(frozen=True)
class Cast:
    """Who is who: the well-known development accounts (test keys only, worthless)."""

    admin: LocalAccount
    operator: LocalAccount
    buyer: LocalAccount
    seller: LocalAccount
    carrier: LocalAccount
    stranger: LocalAccount  # submits signed holds (anyone may), forges, expires
    attesters: tuple[LocalAccount, ...]  # attestation keys: only sign
    gas: tuple[LocalAccount, ...]  # one gas key per attester: only pays for deliveries

    @classmethod
    def make(cls) -> Cast:
        a = dev_accounts()
        return cls(
            admin=a[0],
            operator=a[1],
            buyer=a[2],
            seller=a[3],
            carrier=a[4],
            stranger=a[9],
            attesters=(a[5], a[6], a[7]),
            gas=(hd_account(10), hd_account(11), hd_account(12)),
        )

    def everyone(self) -> tuple[LocalAccount, ...]:
        return (
            self.admin,
            self.operator,
            self.buyer,
            self.seller,
            self.carrier,
            self.stranger,
            *self.attesters,
            *self.gas,
        )


# --- chains and deployment ------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """Two anvil chains with pvd deployed, wired and the buyer funded."""

    system: System
    cast: Cast
    payment_node: AnvilNode
    business_node: AnvilNode
    folder: Path  # where the manifests (payment-1.json, business-2.json) are

    @property
    def payment(self) -> Chain:
        return self.system.payment.chain

    @property
    def business(self) -> Chain:
        return self.system.business.chain

    @property
    def payment_manifest(self) -> Path:
        return self.folder / f"payment-{PAYMENT_DOMAIN}.json"

    @property
    def business_manifest(self) -> Path:
        return self.folder / f"business-{BUSINESS_DOMAIN}.json"


_ARTIFACTS: dict[str, Artifact] = {}


def artifacts() -> dict[str, Artifact]:
    if not _ARTIFACTS:
        _ARTIFACTS.update(compile_contracts())
    return _ARTIFACTS


@contextlib.contextmanager
def anvil_pair() -> Iterator[tuple[AnvilNode, AnvilNode]]:
    """A payment and a business anvil on free ports, always stopped on exit."""
    nodes: list[AnvilNode] = []
    try:
        for name, chain_id in LOCAL_CHAINS:
            nodes.append(start_anvil(name, chain_id))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            stop_anvil(node)


def rpc(chain: Chain, method: str, *params: Any) -> Any:
    """A raw JSON-RPC call (anvil's evm_* and anvil_* methods); raises on an error."""
    answer = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in answer:
        raise RuntimeError(f"{chain.name}: {method} failed: {answer['error']}")
    return answer.get("result")


def deploy(payment_node: AnvilNode, business_node: AnvilNode, folder: Path) -> Deployment:
    """Deploy pvd (2-of-3 attesters), give the admin the pauser role, issue the buyer's
    money and fund the gas keys; manifests are written to `folder`."""
    cast = Cast.make()
    payment = rpc_chain("payment", payment_node.url, PAYMENT_DOMAIN, cast.everyone())
    business = rpc_chain("business", business_node.url, BUSINESS_DOMAIN, cast.everyone())
    config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
    system = deploy_system(payment, business, config, manifest_folder=folder, artifacts=artifacts())
    token, admin = system.payment.token, cast.admin.address

    def send(call: Any, sender: str) -> None:
        payment.wait(call.transact({"from": sender}))

    send(
        token.functions.grantRole(token.functions.OPERATOR_ROLE().call(), cast.operator.address),
        admin,
    )
    send(token.functions.grantRole(token.functions.PAUSER_ROLE().call(), admin), admin)
    send(token.functions.setMintAllowance(cast.operator.address, 1_000_000 * YUAN), admin)
    send(token.functions.issue(cast.buyer.address, BUYER_FUNDS), cast.operator.address)
    for chain in (payment, business):
        for gas in cast.gas:
            rpc(chain, "anvil_setBalance", gas.address, hex(GAS_FUNDS))
    return Deployment(system, cast, payment_node, business_node, folder)


def start_anvil_with_genesis(name: str, chain_id: int, genesis_timestamp: int) -> AnvilNode:
    """An anvil whose genesis block is fixed (same chain id and timestamp -> same genesis
    hash): restarting it gives "the same chain, reset", as a node wiped and restarted."""
    port = free_port()
    command = [anvil_binary(), "--port", str(port), "--chain-id", str(chain_id), "--silent"]
    command += ["--timestamp", str(genesis_timestamp)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    node = AnvilNode(name=name, chain_id=chain_id, port=port, pid=process.pid)
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 1}))
    try:
        eventually(lambda: w3.eth.chain_id == chain_id, f"anvil {name} on port {port}", 20)
    except BaseException:
        stop_anvil(node)
        raise
    return node


# --- attesters: keys, configs ---------------------------------------------------------


@dataclass(frozen=True)
class Attester:
    """One attester: its own attestation key, gas key, store, lock directory, signature
    port and metrics port, and the config file `pvd relay` reads."""

    name: str
    key: LocalAccount
    gas: LocalAccount
    folder: Path
    quorum_port: int
    metrics_port: int

    @property
    def config(self) -> Path:
        return self.folder / "relay.toml"

    @property
    def store(self) -> Path:
        return self.folder / "relay.sqlite"

    @property
    def signatures_url(self) -> str:
        return f"http://127.0.0.1:{self.quorum_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def env(self) -> dict[str, str]:
        """The process environment: the two keys (test keys) in their variables."""
        return {
            "PVD_ATTESTATION_KEY": self.key.key.to_0x_hex(),
            "PVD_GAS_KEY": self.gas.key.to_0x_hex(),
        }


def make_attesters(dep: Deployment, folder: Path) -> tuple[Attester, ...]:
    attesters = tuple(
        Attester(
            name=f"attester-{i + 1}",
            key=dep.cast.attesters[i],
            gas=dep.cast.gas[i],
            folder=folder / f"attester-{i + 1}",
            quorum_port=free_port(),
            metrics_port=free_port(),
        )
        for i in range(3)
    )
    for me in attesters:
        me.folder.mkdir(parents=True, exist_ok=True)
        write_config(dep, me, attesters)
    return attesters


def write_config(
    dep: Deployment,
    me: Attester,
    everyone: tuple[Attester, ...],
    *,
    payment_rpc: str | None = None,
    business_rpc: str | None = None,
    payment_confirmations: int = 0,
    business_confirmations: int = 0,
    payment_manifest: Path | None = None,
    ws_urls: dict[str, str] | None = None,
    poll_interval: float = POLL,
) -> Path:
    """Write `me`'s relay config: both chains, its keys by variable name, its own store,
    lock directory, ports, and the other attesters as peers. `ws_urls` (chain name ->
    ws:// URL) subscribes the relayer to that chain's new heads."""
    ws = ws_urls or {}
    peers = "".join(
        f"\n[[quorum.peers]]\naddress = '{p.key.address}'\nurl = '{p.signatures_url}'\n"
        for p in everyone
        if p is not me
    )
    text = f"""\
# {me.name}: written by tests/integration/harness.py
[relay]
name = '{me.name}'

[chains.payment]
rpc_urls = ['{payment_rpc or dep.payment_node.url}']
domain_id = {PAYMENT_DOMAIN}
manifest = '{payment_manifest or dep.payment_manifest}'
confirmations = {payment_confirmations}
poll_interval = {poll_interval}
rescan_margin = 8
ws_urls = {[ws["payment"]] if "payment" in ws else []}

[chains.business]
rpc_urls = ['{business_rpc or dep.business_node.url}']
domain_id = {BUSINESS_DOMAIN}
manifest = '{dep.business_manifest}'
confirmations = {business_confirmations}
poll_interval = {poll_interval}
rescan_margin = 8
ws_urls = {[ws["business"]] if "business" in ws else []}

[keys.attestation]
env = 'PVD_ATTESTATION_KEY'

[keys.gas]
env = 'PVD_GAS_KEY'

[store]
path = '{me.store}'
lock_dir = '{me.folder / "locks"}'

[metrics]
port = {me.metrics_port}

[log]
level = 'info'

[retry]
base_delay = 0.05
max_delay = 0.5
max_attempts = 1000

[quorum]
listen_port = {me.quorum_port}
{peers}"""
    me.config.write_text(text)
    return me.config


# --- relayer processes ----------------------------------------------------------------


def pvd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pvd.cli.main", *args]


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a pvd subprocess: this worktree's pvd first, no stray PVD_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


@dataclass
class RelayProcess:
    attester: Attester
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Relays:
    """Starts `pvd relay` subprocesses and always reaps them (close())."""

    folder: Path
    started: list[RelayProcess] = field(default_factory=list)

    def start(self, attester: Attester, *, wait: bool = True) -> RelayProcess:
        if (current := self.current(attester)) is not None and current.alive():
            raise AssertionError(f"{attester.name} is already running (pid {current.pid})")
        count = sum(1 for r in self.started if r.attester is attester)
        log_path = self.folder / f"{attester.name}.{count}.log"
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                pvd_command("relay", "--config", str(attester.config)),
                cwd=ROOT,
                env=subprocess_env(attester.env()),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        relay = RelayProcess(attester, process, log_path)
        self.started.append(relay)
        if wait:
            self.wait_ready(relay)
        return relay

    def start_many(self, *attesters: Attester) -> None:
        """Start several at once (their start-up overlaps), then wait for each."""
        started = [self.start(attester, wait=False) for attester in attesters]
        for relay in started:
            self.wait_ready(relay)

    def current(self, attester: Attester) -> RelayProcess | None:
        mine = [r for r in self.started if r.attester is attester]
        return mine[-1] if mine else None

    def wait_ready(self, relay: RelayProcess) -> None:
        """Until the relayer serves its signatures (it is connected and relaying)."""

        def ready() -> bool:
            if not relay.alive():
                raise ProcessExited(
                    f"{relay.attester.name} exited with {relay.process.returncode}:\n"
                    + relay.log_path.read_text()[-3000:]
                )
            url = relay.attester.signatures_url + "/health"
            with urllib.request.urlopen(url, timeout=1) as answer:
                return bool(json.load(answer)["signer"] == relay.attester.key.address)

        eventually(ready, f"{relay.attester.name} to serve its signatures", 30)

    def stop(self, attester: Attester) -> None:
        """SIGTERM (a clean stop) and wait for the exit."""
        relay = self.current(attester)
        if relay is not None and relay.alive():
            relay.process.send_signal(signal.SIGTERM)
            try:
                relay.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                relay.process.kill()
                relay.process.wait(timeout=10)

    @contextlib.contextmanager
    def frozen(self, *attesters: Attester) -> Iterator[None]:
        """SIGSTOP the attesters' relayers for the block, SIGCONT after: what the test
        does meanwhile, and reads, cannot race them."""
        relays = [r for a in attesters if (r := self.current(a)) is not None and r.alive()]
        for relay in relays:
            relay.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            for relay in relays:
                relay.process.send_signal(signal.SIGCONT)

    def kill(self, attester: Attester) -> None:
        """SIGKILL: the process gets no chance to clean up (a crash)."""
        relay = self.current(attester)
        if relay is not None and relay.alive():
            relay.process.send_signal(signal.SIGKILL)
            relay.process.wait(timeout=10)

    def tail(self, attester: Attester, chars: int = 3000) -> str:
        relay = self.current(attester)
        return relay.log_path.read_text(errors="replace")[-chars:] if relay else ""

    def close(self) -> None:
        """Kill whatever is still running and reap every process we started."""
        for relay in self.started:
            if relay.alive():
                relay.process.send_signal(signal.SIGTERM)
        for relay in self.started:
            try:
                relay.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                relay.process.kill()
                relay.process.wait(timeout=10)


# --- reading a relayer's store and metrics --------------------------------------------


@dataclass(frozen=True)
class StoreRow:
    message_id: str
    stage: int  # 0 seen, 1 signed, 2 submitted, 3 confirmed
    condition: str
    fail_reason: str | None
    tx_hash: str | None
    signers: tuple[str, ...]

    STAGES = ("seen", "signed", "submitted", "confirmed")

    @property
    def stage_name(self) -> str:
        return self.STAGES[self.stage]


def store_row(store: Path, message_id: str) -> StoreRow | None:
    """A message's row in a relayer's SQLite store (read directly, as an operator would
    with sqlite3), or None if the store or the row does not exist yet."""
    if not store.exists():
        return None
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(
            "SELECT stage, condition, fail_reason, tx_hash FROM messages WHERE id = ?",
            (message_id.lower(),),
        ).fetchone()
        if row is None:
            return None
        signers = tuple(
            r[0]
            for r in conn.execute(
                "SELECT signer FROM signatures WHERE message_id = ? ORDER BY signer",
                (message_id.lower(),),
            )
        )
    finally:
        conn.close()
    return StoreRow(message_id, row[0], row[1], row[2], row[3], signers)


def store_checkpoint(store: Path, route: str) -> int | None:
    if not store.exists():
        return None
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT block FROM checkpoints WHERE route = ?", (route,)).fetchone()
    finally:
        conn.close()
    return None if row is None else int(row[0])


def scrape(url: str) -> dict[str, float]:
    """One Prometheus scrape: {'name{label="v",...}': value} from the text format."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


# --- an RPC proxy that can hold chosen requests ---------------------------------------


class RpcProxy(JsonRpcForwarder):
    """A JSON-RPC forwarder between one relayer and a node. While a hold rule is set,
    requests it matches wait (the relayer is frozen at that step) until `release()`;
    everything else passes at once. How tests stop a relayer between two steps."""

    def __init__(self, upstream: str) -> None:
        self._rule: Callable[[str, list[Any]], bool] | None = None
        self._failing = False
        self.failed = 0  # requests answered with HTTP 500
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.held: list[tuple[str, list[Any]]] = []
        super().__init__(upstream)

    def admit(self, body: bytes) -> bool:
        if self._fail_now():
            return False
        self._maybe_hold(json.loads(body))
        return True

    def hold(self, rule: Callable[[str, list[Any]], bool]) -> None:
        """From now on, requests for which rule(method, params) is true wait."""
        with self._lock:
            self._released.clear()
            self._rule = rule

    def release(self) -> None:
        """Let every held request through and hold nothing more."""
        with self._lock:
            self._rule = None
            self._released.set()

    def fail(self, failing: bool = True) -> None:
        """While failing, answer every request with HTTP 500 (a node in trouble)."""
        with self._lock:
            self._failing = failing

    def _fail_now(self) -> bool:
        with self._lock:
            if self._failing:
                self.failed += 1
            return self._failing

    def _maybe_hold(self, payload: Any) -> None:
        calls = payload if isinstance(payload, list) else [payload]
        with self._lock:
            rule = self._rule
            match = rule is not None and any(
                rule(c.get("method", ""), c.get("params") or []) for c in calls
            )
            if match:
                self.held.extend((c.get("method", ""), c.get("params") or []) for c in calls)
        if match:
            self._released.wait(timeout=25)

    def close(self) -> None:
        self.release()
        super().close()


# --- a TCP proxy whose connections a test can cut -------------------------------------


class TcpCutter:
    """Forwards TCP connections to `upstream_port` (a node's WebSocket endpoint) byte for
    byte. `cut()` closes every open connection and refuses new ones until `restore()`:
    how a test drops the relayers' subscriptions mid-burst."""

    def __init__(self, upstream_port: int) -> None:
        import socket

        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._open: list[Any] = []
        self._refusing = False
        self.accepted = 0  # connections forwarded since start
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        import socket

        with self._lock:
            self._refusing = True
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def restore(self) -> None:
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._listener.close()
        self._thread.join(timeout=2)
