"""`brownie run scripts/deploy.py` on two anvils, as documented (no activated venv): it
deploys and wires the system and writes the manifests; a second run finds it and sends
nothing; bad input is one line, exit code 2, and no transaction."""

from __future__ import annotations

from pathlib import Path

from web3 import Web3

from pvd.chain.anvil import AnvilNode
from pvd.deploy.manifest import load_abi, read_manifest
from tests.pvd_brownie.conftest import brownie, chain_env

DEPLOY = ("run", "scripts/deploy.py", "main", "config/deploy.local.toml")


def heights(*nodes: AnvilNode) -> tuple[int, ...]:
    return tuple(Web3(Web3.HTTPProvider(n.url)).eth.block_number for n in nodes)


def test_deploy_then_a_second_run_finds_the_deployment(
    project: Path, chains: tuple[AnvilNode, AnvilNode], tmp_path: Path
) -> None:
    out = tmp_path / "manifests"
    env = chain_env(*chains)
    first = brownie(*DEPLOY, f"out={out}", "--network", "payment-local", cwd=project, env=env)
    assert first.code == 0, first.output
    assert f"wrote {out}/payment-1.json" in first.stdout
    assert f"wrote {out}/business-2.json" in first.stdout
    payment = read_manifest(out / "payment-1.json")
    business = read_manifest(out / "business-2.json")
    assert set(payment.contracts) == {"YuanToken", "Outbox", "Inbox", "PvdSettlement"}
    assert set(business.contracts) == {"Outbox", "Inbox", "TradeRegistry", "BillOfLading"}
    assert (payment.chain.chain_id, business.chain.chain_id) == (7001, 7002)
    # wired: the payment inbox delivers the registry's messages to the settlement, and
    # its setup phase is closed
    w3 = Web3(Web3.HTTPProvider(chains[0].url))
    deployed = payment.contracts["Inbox"]
    inbox = w3.eth.contract(
        address=deployed.address, abi=load_abi(out / "payment-1.json", deployed)
    )
    registry = business.contracts["TradeRegistry"].address
    assert (
        inbox.functions.recipientOf(2, registry).call()
        == payment.contracts["PvdSettlement"].address
    )
    assert inbox.functions.setupOpen().call() is False
    assert inbox.functions.threshold().call() == 2

    before = heights(*chains)
    again = brownie(*DEPLOY, f"out={out}", "--network", "business-local", cwd=project, env=env)
    assert again.code == 0, again.output
    assert "already deployed on these chains with these settings: nothing sent" in again.stdout
    assert heights(*chains) == before

    other = brownie(
        *DEPLOY, f"out={out}", "threshold=3", "--network", "payment-local", cwd=project, env=env
    )
    assert other.code == 2
    assert other.stderr.strip().splitlines() == [
        f"scripts/deploy.py: error: pvd is already deployed on the payment chain "
        f"({out}/payment-1.json) with threshold 2, not 3: deploy with its settings, or give "
        "another manifest folder to deploy a second system"
    ]
    assert heights(*chains) == before


def test_bad_input_is_one_line_and_sends_nothing(
    project: Path, chains: tuple[AnvilNode, AnvilNode], tmp_path: Path
) -> None:
    out = tmp_path / "manifests"
    env = chain_env(*chains)
    swapped = chain_env(chains[1], chains[0])  # payment-local's URL leads to chain 7002
    cases = [
        (("threshold=9", "--network", "payment-local"), env, "threshold 9 must be 1..3"),
        (("deployer=PVD_NO_SUCH_KEY", "--network", "payment-local"), env, "PVD_NO_SUCH_KEY"),
        (("--network", "pvd-dev"), env, "but brownie is on pvd-dev: run it with --network"),
        (
            ("--network", "business-local"),
            swapped,
            "network payment-local should be chain 7001, but its RPC answers chain 7002",
        ),
    ]
    before = heights(*chains)
    for args, case_env, message in cases:
        result = brownie(*DEPLOY, f"out={out}", *args, cwd=project, env=case_env)
        assert result.code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("scripts/deploy.py: error: "), lines
        assert message in lines[0], lines
    assert heights(*chains) == before
    assert not list(out.glob("*.json"))  # no manifest: nothing deployed
