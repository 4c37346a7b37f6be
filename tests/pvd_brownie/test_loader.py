"""How brownie loads the project with pvd_brownie.loader, on a live network as the
console does: `.at()` and `.deploy()` work (brownie 1.22.2 alone raises the Sources
TypeError), contracts of pvd's manifests are in brownie's deployment map, and records of
a restarted chain never stop the project from loading."""

from __future__ import annotations

import json
from pathlib import Path

from pvd.chain.anvil import AnvilNode, start_anvil, stop_anvil
from pvd.chain.connection import rpc_chain
from pvd.deploy.system import SystemConfig, deploy_system
from tests.pvd_brownie.conftest import chain_env, python

WITHOUT_LOADER = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_AfterBrownie"]
"""
SESSION = """
from brownie import accounts, network, project
from pvd.chain.connection import dev_accounts
p = project.load(".", name="Pvd")
network.connect("payment-local")
me = accounts.add(dev_accounts()[0].key.to_0x_hex())  # well-known development key
"""
DEPLOY_AND_AT = """
box = p.Outbox.deploy(7, me.address, 3600, {"from": me}, publish_source=False)
print("deployed", box.address, p.Outbox[-1].address)
again = p.Outbox.at(box.address)
print("at", again.localDomain())
"""


def test_at_and_deploy_work_on_a_live_network(project: Path, chains: tuple[AnvilNode, ...]) -> None:
    env = chain_env(*chains)
    result = python(SESSION + DEPLOY_AND_AT, project, env)
    assert result.code == 0, result.output
    deployed = next(line for line in result.stdout.splitlines() if line.startswith("deployed"))
    _, address, newest = deployed.split()
    assert address == newest  # brownie's own map has it at once
    assert "at 7" in result.stdout
    assert "TypeError" not in result.output
    assert (project / "build" / "deployments" / "7001" / f"{address}.json").exists()


def test_without_the_loader_brownie_1_22_2_fails_on_at(
    project: Path, chains: tuple[AnvilNode, ...]
) -> None:
    """The bug the loader fixes, shown on brownie alone (if this starts passing, brownie
    fixed it and the loader's SourceMap can go)."""
    env = chain_env(*chains)
    result = python(WITHOUT_LOADER + SESSION + DEPLOY_AND_AT, project, env)
    # raised in the thread that records the deployed contract (the script goes on)
    assert "TypeError: dict object expected; got brownie.project.sources.Sources" in result.stderr


def test_manifest_contracts_are_in_brownie_s_map(
    project: Path, chains: tuple[AnvilNode, AnvilNode]
) -> None:
    payment = rpc_chain("payment", chains[0].url, 1, [_dev()])
    business = rpc_chain("business", chains[1].url, 2, [_dev()])
    system = deploy_system(
        payment,
        business,
        SystemConfig(attesters=(_dev().address,), threshold=1),
        manifest_folder=project / "deployments",
    )
    check = SESSION + (
        "print('token', p.YuanToken[-1].address, p.YuanToken[-1].name())\n"
        "print('settlement', p.PvdSettlement[-1].address)\n"
    )
    result = python(check, project, chain_env(*chains))
    assert result.code == 0, result.output
    assert f"token {system.payment.token.address} Programmable Yuan" in result.stdout
    assert f"settlement {system.payment.settlement.address}" in result.stdout


def test_records_of_a_restarted_chain_never_stop_the_load(project: Path) -> None:
    first = start_anvil("payment", 7001)
    try:
        result = python(SESSION + DEPLOY_AND_AT, project, {"PVD_PAYMENT_RPC": first.url})
        assert result.code == 0, result.output
    finally:
        stop_anvil(first)
    records = project / "build" / "deployments" / "7001"
    old = {p.name for p in records.glob("*.json")}
    assert old
    # a record of an address that never had code on any chain: removed too
    (records / "0x000000000000000000000000000000000000dEaD.json").write_text(
        (records / sorted(old)[0]).read_text()
    )
    again = start_anvil("payment", 7001)  # same chain id, another genesis block
    try:
        check = SESSION + "print('outboxes', len(p.Outbox))\n"
        result = python(check, project, {"PVD_PAYMENT_RPC": again.url})
    finally:
        stop_anvil(again)
    assert result.code == 0, result.output
    assert "outboxes 0" in result.stdout
    assert "removed 2 brownie deployment record(s) of chain 7001" in result.stderr
    assert not list(records.glob("*.json"))
    brownie_map = json.loads((project / "build" / "deployments" / "map.json").read_text())
    assert "7001" not in brownie_map


def _dev():  # type: ignore[no-untyped-def]
    from pvd.chain.connection import dev_accounts

    return dev_accounts()[0]  # well-known development key
