"""The plain functions behind `brownie run scripts/deploy.py`: read a deployment plan (a
TOML file and `key=value` overrides from the command line), find the two chains from
brownie's network list, check everything before the first transaction, and deploy with
pvd.deploy.system.deploy_system, the same code `pvd deploy` runs, writing the same
manifests. A matching deployment already on the chains is reported, not repeated.

The checks before the first transaction are pvd deploy's (pvd.deploy.contracts: the
plan, two distinct chains, the deployer's funds for an estimate of the gas) and this
front end's (the config file, brownie's network, each RPC's chain id, the development
key only on local chains).

Both chains are needed to wire the system, so the script runs on either network of the
pair (`--network payment-local` or `business-local`) and reaches the other through its
entry in brownie's network list; the chain brownie is connected to must be the one that
entry names.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3

from pvd.chain.connection import Chain, dev_accounts, rpc_chain
from pvd.cli.context import LOCAL_CHAIN_IDS
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
from pvd.deploy.existing import ExistingDeployment, find_deployment
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT

DEV_KEY = "dev"  # the well-known development key (anvil's account 0): local chains only
MAX_ATTESTERS = 32  # Inbox.MAX_ATTESTERS

# key -> (type, required). Everything a deployment decides; docs/console.md lists them.
FIELDS: dict[str, tuple[type, bool]] = {
    "payment_network": (str, True),
    "business_network": (str, True),
    "payment_domain": (int, True),
    "business_domain": (int, True),
    "attesters": (list, True),
    "threshold": (int, True),
    "governance_delay": (int, True),
    "admin_delay": (int, False),
    "deployer": (str, True),
    "out": (str, False),
}


@dataclass(frozen=True)
class DeployPlan:
    payment_network: str
    business_network: str
    system: SystemConfig
    deployer: str  # DEV_KEY or the name of an environment variable holding the hex key
    out: Path  # the manifests' folder

    @property
    def networks(self) -> tuple[str, str]:
        return (self.payment_network, self.business_network)


def load_plan(path: Path, overrides: Sequence[str] = (), root: Path = PROJECT_ROOT) -> DeployPlan:
    """The plan in the TOML file `path`, each `key=value` of `overrides` replacing a key
    (a list as comma-separated values); UserError naming a missing or bad value."""
    path = path if path.is_absolute() else root / path
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(
            f"deployment config {path} does not exist: copy config/deploy.local.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"deployment config {path} is not valid TOML ({exc}): fix it") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in FIELDS:
            raise UserError(
                f"bad argument {item!r}: give key=value with a key of {', '.join(FIELDS)}"
            )
        data[key] = _parse(key, value.strip())
    for key in data:
        if key not in FIELDS:
            raise UserError(f"{path}: unknown key {key!r}: the keys are {', '.join(FIELDS)}")
    for key, (kind, required) in FIELDS.items():
        if key not in data:
            if required:
                raise UserError(f"{path}: {key} is missing: set it there or pass {key}=...")
            continue
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            raise UserError(f"{path}: {key} must be a {kind.__name__}, not {data[key]!r}")
    attesters = tuple(_address(a, path) for a in data["attesters"])
    system = SystemConfig(
        attesters=attesters,
        threshold=data["threshold"],
        payment_domain=data["payment_domain"],
        business_domain=data["business_domain"],
        governance_delay=data["governance_delay"],
        **({"admin_delay": data["admin_delay"]} if "admin_delay" in data else {}),
    )
    _check_system(system, path)
    if data["payment_network"] == data["business_network"]:
        raise UserError(f"{path}: payment_network and business_network must differ")
    out = Path(data.get("out", "deployments"))
    return DeployPlan(
        payment_network=data["payment_network"],
        business_network=data["business_network"],
        system=system,
        deployer=data["deployer"],
        out=out if out.is_absolute() else root / out,
    )


def _parse(key: str, value: str) -> Any:
    kind = FIELDS[key][0]
    if kind is list:
        return [v.strip() for v in value.split(",") if v.strip()]
    if kind is int:
        try:
            return int(value, 0)
        except ValueError:
            raise UserError(f"bad argument {key}={value}: {key} is a whole number") from None
    return value


def _address(value: object, path: Path) -> ChecksumAddress:
    if not isinstance(value, str) or not Web3.is_address(value):
        raise UserError(f"{path}: attester {value!r} is not an address: give 0x + 40 hex digits")
    return Web3.to_checksum_address(value)


def _check_system(config: SystemConfig, path: Path) -> None:
    count = len(config.attesters)
    if len(set(config.attesters)) != count:
        raise UserError(f"{path}: an attester is listed twice: list each once")
    if not 1 <= count <= MAX_ATTESTERS:
        raise UserError(f"{path}: give 1 to {MAX_ATTESTERS} attesters, not {count}")
    if not 1 <= config.threshold <= count:
        raise UserError(f"{path}: threshold {config.threshold} must be 1..{count} (attesters)")
    for name in ("payment_domain", "business_domain"):
        if not 1 <= getattr(config, name) < 2**32:
            raise UserError(f"{path}: {name} must be 1..4294967295")
    if config.payment_domain == config.business_domain:
        raise UserError(f"{path}: payment_domain and business_domain must differ")


# --- the chains ------------------------------------------------------------------------

_UNSET_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def network_url(networks: Mapping[str, Mapping[str, Any]], network: str) -> str:
    """The RPC URL of a network of brownie's list (its `host`, environment expanded)."""
    try:
        host = str(networks[network]["host"])
    except KeyError:
        raise UserError(
            f"brownie has no network {network!r}: add it (`brownie networks add`) or fix "
            "the deployment config"
        ) from None
    host = os.path.expandvars(host)
    if unset := _UNSET_VARIABLE.search(host):
        raise UserError(
            f"network {network}: ${unset.group(1)} is not set: "
            "`source .pvd/chains.env` after `make chains`"
        )
    port = networks[network].get("cmd_settings", {}).get("port")
    if port and ":" not in host.split("//", 1)[-1]:
        host = f"{host}:{port}"
    return host


