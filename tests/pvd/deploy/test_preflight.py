"""pvd.deploy.contracts' checks before a deployment, the gas estimate against what a
real deployment uses, and what a failed deployment had created; the manifest lists the
bill of lading and carries the file names the example relay config expects."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from web3 import Web3

from pvd.chain.connection import embedded_chain
from pvd.deploy.compiler import compile_contracts
from pvd.deploy.contracts import (
    BUSINESS_CONTRACTS,
    PAYMENT_CONTRACTS,
    WIRING_TRANSACTIONS,
    Plan,
    check_chains,
    check_funds,
    check_plan,
    created_since,
    deployment_gas,
)
from pvd.deploy.manifest import read_manifest
from pvd.deploy.system import SystemConfig, deploy_system
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT

A = ("0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20)


def plan(tmp_path: Path, **changes: object) -> Plan:
    fields: dict[str, object] = dict(
        attesters=A, threshold=2, payment_domain=1, business_domain=2, out=tmp_path / "out"
    )
    fields.update(changes)
    return Plan(**fields)  # type: ignore[arg-type]


def test_a_good_plan_passes_and_writes_nothing(tmp_path: Path) -> None:
    assert check_plan(plan(tmp_path)) == tuple(Web3.to_checksum_address(a) for a in A)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": 0}, r"threshold 0 is outside 1\.\.3"),
        ({"threshold": 4}, r"threshold 4 is outside 1\.\.3"),
        ({"attesters": ()}, "no attesters"),
        ({"attesters": ("0x12",)}, "is not an address"),
        ({"attesters": (A[0], A[0].upper().replace("0X", "0x"))}, "listed twice"),
        ({"attesters": ("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267",)}, "bad checksum"),
        ({"business_domain": 1}, "both 1"),
        ({"payment_domain": 0}, r"outside 1\.\.4294967295"),
        ({"business_domain": 2**32}, r"outside 1\.\.4294967295"),
        ({"out": Path("/proc/pvd/out")}, "cannot write deployment files"),
    ],
)
def test_bad_plans_are_refused(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        check_plan(plan(tmp_path, **changes))


def test_one_chain_given_twice_is_refused() -> None:
    chain = embedded_chain("payment", 1)
    with pytest.raises(UserError, match="reach the same chain"):
        check_chains(chain, chain)
    check_chains(chain, embedded_chain("business", 2))


def test_the_estimate_covers_a_real_deployment_and_funds_are_checked(tmp_path: Path) -> None:
    payment, business = embedded_chain("payment", 1), embedded_chain("business", 2)
    deployer = payment.accounts[0].address
    artifacts = compile_contracts()
    start = {c.name: c.w3.eth.get_transaction_count(deployer) for c in (payment, business)}
    config = SystemConfig(attesters=tuple(a.address for a in payment.accounts[5:8]), threshold=2)
    system = deploy_system(payment, business, config, manifest_folder=tmp_path, artifacts=artifacts)
    for chain, names in ((payment, PAYMENT_CONTRACTS), (business, BUSINESS_CONTRACTS)):
        used = sum(
            chain.w3.eth.get_transaction_receipt(
                chain.w3.eth.get_block(n, True)["transactions"][0]["hash"]
            )["gasUsed"]  # type: ignore[index]
            for n in range(1, chain.w3.eth.block_number + 1)
        )
        estimate = deployment_gas(artifacts, names, WIRING_TRANSACTIONS[chain.name])
        assert used <= estimate <= 3 * used, (chain.name, used, estimate)
        made = created_since(chain, deployer, start[chain.name])
        assert len(made) == (4 if chain is payment else 3)  # the registry creates the bill
    empty = "0x" + "00" * 19 + "01"
    with pytest.raises(UserError, match="the deployment needs about"):
        check_funds(payment, empty, 10**6)
    assert check_funds(payment, deployer, 10**6) > 0

    business_manifest = read_manifest(system.manifests[1])
    bill = business_manifest.contract("BillOfLading")
    assert bill.address == system.business.bill_of_lading.address
    assert (tmp_path / bill.abi).exists()


def test_the_example_relay_config_names_the_manifests_deploy_writes(tmp_path: Path) -> None:
    payment, business = embedded_chain("payment", 1), embedded_chain("business", 2)
    config = SystemConfig(attesters=tuple(a.address for a in payment.accounts[5:8]), threshold=2)
    system = deploy_system(payment, business, config, manifest_folder=tmp_path)
    example = tomllib.loads((PROJECT_ROOT / "config" / "relay.example.toml").read_text())
    named = {Path(example["chains"][role]["manifest"]).name for role in ("payment", "business")}
    assert named == {path.name for path in system.manifests}
