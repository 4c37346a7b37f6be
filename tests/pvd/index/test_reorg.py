"""The index on anvil: reorgs made with evm_snapshot/evm_revert under a following
indexer, confirmations, and `pvd index` from deployment files as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pvd.chain.anvil import AnvilNode, start_anvil, stop_anvil
from pvd.chain.connection import Chain, rpc_chain
from pvd.deploy.system import deploy_system
from pvd.index import query
from pvd.index.db import open_index, writer_lock
from pvd.index.ingest import Indexer, source_from_manifest
from pvd.index.schema import blocks
from tests.pvd.reconcile.test_reconciler import ACCOUNTS, PRICE, Pvd, config, hex_id


@dataclass
class OnAnvil:
    pvd: Pvd
    nodes: tuple[AnvilNode, AnvilNode]
    manifests: tuple[Path, Path]


def rpc(chain: Chain, method: str, *params: Any) -> Any:
    return chain.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def on_anvil(artifacts: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnAnvil]:
    nodes: list[AnvilNode] = []
    try:
        for name, chain_id in (("payment", 7101), ("business", 7102)):
            nodes.append(start_anvil(name, chain_id))
        payment, business = (
            rpc_chain(node.name, node.url, domain, ACCOUNTS)
            for node, domain in zip(nodes, (1, 2), strict=True)
        )
        folder = tmp_path_factory.mktemp("deployments")
        system = deploy_system(
            payment, business, config(), manifest_folder=folder, artifacts=artifacts
        )
        manifests = system.manifests
        yield OnAnvil(Pvd(system), (nodes[0], nodes[1]), (manifests[0], manifests[1]))
    finally:
        for node in nodes:
            stop_anvil(node)


@pytest.fixture
def anvil(on_anvil: OnAnvil) -> Iterator[OnAnvil]:
    """The deployment, both chains reverted to it after the test."""
    chains = (on_anvil.pvd.payment.chain, on_anvil.pvd.business.chain)
    snapshots = [rpc(chain, "evm_snapshot") for chain in chains]
    try:
        yield on_anvil
    finally:
        for chain, snapshot in zip(chains, snapshots, strict=True):
            assert rpc(chain, "evm_revert", snapshot) is True


def sources(deployment: OnAnvil, confirmations: int = 0) -> list[Any]:
    return [
        source_from_manifest(role, manifest, node.url, confirmations)
        for role, manifest, node in zip(
            ("payment", "business"), deployment.manifests, deployment.nodes, strict=True
        )
    ]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def follower(anvil: OnAnvil, tmp_path: Path) -> Iterator[tuple[Any, list[Any]]]:
    """An indexer following both chains in a thread; (engine, every step's stats)."""
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    steps: list[Any] = []
    stop = threading.Event()
    indexer = Indexer(engine, sources(anvil))
    with writer_lock(engine):
        thread = threading.Thread(
            target=indexer.follow, args=(stop, 0.05), kwargs={"on_step": steps.extend}
        )
        thread.start()
        try:
            yield engine, steps
        finally:
            stop.set()
            thread.join(timeout=30)


def stored_hashes_match(engine: Any, chain: Chain, name: str) -> bool:
    with engine.connect() as connection:
        rows = connection.execute(
            select(blocks.c.number, blocks.c.hash).where(blocks.c.chain == name)
        ).all()
    return all(chain.w3.eth.get_block(n)["hash"].to_0x_hex() == h for n, h in rows)


def test_a_reorg_under_a_following_indexer_rolls_back_to_the_common_ancestor(anvil, follower):
    engine, steps = follower
    pvd = anvil.pvd
    chains = (pvd.payment.chain, pvd.business.chain)
    snapshots = [rpc(chain, "evm_snapshot") for chain in chains]
    trade = pvd.funded_trade()
    trade_id = hex_id(trade.trade_id)
    wait_until(lambda: (query.trade(engine, trade_id) or _none()).status == "funded", "the trade")
    assert query.money(engine).held == PRICE
    ancestor = {c.name: int(rpc(c, "eth_blockNumber"), 16) for c in chains}

    for chain, snapshot in zip(chains, snapshots, strict=True):
        assert rpc(chain, "evm_revert", snapshot) is True
    for chain in chains:  # other blocks, higher than before, where the trade was
        for _ in range(12):
            rpc(chain, "evm_mine")

    wait_until(lambda: query.trade(engine, trade_id) is None, "the rollback")
    wait_until(
        lambda: (
            all(stored_hashes_match(engine, c, c.name) for c in chains)
            and {s.chain: s.indexed_block for s in steps[-2:]}
            == {c.name: c.w3.eth.block_number for c in chains}
        ),
        "the re-read of the new blocks",
    )
    assert query.trade_events(engine, trade_id) == ()
    assert query.money(engine).held == 0
    assert query.messages_by_status(engine, "delivered") == ()
    rolled = {s.chain: s for s in steps if s.rolled_back}
    assert set(rolled) == {"payment", "business"}
    assert all(s.deep_reorgs == 1 for s in rolled.values())  # deeper than 0 confirmations
    assert all(s.indexed_block >= ancestor[s.chain] for s in steps[-2:])


def _none() -> Any:
    class Missing:
        status = None

    return Missing()


def test_confirmations_keep_the_newest_blocks_out_of_the_index(anvil, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    with writer_lock(engine):
        stats = Indexer(engine, sources(anvil, confirmations=3)).run_once()

    heads = [
        anvil.pvd.payment.chain.w3.eth.block_number,
        anvil.pvd.business.chain.w3.eth.block_number,
    ]
    assert [s.indexed_block for s in stats] == [h - 3 for h in heads]


def pvd_cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *args],
        capture_output=True, text=True, timeout=120, check=False, **kwargs,
    )  # fmt: skip