def deployer_account(plan: DeployPlan, environ: Mapping[str, str] | None = None) -> LocalAccount:
    if plan.deployer == DEV_KEY:
        return dev_accounts()[0]  # well-known development key: worthless, local chains only
    from pvd.relayer.config import EnvKey
    from pvd.relayer.keys import load_account

    return load_account(EnvKey(plan.deployer), environ)


def connect(
    plan: DeployPlan, networks: Mapping[str, Mapping[str, Any]], deployer: LocalAccount
) -> tuple[Chain, Chain]:
    """Both chains, each checked against the chain id brownie's list gives it."""
    chains = []
    for name, network, domain in (
        ("payment", plan.payment_network, plan.system.payment_domain),
        ("business", plan.business_network, plan.system.business_domain),
    ):
        chain = rpc_chain(name, network_url(networks, network), domain, [deployer])
        want = networks[network].get("chainid")
        have = chain.w3.eth.chain_id
        if want is not None and int(want) != have:
            raise UserError(
                f"network {network} should be chain {want}, but its RPC answers chain {have}: "
                "fix its host in brownie's network list"
            )
        chains.append(chain)
    return chains[0], chains[1]


def check_active_network(plan: DeployPlan, active: str | None) -> None:
    if active not in plan.networks:
        raise UserError(
            f"scripts/deploy.py deploys on {' and '.join(plan.networks)}, but brownie is on "
            f"{active}: run it with --network {plan.payment_network}"
        )


def check_dev_key(plan: DeployPlan, chains: Sequence[Chain]) -> None:
    if plan.deployer != DEV_KEY:
        return
    for chain in chains:
        if chain.w3.eth.chain_id not in LOCAL_CHAIN_IDS:
            raise UserError(
                f"deployer 'dev' is a public development key, for local chains only; the "
                f"{chain.name} chain is chain id {chain.w3.eth.chain_id}: set deployer to "
                "the name of a variable holding your key"
            )


@dataclass(frozen=True)
class DeployResult:
    manifests: tuple[Path, Path]
    system: System | None  # None: an existing deployment matched
    existing: ExistingDeployment | None


def deploy(
    plan: DeployPlan,
    networks: Mapping[str, Mapping[str, Any]],
    active: str | None,
    environ: Mapping[str, str] | None = None,
) -> DeployResult:
    """Check the plan against both chains, then deploy (or find the matching deployment).
    Nothing is sent before every check has passed."""
    check_active_network(plan, active)
    config = plan.system
    check_plan(
        Plan(
            config.attesters,
            config.threshold,
            config.payment_domain,
            config.business_domain,
            plan.out,
        )
    )
    deployer = deployer_account(plan, environ)
    payment, business = connect(plan, networks, deployer)
    check_chains(payment, business)
    check_dev_key(plan, (payment, business))
    existing = find_deployment(payment, business, config, plan.out)
    if existing is not None:
        return DeployResult((existing.payment, existing.business), None, existing)
    artifacts = compile_contracts()
    for chain, names in ((payment, PAYMENT_CONTRACTS), (business, BUSINESS_CONTRACTS)):
        check_funds(
            chain,
            deployer.address,
            deployment_gas(artifacts, names, WIRING_TRANSACTIONS[chain.name]),
        )
    start = {c.name: c.w3.eth.get_transaction_count(deployer.address) for c in (payment, business)}
    try:
        system = deploy_system(
            payment, business, config, manifest_folder=plan.out, artifacts=artifacts
        )
    except Exception as exc:
        made = [
            f"{chain.name} {address} (nonce {nonce})"
            for chain in (business, payment)
            for nonce, address in created_since(chain, deployer.address, start[chain.name])
        ]
        raise UserError(
            f"deployment failed midway ({type(exc).__name__}: {exc}); created before the "
            f"failure: {'; '.join(made) or 'nothing'}. No manifest was written and these "
            "contracts are wired to nothing: fix the cause and run the script again"
        ) from exc
    paths = system.manifests
    return DeployResult((paths[0], paths[1]), system, None)
