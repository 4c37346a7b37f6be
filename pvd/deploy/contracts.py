"""Deploy compiled contracts to a `Chain` and record them in a manifest.

The same code deploys to the embedded chains, to anvil and to any RPC endpoint; brownie
scripts deploy through brownie instead, and write the same manifest format.

A deployed contract's ABI file carries every custom error of the system's contracts and
libraries (`with_system_errors`), not only those solc lists for it: the compiler cannot see
an error a library encodes by selector (the codec's MessageTooShort ... in Inbox.deliver)
or one re-raised from another contract (the token's errors through the settlement), and a
client holding only `deployments/abi/<Contract>.json` must still decode every revert.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3.contract import Contract

from pvd.chain.connection import Chain
from pvd.deploy.compiler import Artifact, load_compiler_settings
from pvd.deploy.manifest import DeployedContract, Manifest, write_manifest
from pvd.errors import UserError


def _error_signature(entry: dict[str, Any]) -> str:
    types = ",".join(str(i["type"]) for i in entry.get("inputs", []))
    return f"{entry['name']}({types})"


def system_errors(artifacts: dict[str, Artifact]) -> list[dict[str, Any]]:
    """Every custom error of the compiled contracts, libraries and interfaces under
    contracts/ (test mocks excluded), one entry per signature, sorted by signature."""
    found: dict[str, dict[str, Any]] = {}
    for artifact in artifacts.values():
        if artifact.source.startswith("contracts/mocks/"):
            continue
        for entry in artifact.abi:
            if entry.get("type") == "error":
                found.setdefault(_error_signature(entry), entry)
    return [found[signature] for signature in sorted(found)]


def with_system_errors(abi: list[dict[str, Any]], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`abi` followed by each error of `errors` it does not declare already."""
    declared = {_error_signature(e) for e in abi if e.get("type") == "error"}
    return [*abi, *(e for e in errors if _error_signature(e) not in declared)]


class Deployer:
    """Deploys contracts from one set of artifacts to one chain, remembering what it did."""

    def __init__(
        self,
        chain: Chain,
        artifacts: dict[str, Artifact],
        network: str,
        deployment_id: bytes = b"",
    ) -> None:
        self.chain = chain
        self.artifacts = artifacts
        self.network = network
        self.deployment_id = deployment_id
        self.deployed: dict[str, DeployedContract] = {}
        self.contracts: dict[str, Contract] = {}

    def deploy(self, name: str, *args: Any, sender: ChecksumAddress | None = None) -> Contract:
        try:
            artifact = self.artifacts[name]
        except KeyError:
            raise UserError(f"no compiled contract named {name}: is it in contracts/?") from None
        factory = self.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        sender = sender or self.chain.accounts[0].address
        receipt = self.chain.wait(factory.constructor(*args).transact({"from": sender}))
        address = receipt["contractAddress"]
        assert address is not None
        self.deployed[name] = DeployedContract(
            address=address, block=receipt["blockNumber"], abi=f"abi/{name}.json"
        )
        contract = self.chain.w3.eth.contract(address=address, abi=artifact.abi)
        self.contracts[name] = contract
        return contract

    def manifest(self) -> Manifest:
        return Manifest(
            network=self.network,
            chain=self.chain.identity(),
            compiler=load_compiler_settings(),
            contracts=dict(self.deployed),
            deployment_id="0x" + self.deployment_id.hex() if self.deployment_id else "",
        )

    def write(self, folder: Path) -> Path:
        errors = system_errors(self.artifacts)
        abis = {name: with_system_errors(self.artifacts[name].abi, errors) for name in self.deployed}
        return write_manifest(folder, self.manifest(), abis)
