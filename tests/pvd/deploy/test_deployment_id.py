"""Each deployment binds a deployment id into what its attesters sign and records it in its
manifests; `deploy_system` refuses domain ids another deployment recorded in the same
folder uses on the same chain, before deploying anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from pvd.chain.connection import Chain, embedded_chain
from pvd.deploy.compiler import compile_contracts
from pvd.deploy.manifest import read_manifest
from pvd.deploy.system import SystemConfig, deploy_system
from pvd.errors import UserError

# TEST KEYS ONLY: anvil's well-known development mnemonic, indices 10..12.
ATTESTERS = tuple(
    Account.from_key(k).address
    for k in (
        "0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897",
        "0x701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82",
        "0xa267530f49f8280200edf313ee7af6b827f2a8bce2897751d06a843f644967b1",
    )
)


@pytest.fixture(scope="module")
def artifacts() -> Any:
    return compile_contracts()


def _chains() -> tuple[Chain, Chain]:
    return embedded_chain("payment", 1), embedded_chain("business", 2)


def test_a_deployment_draws_a_deployment_id_binds_it_and_records_it(
    artifacts: Any, tmp_path: Path
) -> None:
    payment, business = _chains()
    config = SystemConfig(attesters=ATTESTERS, threshold=2)
    system = deploy_system(payment, business, config, manifest_folder=tmp_path, artifacts=artifacts)
    deployment_id = system.config.deployment_id
    assert deployment_id is not None and len(deployment_id) == 32 and any(deployment_id)
    for inbox in (system.payment.inbox, system.business.inbox):
        assert bytes(inbox.functions.deploymentId().call()) == deployment_id
    for path in system.manifests:
        assert read_manifest(path).deployment_id == "0x" + deployment_id.hex()


def test_two_deployments_draw_different_ids(artifacts: Any) -> None:
    config = SystemConfig(attesters=ATTESTERS, threshold=2)
    first = deploy_system(*_chains(), config, artifacts=artifacts)
    second = deploy_system(*_chains(), config, artifacts=artifacts)
    assert first.config.deployment_id != second.config.deployment_id


def test_a_configured_deployment_id_is_used(artifacts: Any) -> None:
    chosen = bytes.fromhex("ab" * 32)
    config = SystemConfig(attesters=ATTESTERS, threshold=2, deployment_id=chosen)
    system = deploy_system(*_chains(), config, artifacts=artifacts)
    assert bytes(system.payment.inbox.functions.deploymentId().call()) == chosen


def test_deploy_refuses_domain_ids_another_deployment_uses_on_the_same_chain(
    artifacts: Any, tmp_path: Path
) -> None:
    payment, business = _chains()
    config = SystemConfig(attesters=ATTESTERS, threshold=2)
    first = deploy_system(payment, business, config, manifest_folder=tmp_path, artifacts=artifacts)
    written = {p: p.read_text() for p in first.manifests}
    blocks = (payment.w3.eth.block_number, business.w3.eth.block_number)
    with pytest.raises(UserError, match=r"domain id 2 is already used on chain .*business-2\.json"):
        deploy_system(payment, business, config, manifest_folder=tmp_path, artifacts=artifacts)
    # Nothing was deployed and no manifest changed.
    assert (payment.w3.eth.block_number, business.w3.eth.block_number) == blocks
    assert {p: p.read_text() for p in written} == written


def test_deploy_accepts_other_domain_ids_on_the_same_chains(artifacts: Any, tmp_path: Path) -> None:
    payment, business = _chains()
    config = SystemConfig(attesters=ATTESTERS, threshold=2)
    deploy_system(payment, business, config, manifest_folder=tmp_path, artifacts=artifacts)
    payment.domain_id, business.domain_id = 11, 12
    other = SystemConfig(attesters=ATTESTERS, threshold=2, payment_domain=11, business_domain=12)
    system = deploy_system(payment, business, other, manifest_folder=tmp_path, artifacts=artifacts)
    assert len(system.manifests) == 2
    assert len(list(tmp_path.glob("*.json"))) == 4


# --- every deployed ABI decodes every error -------------------------------------------------

CODEC_ERRORS = (
    "MessageTooShort(uint256,uint256)",
    "MessageVersionUnsupported(uint8,uint8)",
    "MessageKindUnknown(uint8)",
    "MessageBodyLength(uint8,uint256,uint256)",
    "MessageBodyWordInvalid(uint8,uint256,bytes32)",
)


def _errors(abi: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"
        for e in abi
        if e["type"] == "error"
    ]


def test_every_deployed_abi_carries_every_error_of_the_system(
    artifacts: Any, tmp_path: Path
) -> None:
    """The Inbox raises the codec library's errors from `deliver` (encoded by selector),
    the settlement re-raises the token's: each ABI file must decode all of them."""
    import json

    from eth_utils.crypto import keccak

    payment, business = _chains()
    config = SystemConfig(attesters=ATTESTERS, threshold=2)
    system = deploy_system(payment, business, config, manifest_folder=tmp_path, artifacts=artifacts)
    everything = {
        signature
        for artifact in artifacts.values()
        if not artifact.source.startswith("contracts/mocks/")
        for signature in _errors(artifact.abi)
    }
    assert set(CODEC_ERRORS) <= everything
    assert "HoldNotFound(bytes32)" in everything
    checked = 0
    for manifest_path in system.manifests:
        manifest = read_manifest(manifest_path)
        for name, contract in manifest.contracts.items():
            abi = json.loads((tmp_path / contract.abi).read_text())
            errors = _errors(abi)
            assert set(errors) == everything, name
            assert len(errors) == len(set(errors)), name
            selectors = {keccak(text=s)[:4] for s in errors}
            assert len(selectors) == len(errors), f"{name}: two errors share a selector"
            checked += 1
    # payment: YuanToken, Outbox, Inbox, PvdSettlement; business: Outbox, Inbox, TradeRegistry,
    # BillOfLading
    assert checked == sum(len(read_manifest(p).contracts) for p in system.manifests) == 8
