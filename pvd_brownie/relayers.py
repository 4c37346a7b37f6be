"""Three local relayers for the chains of `make chains` and the system scripts/deploy.py
deployed there (`make relayers`, `make relayers-down`): one `pvd relay` process per
attester of config/deploy.local.toml, 2 of 3, each with its own config, store and ports
under .pvd/relayers/, started in the background and stopped by the PIDs recorded there.

Keys: anvil's well-known development accounts (TEST KEYS ONLY, worthless): attestation
keys m/44'/60'/0'/0/5..7 (the attesters of config/deploy.local.toml), gas keys
m/44'/60'/0'/0/10..12, which `up` gives ether on both local chains (anvil_setBalance,
a development-chain call). Never use this for a chain of value: see docs/relayer.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from pvd.chain.anvil import process_alive
from pvd.chain.connection import DEV_MNEMONIC, rpc_chain
from pvd.chain.ports import free_port
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT

ATTESTER_INDEXES = (5, 6, 7)
GAS_INDEXES = (10, 11, 12)
GAS_FUNDS = 10**21  # wei for each gas key on each local chain
START_TIMEOUT = 60.0  # seconds until every relayer serves its signatures


@dataclass(frozen=True)
class LocalRelayer:
    name: str
    pid: int
    address: str  # its attestation key's address
    quorum_port: int
    config: str
    log: str


def _account(index: int) -> LocalAccount:
    # TEST KEY ONLY: anvil's public development mnemonic
    account: LocalAccount = Account.from_mnemonic(
        DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"
    )
    return account


def folder(root: Path = PROJECT_ROOT) -> Path:
    return root / ".pvd" / "relayers"


def _state(root: Path) -> Path:
    return folder(root) / "relayers.json"


def running(root: Path = PROJECT_ROOT) -> list[LocalRelayer]:
    path = _state(root)
    if not path.exists():
        return []
    return [LocalRelayer(**entry) for entry in json.loads(path.read_text())]


def _chain_urls() -> tuple[str, str]:
    urls = (os.environ.get("PVD_PAYMENT_RPC"), os.environ.get("PVD_BUSINESS_RPC"))
    if not all(urls):
        raise UserError(
            "PVD_PAYMENT_RPC and PVD_BUSINESS_RPC are not set: `make chains`, then "
            "`source .pvd/chains.env`"
        )
    return str(urls[0]), str(urls[1])


def _manifests(root: Path) -> tuple[Path, Path]:
    paths = (root / "deployments" / "payment-1.json", root / "deployments" / "business-2.json")
    for path in paths:
        if not path.exists():
            raise UserError(
                f"no deployment manifest {path}: deploy first "
                "(`brownie run scripts/deploy.py main config/deploy.local.toml "
                "--network payment-local`)"
            )
    return paths


def _config(
    name: str,
    urls: tuple[str, str],
    manifests: tuple[Path, Path],
    me: tuple[str, int],
    peers: Sequence[tuple[str, int]],
    store: Path,
) -> str:
    peer_text = "".join(
        f"\n[[quorum.peers]]\naddress = '{address}'\nurl = 'http://127.0.0.1:{port}'\n"
        for address, port in peers
    )
    return f"""\
# {name}: a local relayer written by `make relayers` (pvd_brownie/relayers.py)
[relay]
name = '{name}'

[chains.payment]
rpc_urls = ['{urls[0]}']
domain_id = 1
manifest = '{manifests[0]}'
confirmations = 0
poll_interval = 0.2

[chains.business]
rpc_urls = ['{urls[1]}']
domain_id = 2
manifest = '{manifests[1]}'
confirmations = 0
poll_interval = 0.2

# TEST KEYS ONLY (anvil's development mnemonic), passed in the environment
[keys.attestation]
env = 'PVD_ATTESTATION_KEY'

[keys.gas]
env = 'PVD_GAS_KEY'

