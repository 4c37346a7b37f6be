"""Real relayer processes for `make bench`: two anvils, pvd deployed with manifests, and
three `pvd relay` subprocesses (2-of-3) configured from config/relay.example.toml as
shipped, with only what must differ per machine filled in.

Owns:
- `fill_config`: the shipped example's text with URLs, keys (by variable name), ports,
  paths and the peers filled in, line by line; every other value (poll interval, batch
  size, submit turn, retries, ...) stays as shipped. `confirmations` is set (0 for
  anvil, which makes a block only per transaction) and `ws_urls` may be emptied to
  force polling: both are named where a figure is reported.
- `Cluster`: the chains, the deployment and the relayer processes, started and stopped
  by their own PIDs; CPU time per process from /proc.
- `CountingProxy`: a JSON-RPC forwarder that counts the requests a relayer makes.

Keys: the public development mnemonic's accounts only (test keys, worthless).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from pvd.chain.anvil import AnvilNode, start_anvil, stop_anvil
from pvd.chain.connection import Chain, dev_accounts, rpc_chain
from pvd.chain.local import LOCAL_CHAINS
from pvd.chain.ports import free_port
from pvd.cli.demo import BUSINESS_DOMAIN, PAYMENT_DOMAIN, Cast, issue_funds
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.paths import PROJECT_ROOT

EXAMPLE_CONFIG = PROJECT_ROOT / "config" / "relay.example.toml"
GAS_FUNDS = 10**21  # wei for each relayer's gas key on both chains
_SECTION = re.compile(r"^\[\[?([A-Za-z0-9_.]+)\]\]?\s*(#.*)?$")


@dataclass(frozen=True)
class Member:
    """One attester of the cluster: keys (development keys), folder and ports."""

    name: str
    attestation: LocalAccount
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


@dataclass(frozen=True)
class Endpoints:
    """Where one relayer reaches the chains."""

    payment_rpc: str
    business_rpc: str
    payment_ws: str | None  # None: no subscription, the relayer polls
    business_ws: str | None


def fill_config(
    text: str,
    me: Member,
    peers: Sequence[Member],
    endpoints: Endpoints,
    manifests: dict[str, Path],
    confirmations: int,
) -> str:
    """The shipped example with only URLs, keys, ports and paths filled in."""
    out: list[str] = []
    section = ""
    peer_index = -1

    def value(raw: object) -> str:
        return json.dumps(raw)  # a JSON string or list of strings is TOML as well

    for line in text.splitlines():
        match = _SECTION.match(line.strip())
        if match:
            section = match.group(1)
            if section == "quorum.peers":
                peer_index += 1
            out.append(line)
            if section == "store":
                out.append(f"lock_dir = {value(str(me.folder / 'locks'))}")
            continue
        key = line.split("=", 1)[0].strip() if "=" in line and not line.startswith("#") else ""
        chain = section.removeprefix("chains.") if section.startswith("chains.") else ""
        replaced: str | None = None
        if section == "relay" and key == "name":
            replaced = value(me.name)
        elif chain and key == "rpc_urls":
            replaced = value([getattr(endpoints, f"{chain}_rpc")])
        elif chain and key == "ws_urls":
            ws = getattr(endpoints, f"{chain}_ws")
            replaced = value([ws] if ws else [])
        elif chain and key == "manifest":
            replaced = value(str(manifests[chain]))
        elif chain and key == "confirmations":
            replaced = str(confirmations)
        elif section == "keys.gas" and key == "keystore":
            out.append('env = "PVD_GAS_KEY"')
            continue
        elif section == "keys.gas" and key == "password_env":
            continue
        elif section == "store" and key == "path":
            replaced = value(str(me.store))
        elif section == "metrics" and key == "port":
            replaced = str(me.metrics_port)
        elif section == "quorum" and key == "listen_port":
            replaced = str(me.quorum_port)
        elif section == "quorum.peers" and key in ("address", "url"):
            peer = peers[peer_index]
            replaced = value(peer.attestation.address if key == "address" else peer.signatures_url)
        if replaced is not None:
            out.append(f"{key} = {replaced}")
        else:
            out.append(line)
    if peer_index + 1 != len(peers):
        raise ValueError(f"the example lists {peer_index + 1} peers, the cluster has {len(peers)}")
    return "\n".join(out) + "\n"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class JsonRpcForwarder:
    """Forwards JSON-RPC over HTTP to `upstream` on a free loopback port. A subclass sees each
    request body first: `admit` False answers HTTP 500 instead; `answer` may give the JSON
    reply itself (None forwards)."""

    keep_alive = False  # HTTP/1.1 connections kept open between requests

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if proxy.keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not proxy.admit(body):
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, data = 200, proxy.answer(body)
                if data is None:
                    request = urllib.request.Request(
                        proxy.upstream, body, {"Content-Type": "application/json"}
                    )
                    try:
                        with urllib.request.urlopen(request, timeout=30) as answer:
                            status, data = answer.status, answer.read()
                    except urllib.error.HTTPError as exc:
                        status, data = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def admit(self, body: bytes) -> bool:
        return True

    def answer(self, body: bytes) -> bytes | None:
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class CountingProxy(JsonRpcForwarder):
    """Forwards JSON-RPC over HTTP to `upstream`, counting HTTP requests and calls."""

    keep_alive = True

    def __init__(self, upstream: str) -> None:
        self.requests = 0
        self.calls = 0
        self._lock = threading.Lock()
        super().__init__(upstream)

    def admit(self, body: bytes) -> bool:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        with self._lock:
            self.requests += 1
            self.calls += len(payload) if isinstance(payload, list) else 1
        return True

    def reset(self) -> None:
        with self._lock:
            self.requests = self.calls = 0


@dataclass
class Process:
    member: Member
    popen: subprocess.Popen[bytes]
    log: Path


class Cluster:
    """Two anvils, pvd deployed on them (manifests in `folder`), and three relayers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.nodes: list[AnvilNode] = []
        self.processes: list[Process] = []
        try:
            self._set_up(folder)
        except BaseException:
            for node in self.nodes:
                stop_anvil(node)
            raise

    def _set_up(self, folder: Path) -> None:
        for name, chain_id in LOCAL_CHAINS:
            self.nodes.append(start_anvil(name, chain_id))
        accounts = dev_accounts(13)  # 0-9 anvil funds; 10-12 are the relayers' gas keys
        self.payment = rpc_chain("payment", self.nodes[0].url, PAYMENT_DOMAIN, accounts[:10])
        self.business = rpc_chain("business", self.nodes[1].url, BUSINESS_DOMAIN, accounts[:10])
        self.cast = Cast.from_accounts(self.payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in self.cast.attesters), threshold=2)
        self.system: System = deploy_system(
            self.payment, self.business, config, manifest_folder=folder / "deployments"
        )
        issue_funds(self.system, self.cast)
        payment_manifest, business_manifest = self.system.manifests
        self.manifests = {"payment": payment_manifest, "business": business_manifest}
        self.members = tuple(
            Member(
                f"attester-{i + 1}",
                self.cast.attesters[i],
                accounts[10 + i],
                folder / f"attester-{i + 1}",
                free_port(),
                free_port(),
            )
            for i in range(3)
        )
        for chain in (self.payment, self.business):
            for member in self.members:
                chain.w3.provider.make_request(
                    "anvil_setBalance",  # type: ignore[arg-type]
                    [member.gas.address, hex(GAS_FUNDS)],
                )

    def node_port(self, chain: str) -> int:
        return self.nodes[0 if chain == "payment" else 1].port

    def direct(self, polling: bool = False) -> Endpoints:
        """The nodes themselves: HTTP, and WebSocket on the same port unless polling."""
        pay, biz = self.nodes
        return Endpoints(
            pay.url,
            biz.url,
            None if polling else f"ws://127.0.0.1:{pay.port}",
            None if polling else f"ws://127.0.0.1:{biz.port}",
        )

    def configure(self, endpoints: Endpoints, confirmations: int = 0) -> None:
        text = EXAMPLE_CONFIG.read_text()
        for me in self.members:
            me.folder.mkdir(parents=True, exist_ok=True)
            peers = [m for m in self.members if m is not me]
            me.config.write_text(
                fill_config(text, me, peers, endpoints, self.manifests, confirmations)
            )

    def start(self) -> float:
        """Start the three relayers; return when all serve their signatures (monotonic
        time)."""
        if any(p.popen.poll() is None for p in self.processes):
            raise RuntimeError("bench: relayers already running")
        started = []
        for me in self.members:
            log = self.folder / f"{me.name}.{len(self.processes)}.log"
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith("PVD_") or k == "PVD_PROFILE_DIR"
            }
            env["PVD_ATTESTATION_KEY"] = "0x" + bytes(me.attestation.key).hex()
            env["PVD_GAS_KEY"] = "0x" + bytes(me.gas.key).hex()
            env["PYTHONPATH"] = str(PROJECT_ROOT)
            with open(log, "wb") as out:
                popen = subprocess.Popen(
                    [sys.executable, "-m", "pvd.cli.main", "relay", "--config", str(me.config)],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            process = Process(me, popen, log)
            self.processes.append(process)
            started.append(process)
        for process in started:
            self._wait_ready(process)
        return time.monotonic()

    def _wait_ready(self, process: Process) -> None:
        deadline = time.monotonic() + 60
        while True:
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"bench: {process.member.name} exited: {process.log.read_text()[-2000:]}"
                )
            try:
                url = process.member.signatures_url + "/health"
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if json.load(answer).get("status") == "ok":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"bench: {process.member.name} did not start")
            time.sleep(0.05)

    def running(self) -> list[Process]:
        return [p for p in self.processes if p.popen.poll() is None]

    def stop(self) -> None:
        """SIGTERM each running relayer (by its PID) and wait for it."""
        for process in self.running():
            process.popen.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        for node in self.nodes:
            stop_anvil(node)

    def chain(self, name: str) -> Chain:
        return self.payment if name == "payment" else self.business


@contextmanager
def cluster(folder: Path) -> Iterator[Cluster]:
    made = Cluster(folder)
    try:
        yield made
    finally:
        made.close()