def manifest_args(deployment: OnAnvil) -> list[str]:
    return [
        "--payment-manifest", str(deployment.manifests[0]),
        "--business-manifest", str(deployment.manifests[1]),
        "--payment-rpc", deployment.nodes[0].url,
        "--business-rpc", deployment.nodes[1].url,
    ]  # fmt: skip


def test_pvd_index_from_deployment_files_then_status_then_again(anvil, tmp_path):
    trade = anvil.pvd.funded_trade()
    url = f"sqlite:///{tmp_path / 'index.db'}"

    first = pvd_cli("index", *manifest_args(anvil), "--db", url)
    again = pvd_cli("index", *manifest_args(anvil), "--db", url)
    status = pvd_cli("index", "status", "--db", url)

    assert first.returncode == 0, first.stderr
    assert "payment: indexed to block" in first.stdout
    assert again.returncode == 0 and "0 block(s), 0 event(s)" in again.stdout
    assert "business: chain id 7102, indexed to block" in status.stdout
    engine = open_index(url)
    assert (query.trade(engine, hex_id(trade.trade_id)) or _none()).status == "funded"


def test_a_second_indexer_on_the_same_database_is_refused_with_one_line(anvil, tmp_path):
    url = f"sqlite:///{tmp_path / 'index.db'}"
    following = subprocess.Popen(
        [sys.executable, "-m", "pvd.cli.main", "index", "--follow", "--poll", "0.2",
         *manifest_args(anvil), "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert following.stdout is not None
        assert "following both chains" in following.stdout.readline()

        second = pvd_cli("index", *manifest_args(anvil), "--db", url)

        assert second.returncode == 2
        assert "another `pvd index` is writing" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        following.terminate()
        following.wait(timeout=30)
    assert following.returncode == 0


def test_pvd_index_with_a_manifest_missing_or_a_dead_rpc_is_one_line(anvil, tmp_path):
    url = f"sqlite:///{tmp_path / 'index.db'}"
    args = manifest_args(anvil)
    missing = list(args)
    missing[1] = str(tmp_path / "nope.json")
    dead = list(args)
    dead[5] = "http://127.0.0.1:9"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}

    for bad, message in ((missing, "does not exist"), (dead, "no answer from")):
        run = pvd_cli("index", *bad, "--db", url, env=env)
        assert run.returncode == 2, run.stderr
        assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
