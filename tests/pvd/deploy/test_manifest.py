"""Deployment manifests: written whole, read back equal, and every bad file a UserError."""

import json

import pytest

from pvd.chain.connection import ChainIdentity
from pvd.deploy.compiler import load_compiler_settings
from pvd.deploy.manifest import DeployedContract, Manifest, load_abi, read_manifest, write_manifest
from pvd.errors import UserError

ABI = [{"type": "function", "name": "f", "inputs": [], "outputs": [], "stateMutability": "view"}]


def make_manifest() -> Manifest:
    return Manifest(
        network="embedded-payment",
        chain=ChainIdentity(chain_id=131277322940537, genesis_hash="0x" + "ab" * 32, domain_id=1),
        compiler=load_compiler_settings(),
        contracts={
            "YuanToken": DeployedContract(
                address="0x" + "12" * 20, block=3, abi="abi/YuanToken.json"
            )
        },
    )


def test_manifest_round_trips_with_its_abi(tmp_path):
    manifest = make_manifest()
    path = write_manifest(tmp_path, manifest, {"YuanToken": ABI})
    assert path == tmp_path / "embedded-payment.json"
    loaded = read_manifest(path)
    assert loaded == manifest
    assert load_abi(path, loaded.contract("YuanToken")) == ABI
    assert json.loads(path.read_text())["schema"] == 1


def test_missing_manifest_names_the_fix(tmp_path):
    with pytest.raises(UserError, match="does not exist: redeploy"):
        read_manifest(tmp_path / "nope.json")


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"schema": 99}), "schema 99"),
        (json.dumps({"schema": 1, "network": "x"}), "missing or has a bad field"),
    ],
)
def test_corrupt_manifest_is_a_user_error(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        read_manifest(path)


def test_unknown_contract_is_a_user_error():
    with pytest.raises(UserError, match="has no contract Inbox"):
        make_manifest().contract("Inbox")
