"""Deploy compiled contracts to a `Chain` and record them in a manifest, and check a
deployment before its first transaction.

The same code deploys to the embedded chains, to anvil and to any RPC endpoint: `pvd deploy`,
the demo and the tests all use it (docs/deployments.md describes the manifest).

`preflight` refuses, before anything is sent, what would fail or leave a half-made
deployment: a threshold outside 1..n, an attester that is not an address (or has a bad
checksum) or appears twice, one chain given as both chains, equal or out-of-range domain
ids, a deployer without the ether the whole deployment needs (an estimate from the
compiled code), an output folder that cannot be written. `created_since` names what a
deployer created from a nonce on, for the message of a deployment that failed midway.

A deployed contract's ABI file carries every custom error of the system's contracts and
libraries (`with_system_errors`), not only those solc lists for it: the compiler cannot see
an error a library encodes by selector (the codec's MessageTooShort ... in Inbox.deliver)
or one re-raised from another contract (the token's errors through the settlement), and a
client holding only `deployments/abi/<Contract>.json` must still decode every revert.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.utils.address import get_create_address

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


def with_system_errors(
    abi: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> list[dict[str, Any]]:
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

    def record(self, name: str, address: str, block: int) -> None:
        """Record a contract another contract created (e.g. the registry's bill of
        lading), so the manifest lists it with its ABI."""
        self.deployed[name] = DeployedContract(address=address, block=block, abi=f"abi/{name}.json")

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
        abis = {
            name: with_system_errors(self.artifacts[name].abi, errors) for name in self.deployed
        }
        return write_manifest(folder, self.manifest(), abis)


# ------------------------------------------------------------------------- pre-flight

# Contracts each chain's deployment creates, and the admin transactions that wire them.
PAYMENT_CONTRACTS = ("YuanToken", "Outbox", "Inbox", "PvdSettlement")
BUSINESS_CONTRACTS = ("Outbox", "Inbox", "TradeRegistry", "BillOfLading")
WIRING_TRANSACTIONS = {"payment": 4, "business": 5}  # app, peer, (wire), two setup closes
WIRING_GAS = 150_000  # per wiring transaction: above what each one uses
CONSTRUCTOR_GAS = 300_000  # per contract: storage its constructor writes, with margin
MAX_DOMAIN = 2**32 - 1


@dataclass(frozen=True)
class Plan:
    """What a deployment is asked to do, as the deploy command received it."""

    attesters: tuple[str, ...]
    threshold: int
    payment_domain: int
    business_domain: int
    out: Path


def check_plan(plan: Plan) -> tuple[ChecksumAddress, ...]:
    """The checks that need no chain; the attesters checksummed. UserError otherwise."""
    attesters: list[ChecksumAddress] = []
    for text in plan.attesters:
        if not Web3.is_address(text) or not text.startswith("0x"):
            raise UserError(f"attester {text!r} is not an address: give 0x and 40 hex digits")
        mixed_case = text[2:] != text[2:].lower() and text[2:] != text[2:].upper()
        if mixed_case and not Web3.is_checksum_address(text):
            raise UserError(
                f"attester {text} has a bad checksum (its mixed case does not match): "
                "copy the address again, or write it all in lower case"
            )
        attesters.append(Web3.to_checksum_address(text))
    if not attesters:
        raise UserError("no attesters given: pass --attesters with at least one address")
    for address in attesters:
        if attesters.count(address) > 1:
            raise UserError(f"attester {address} is listed twice: list each attester once")
    if not 1 <= plan.threshold <= len(attesters):
        raise UserError(
            f"threshold {plan.threshold} is outside 1..{len(attesters)} (the number of "
            "attesters): pick a threshold between 1 and the number of attesters"
        )
    for role, domain in (("payment", plan.payment_domain), ("business", plan.business_domain)):
        if not 1 <= domain <= MAX_DOMAIN:
            raise UserError(
                f"{role} domain id {domain} is outside 1..{MAX_DOMAIN}: pick a uint32 above 0"
            )
    if plan.payment_domain == plan.business_domain:
        raise UserError(
            f"payment and business domain ids are both {plan.payment_domain}: give each "
            "chain its own domain id (e.g. 1 and 2)"
        )
    check_writable(plan.out)
    return tuple(attesters)


def check_writable(folder: Path) -> None:
    """`folder` exists and takes new files, or can be made: the nearest existing folder
    takes a file (nothing is left behind, no folder is made)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not _takes_files(existing):
        raise UserError(
            f"cannot write deployment files to {folder} ({existing} is not a writable "
            "folder): pass a writable --out"
        )


def check_chains(payment: Chain, business: Chain) -> None:
    """Two different chains (chain id and genesis), not one chain given twice."""
    first, second = payment.identity(), business.identity()
    if (first.chain_id, first.genesis_hash) == (second.chain_id, second.genesis_hash):
        raise UserError(
            f"the payment and business RPCs reach the same chain (chain id {first.chain_id}, "
            f"genesis {first.genesis_hash[:10]}…): point them at two different chains"
        )


def deployment_gas(artifacts: dict[str, Artifact], names: Sequence[str], wiring: int) -> int:
    """An upper estimate of the gas a chain's share of the deployment uses: per contract
    the creation cost from its code size (calldata, code deposit, base) plus a
    constructor allowance, plus the wiring transactions."""
    total = wiring * WIRING_GAS
    for name in names:
        artifact = artifacts[name]
        init_code = bytes.fromhex(artifact.bytecode[2:])
        runtime = bytes.fromhex(artifact.deployed_bytecode[2:])
        calldata = sum(16 if b else 4 for b in init_code)
        total += 53_000 + calldata + 200 * len(runtime) + CONSTRUCTOR_GAS
    return total


def check_funds(chain: Chain, deployer: str, gas: int) -> int:
    """The deployer can pay `gas` at the chain's current gas price (plus 20%); returns the
    wei needed. UserError naming the shortfall otherwise."""
    price = int(chain.w3.eth.gas_price)
    needed = gas * price * 6 // 5
    balance = int(chain.w3.eth.get_balance(Web3.to_checksum_address(deployer)))
    if balance < needed:
        raise UserError(
            f"deployer {deployer} has {Web3.from_wei(balance, 'ether')} ether on the "
            f"{chain.name} chain; the deployment needs about "
            f"{Web3.from_wei(needed, 'ether')} (≈{gas:,} gas at {price} wei): fund it first"
        )
    return needed


def created_since(chain: Chain, deployer: str, nonce: int) -> list[tuple[int, str]]:
    """(nonce, address) of every contract `deployer` created from `nonce` on (CREATE
    addresses follow from sender and nonce; only those with code are listed)."""
    found: list[tuple[int, str]] = []
    current = int(chain.w3.eth.get_transaction_count(Web3.to_checksum_address(deployer)))
    for n in range(nonce, current):
        address = get_create_address(Web3.to_checksum_address(deployer), n)  # type: ignore[arg-type]
        if chain.w3.eth.get_code(address):
            found.append((n, address))
    return found


def _takes_files(folder: Path) -> bool:
    """A file can be created in `folder` (tried with a temporary file, removed at once:
    permission bits say nothing for root or for file systems such as /proc)."""
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".pvd-write-test-")
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True
