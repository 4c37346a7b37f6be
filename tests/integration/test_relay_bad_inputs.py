"""`pvd relay` refuses bad input before it relays anything: an unreachable RPC, the wrong
chain behind an RPC, a store whose checkpoint is ahead of a chain that was reset, a
missing or corrupt deployment file, a malformed config, a missing key variable. Each is
one line on stderr that names the problem and the fix, an exit code != 0, no traceback,
and no store written (bad inputs of the relayer and command line)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pvd.chain.anvil import stop_anvil
from pvd.chain.local import LOCAL_CHAINS
from pvd.chain.ports import free_port
from tests.integration.harness import (
    ROOT,
    Attester,
    Deployment,
    Relays,
    anvil_pair,
    deploy,
    eventually,
    make_attesters,
    pvd_command,
    rpc,
    start_anvil_with_genesis,
    store_checkpoint,
    subprocess_env,
    write_config,
)


@dataclass(frozen=True)
class Setup:
    dep: Deployment
    attester: Attester


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """One deployment for every case of this module (nothing here changes the chains)."""
    folder = tmp_path_factory.mktemp("bad-inputs")
    with anvil_pair() as (payment, business):
        dep = deploy(payment, business, folder / "deployments")
        yield Setup(dep, make_attesters(dep, folder)[0])


def relay(
    attester: Attester, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pvd_command("relay", "--config", str(attester.config)),
        cwd=ROOT,
        env=subprocess_env(attester.env() if env is None else env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _unreachable_rpc(s: Setup) -> dict[str, str] | None:
    write_config(s.dep, s.attester, (s.attester,), payment_rpc=f"http://127.0.0.1:{free_port()}")
    return None


def _wrong_chain(s: Setup) -> dict[str, str] | None:
    # the payment chain's manifest, the business chain's RPC
    write_config(s.dep, s.attester, (s.attester,), payment_rpc=s.dep.business_node.url)
    return None


def _missing_deployment(s: Setup) -> dict[str, str] | None:
    missing = s.attester.folder / "no-such-deployment.json"
    write_config(s.dep, s.attester, (s.attester,), payment_manifest=missing)
    return None


def _corrupt_deployment(s: Setup) -> dict[str, str] | None:
    corrupt = s.attester.folder / "corrupt-deployment.json"
    corrupt.write_text('{"schema": 1, "network": "payment-1", "chain": ')
    write_config(s.dep, s.attester, (s.attester,), payment_manifest=corrupt)
    return None


def _malformed_config(s: Setup) -> dict[str, str] | None:
    write_config(s.dep, s.attester, (s.attester,))
    text = s.attester.config.read_text().replace("[chains.business]", "[chains.business")
    s.attester.config.write_text(text)
    return None


def _missing_key(s: Setup) -> dict[str, str] | None:
    write_config(s.dep, s.attester, (s.attester,))
    return {"PVD_GAS_KEY": s.attester.env()["PVD_GAS_KEY"]}  # no PVD_ATTESTATION_KEY


CASES: dict[str, tuple[Callable[[Setup], dict[str, str] | None], tuple[str, ...]]] = {
    "unreachable-rpc": (_unreachable_rpc, ("payment chain: no answer from", "fix the RPC URL")),
    "wrong-chain-id": (_wrong_chain, ("chain id 7002", "says 7001", "fix the RPC URL")),
    "missing-deployment": (_missing_deployment, ("does not exist", "redeploy")),
    "corrupt-deployment": (_corrupt_deployment, ("not valid JSON", "redeploy")),
    "malformed-config": (_malformed_config, ("not valid TOML", "fix the syntax")),
    "missing-key": (_missing_key, ("PVD_ATTESTATION_KEY is not set", "export PVD_ATTESTATION_KEY")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_relay_refuses_bad_input_with_one_line_and_writes_no_store(setup: Setup, case: str) -> None:
    prepare, words = CASES[case]
    store = setup.attester.store
    for leftover in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
        leftover.unlink(missing_ok=True)
    env = prepare(setup)
    result = relay(setup.attester, env)
    assert_one_line_error(result, *words)
    assert result.stdout == ""
    assert not store.exists()


def test_relay_refuses_a_store_whose_checkpoint_is_ahead_of_a_reset_chain(tmp_path: Path) -> None:
    """Both anvils are stopped and started again with the same genesis (the same chain,
    wiped) and pvd redeployed to the same addresses: the old store's checkpoints are
    ahead of the new heads. The relayer stops with one line and leaves the store as is."""
    genesis = 1_700_000_000
    folder = tmp_path / "deployments"

    def chains() -> tuple:
        return tuple(start_anvil_with_genesis(n, c, genesis) for n, c in LOCAL_CHAINS)

    nodes = chains()
    try:
        dep = deploy(*nodes, folder)
        attester = make_attesters(dep, tmp_path)[0]
        for chain in (dep.payment, dep.business):
            rpc(chain, "anvil_mine", hex(30))
        relays = Relays(tmp_path)
        try:
            relays.start(attester)
            for route in ("payment->business", "business->payment"):
                eventually(
                    lambda r=route: (store_checkpoint(attester.store, r) or 0) >= 30,
                    f"the checkpoint of {route} past block 30",
                )
            relays.stop(attester)
        finally:
            relays.close()
    finally:
        for node in nodes:
            stop_anvil(node)

    for manifest in folder.glob("*.json"):  # the wiped chains' deployment is retired
        manifest.unlink()
    nodes = chains()
    try:
        redeployed = deploy(*nodes, folder)  # same genesis, same deployer nonce: same addresses
        assert redeployed.system.payment.inbox.address == dep.system.payment.inbox.address
        assert redeployed.payment.w3.eth.block_number < 30
        write_config(redeployed, attester, (attester,))
        before = _checkpoints(attester.store)
        result = relay(attester)
        assert_one_line_error(
            result, "has checkpoint", "ahead of the chain head", "chain was reset", "new store"
        )
        assert _checkpoints(attester.store) == before
    finally:
        for node in nodes:
            stop_anvil(node)


def _checkpoints(store: Path) -> list[tuple[str, int, str]]:
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return list(conn.execute("SELECT route, block, block_hash FROM checkpoints ORDER BY route"))
    finally:
        conn.close()
