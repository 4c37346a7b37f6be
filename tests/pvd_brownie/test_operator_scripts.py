"""The operator's `brownie run` scripts (scripts/money.py, scripts/attesters.py) on a
deployed system, run as a user runs them: each chore does what it says; a signer without
the role, a missing argument, the wrong chain or no deployment is one line, exit code 2,
and no transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3.contract import Contract

from pvd.chain.anvil import AnvilNode
from pvd.chain.connection import Chain, dev_accounts, rpc_chain
from pvd.client.money import WalletClass, wallet_state
from pvd.client.roles import dev_account
from pvd.deploy.system import System, SystemConfig, deploy_system
from tests.pvd_brownie.conftest import Result, brownie, chain_env

DELAY = 3600  # the test deployment's governance delay, seconds


@dataclass(frozen=True)
class Setup:
    project: Path
    system: System
    env: dict[str, str]

    @property
    def token(self) -> Contract:
        return self.system.payment.token

    @property
    def payment(self) -> Chain:
        return self.system.payment.chain

    def run(self, script: str, *args: str, network: str = "payment-local") -> Result:
        return brownie(
            "run",
            f"scripts/{script}.py",
            *args,
            "--network",
            network,
            cwd=self.project,
            env=self.env,
        )

    def heights(self) -> tuple[int, int]:
        return (
            self.payment.w3.eth.block_number,
            self.system.business.chain.w3.eth.block_number,
        )

    def refused(self, result: Result, message: str, before: tuple[int, int]) -> None:
        assert result.code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert message in lines[0], lines[0]
        assert self.heights() == before  # nothing was sent


@pytest.fixture
def setup(project: Path, chains: tuple[AnvilNode, AnvilNode]) -> Iterator[Setup]:
    admin = dev_accounts()[0]  # well-known development key: the central bank
    payment = rpc_chain("payment", chains[0].url, 1, [admin])
    business = rpc_chain("business", chains[1].url, 2, [admin])
    attesters = tuple(a.address for a in dev_accounts()[5:8])
    config = SystemConfig(attesters=attesters, threshold=2, governance_delay=DELAY)
    system = deploy_system(payment, business, config, manifest_folder=project / "deployments")
    yield Setup(project, system, chain_env(*chains))


def test_issue_funds_appoints_a_bank_sets_its_allowance_and_issues(setup: Setup) -> None:
    bank, buyer = dev_account("bank").address, dev_account("buyer").address
    before = setup.heights()
    setup.refused(setup.run("money", "issue", "buyer", "250.5"), "lacks the operator role", before)

    appointed = setup.run("money", "appoint_bank", "bank")
    assert appointed.code == 0, appointed.output
    assert f"{bank} is a bank (operator)" in appointed.stdout
    allowed = setup.run("money", "allowance", "bank", "1000")
    assert allowed.code == 0, allowed.output
    assert setup.token.functions.mintAllowance(bank).call() == 100_000

    issued = setup.run("money", "issue", "buyer", "250.5")
    assert issued.code == 0, issued.output
    assert f"issued 250.50 yuan to {buyer}" in issued.stdout
    assert setup.token.functions.balanceOf(buyer).call() == 25_050
    assert setup.token.functions.mintAllowance(bank).call() == 100_000 - 25_050

    before = setup.heights()
    setup.refused(
        setup.run("money", "issue", "buyer", "1000"), "may issue only 749.50 yuan", before
    )
    setup.refused(setup.run("money", "issue", "buyer"), "missing argument: brownie run", before)
    setup.refused(setup.run("money", "issue", "buyer", "1.001"), "more than 2 decimals", before)
    setup.refused(
        setup.run("money", "issue", "buyer", "10", "stranger"), "lacks the operator role", before
    )


def test_wallet_class_is_set_by_a_bank(setup: Setup) -> None:
    buyer = dev_account("buyer").address
    assert setup.run("money", "appoint_bank", "bank").code == 0
    result = setup.run("money", "wallet_class", "buyer", "II")
    assert result.code == 0, result.output
    assert wallet_state(setup.token, buyer).wallet_class == WalletClass.II
    before = setup.heights()
    setup.refused(
        setup.run("money", "wallet_class", "buyer", "V"), "wallet class 'V' is unknown", before
    )


def test_freeze_and_unfreeze_need_the_compliance_role(setup: Setup) -> None:
    buyer = dev_account("buyer").address
    before = setup.heights()
    setup.refused(setup.run("money", "freeze", "buyer"), "lacks the compliance role", before)
    assert setup.run("money", "grant", "compliance", "central-bank").code == 0
    frozen = setup.run("money", "freeze", "buyer")
    assert frozen.code == 0, frozen.output
    assert wallet_state(setup.token, buyer).frozen
    thawed = setup.run("money", "unfreeze", "buyer")
    assert thawed.code == 0, thawed.output
    assert not wallet_state(setup.token, buyer).frozen


def test_pause_and_unpause_need_the_pauser_role(setup: Setup) -> None:
    before = setup.heights()
    setup.refused(setup.run("money", "pause"), "lacks the pauser role", before)
    assert setup.run("money", "grant", "pauser", "central-bank").code == 0
    assert setup.run("money", "pause").code == 0
    assert setup.token.functions.paused().call()
    assert setup.run("money", "unpause").code == 0
    assert not setup.token.functions.paused().call()


def test_attester_rotation_waits_for_the_governance_delay(setup: Setup) -> None:
    inbox = setup.system.payment.inbox
    new = sorted((a.address for a in dev_accounts()[6:9]), key=lambda a: int(a, 16))
    before = setup.heights()
    setup.refused(setup.run("attesters", "apply"), "no attester set is proposed", before)
    setup.refused(
        setup.run("attesters", "propose", ",".join(new), "2", "bank"),
        "lacks the admin role",
        before,
    )
    setup.refused(setup.run("attesters", "propose", ",".join(new), "4"), "threshold 4", before)

    proposed = setup.run("attesters", "propose", ",".join(new), "2")
    assert proposed.code == 0, proposed.output
    assert "proposed 3 attesters, threshold 2" in proposed.stdout
    before = setup.heights()
    setup.refused(setup.run("attesters", "apply"), "apply it after the governance delay", before)

    setup.payment.w3.provider.make_request("evm_increaseTime", [DELAY + 1])  # type: ignore[arg-type]
    setup.payment.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    applied = setup.run("attesters", "apply")
    assert applied.code == 0, applied.output
    assert inbox.functions.attesters().call() == new
    # the business chain's inbox is its own: untouched
    assert len(setup.system.business.inbox.functions.attesters().call()) == 3


def test_a_chore_on_the_wrong_chain_or_without_a_deployment_is_refused(
    setup: Setup, tmp_path: Path
) -> None:
    before = setup.heights()
    setup.refused(
        setup.run("money", "issue", "buyer", "10", network="business-local"),
        "has no YuanToken: YuanToken lives on the other chain",
        before,
    )
    for manifest in (setup.project / "deployments").glob("*.json"):
        manifest.unlink()
    setup.refused(
        setup.run("money", "appoint_bank", "bank"), "no pvd deployment on payment-local", before
    )
