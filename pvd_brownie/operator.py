"""The plain functions behind the operator's `brownie run` scripts (scripts/money.py,
scripts/attesters.py): find pvd's deployment on the chain brownie is connected to, the
signing account, and check the account's role before anything is sent; the chores
themselves are pvd.client's functions, the ones the `pvd` CLI runs.

Accounts: a development role name (`central-bank`, `bank`, `buyer`... of
pvd.client.roles: anvil's well-known TEST KEYS, accepted only on local chains), or
`env:NAME`, an environment variable holding the hex private key. Addresses may be given
as 0x... or as a development role name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from pvd.chain.connection import Chain, rpc_chain
from pvd.cli.context import LOCAL_CHAIN_IDS
from pvd.client.governance import pending_attesters
from pvd.client.money import ROLES
from pvd.client.roles import DEV_ROLES, dev_account
from pvd.deploy.manifest import Manifest, load_abi, read_manifest
from pvd.errors import UserError
from pvd_brownie.deploy import network_url

DEPLOY_HINT = "brownie run scripts/deploy.py main config/deploy.local.toml --network payment-local"


@dataclass(frozen=True)
class Deployed:
    """pvd's contracts on the connected chain, from the manifest written for it."""

    network: str
    chain: Chain
    manifest: Path
    contracts: Mapping[str, Contract]

    def contract(self, name: str) -> Contract:
        try:
            return self.contracts[name]
        except KeyError:
            raise UserError(
                f"the pvd deployment on {self.network} ({self.manifest}) has no {name}: "
                f"{name} lives on the other chain, run this with its network"
            ) from None


def signer(spec: str, chain_id: int, environ: Mapping[str, str] | None = None) -> LocalAccount:
    """The account named by `spec` (see the module docstring)."""
    if spec.startswith("env:"):
        name = spec[4:]
        env = os.environ if environ is None else environ
        key = env.get(name, "").strip()
        if not key:
            raise UserError(f"${name} is not set: put the signer's hex private key in it")
        try:
            account: LocalAccount = Account.from_key(key)
        except (ValueError, TypeError):
            raise UserError(f"${name} does not hold a hex private key (0x + 64 hex)") from None
        return account
    if spec in DEV_ROLES:
        if chain_id not in LOCAL_CHAIN_IDS:
            raise UserError(
                f"the development key of {spec!r} is for local chains only, and this is chain "
                f"{chain_id}: sign with env:NAME (a variable holding the key)"
            )
        return dev_account(spec)
    raise UserError(
        f"unknown signer {spec!r}: give a development role ({', '.join(DEV_ROLES)}) or env:NAME"
    )


def address(text: str) -> ChecksumAddress:
    """An address given as 0x... or as a development role name."""
    if text in DEV_ROLES:
        return Web3.to_checksum_address(dev_account(text).address)
    if not Web3.is_address(text):
        raise UserError(
            f"{text!r} is not an address: give 0x + 40 hex digits or a development role "
            f"({', '.join(DEV_ROLES)})"
        )
    return Web3.to_checksum_address(text)


def connect(
    project_root: Path,
    networks: Mapping[str, Mapping[str, Any]],
    active: str,
    signer_spec: str,
) -> tuple[Deployed, LocalAccount]:
    """The deployment on the connected network and the signing account; UserError if
    there is no deployment for this very chain (id and genesis)."""
    url = network_url(networks, active)
    probe = rpc_chain(active, url, 0)
    identity = probe.identity()
    account = signer(signer_spec, identity.chain_id)
    for path in sorted(
        (project_root / "deployments").glob("*.json"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    ):
        try:
            manifest = read_manifest(path)
        except UserError:
            continue
        if (manifest.chain.chain_id, manifest.chain.genesis_hash) != (
            identity.chain_id,
            identity.genesis_hash,
        ):
            continue
        chain = rpc_chain(active, url, manifest.chain.domain_id, [account])
        return Deployed(active, chain, path, _contracts(chain, path, manifest)), account
    raise UserError(
        f"no pvd deployment on {active} (chain {identity.chain_id}) in "
        f"{project_root / 'deployments'}: deploy first ({DEPLOY_HINT})"
    )


def _contracts(chain: Chain, path: Path, manifest: Manifest) -> dict[str, Contract]:
    return {
        name: chain.w3.eth.contract(
            address=Web3.to_checksum_address(deployed.address), abi=load_abi(path, deployed)
        )
        for name, deployed in manifest.contracts.items()
    }


def require_role(contract: Contract, role: str, account: str, what: str) -> None:
    """UserError unless `account` holds `role` (a key of pvd.client.money.ROLES)."""
    if not contract.functions.hasRole(ROLES[role], account).call():
        raise UserError(
            f"{account} lacks the {role} role on the {what}, which this needs: sign as an "
            f"account that has it (central-bank on local chains), or have it granted"
        )


def require_ready(chain: Chain, inbox: Contract) -> None:
    """UserError unless a proposed attester set waits and its delay has passed."""
    pending = pending_attesters(inbox)
    if pending is None:
        raise UserError(
            "no attester set is proposed on this inbox: propose one first "
            "(brownie run scripts/attesters.py propose ...)"
        )
    now = chain.now()
    if now < pending.ready_at:
        raise UserError(
            f"the proposed attester set is ready at block time {pending.ready_at}, "
            f"{pending.ready_at - now} s from now: apply it after the governance delay"
        )