[store]
path = '{store}'
lock_dir = '{store.parent / "locks"}'

[log]
level = 'info'

[retry]
base_delay = 0.2
max_delay = 5.0

[quorum]
listen_port = {me[1]}
{peer_text}"""


def up(root: Path = PROJECT_ROOT) -> list[LocalRelayer]:
    """Start the three relayers and wait until each serves its signatures."""
    if live := [r for r in running(root) if process_alive(r.pid)]:
        raise UserError(
            f"local relayers already running (pids {', '.join(str(r.pid) for r in live)}): "
            "`make relayers-down` first"
        )
    urls = _chain_urls()
    manifests = _manifests(root)
    attesters = [_account(i) for i in ATTESTER_INDEXES]
    gas = [_account(i) for i in GAS_INDEXES]
    for url, name in zip(urls, ("payment", "business"), strict=True):
        chain = rpc_chain(name, url, 1)
        for key in gas:
            chain.w3.provider.make_request("anvil_setBalance", [key.address, hex(GAS_FUNDS)])  # type: ignore[arg-type]
    ports = [free_port() for _ in attesters]
    base = folder(root)
    started: list[LocalRelayer] = []
    try:
        for i, (key, gas_key, port) in enumerate(zip(attesters, gas, ports, strict=True)):
            name = f"attester-{i + 1}"
            home = base / name
            home.mkdir(parents=True, exist_ok=True)
            peers = [(a.address, p) for a, p in zip(attesters, ports, strict=True) if a != key]
            config = home / "relay.toml"
            config.write_text(
                _config(name, urls, manifests, (key.address, port), peers, home / "relay.sqlite")
            )
            log = home / "relay.log"
            env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
            env["PVD_ATTESTATION_KEY"] = Web3.to_hex(key.key)
            env["PVD_GAS_KEY"] = Web3.to_hex(gas_key.key)
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "pvd.cli.main", "relay", "--config", str(config)],
                    cwd=root,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started.append(
                LocalRelayer(name, process.pid, key.address, port, str(config), str(log))
            )
        _state(root).write_text(json.dumps([asdict(r) for r in started], indent=2))
        for relayer in started:
            _wait_ready(relayer)
    except BaseException:
        for relayer in started:
            _stop(relayer)
        _state(root).unlink(missing_ok=True)
        raise
    return started


def _wait_ready(relayer: LocalRelayer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    url = f"http://127.0.0.1:{relayer.quorum_port}/health"
    while time.monotonic() < deadline:
        if not process_alive(relayer.pid) or _exited(relayer.pid):
            tail = Path(relayer.log).read_text()[-2000:]
            raise UserError(f"{relayer.name} exited at start; its log {relayer.log} ends:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if json.load(answer).get("signer") == relayer.address:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise UserError(f"{relayer.name} did not start within {START_TIMEOUT:g}s: see {relayer.log}")


def _exited(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return finished == pid


def _stop(relayer: LocalRelayer) -> None:
    try:
        os.kill(relayer.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _exited(relayer.pid) or not process_alive(relayer.pid):
            return
        time.sleep(0.1)
    os.kill(relayer.pid, signal.SIGKILL)


def down(root: Path = PROJECT_ROOT) -> list[LocalRelayer]:
    """Stop exactly the relayers `up` recorded."""
    relayers = running(root)
    for relayer in relayers:
        _stop(relayer)
    _state(root).unlink(missing_ok=True)
    return relayers


def main(argv: list[str]) -> int:
    action = argv[0] if argv else ""
    try:
        if action == "up":
            for r in up():
                print(f"{r.name}: pid {r.pid}, attester {r.address}, log {r.log}")
        elif action == "down":
            stopped = down()
            print(f"stopped {len(stopped)} relayer(s)" if stopped else "no local relayers running")
        else:
            raise UserError(f"unknown action {action!r}: give up or down")
    except UserError as exc:
        print(f"relayers: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
