"""Deploy compiled contracts to a `Chain` and record them in a manifest.

The same code deploys to the embedded chains, to anvil and to any RPC endpoint; brownie
scripts deploy through brownie instead, and write the same manifest format.
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
        abis = {name: self.artifacts[name].abi for name in self.deployed}
        return write_manifest(folder, self.manifest(), abis)
