"""Is pvd already deployed on these two chains, as this config asks? The check that makes a
deployment idempotent (scripts/deploy.py; any front end of deploy_system can call it).

A deployment is the pair of manifests deploy_system writes (`<chain name>-<domain>.json`)
in a folder. It matches when both manifests were written for these very chains (chain
id, genesis hash, domain id), every contract they list has code, and each inbox holds the
attesters, threshold and governance delay of the config. Manifests of an earlier chain
(a local chain restarted: same id, other genesis) do not count: deploying writes new ones.
Manifests of these chains with other settings are an error: deploying again would leave
two systems and one pair of manifests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pvd.chain.connection import Chain
from pvd.deploy.manifest import Manifest, load_abi, manifest_path, read_manifest
from pvd.deploy.system import SystemConfig
from pvd.errors import UserError


@dataclass(frozen=True)
class ExistingDeployment:
    payment: Path
    business: Path


def manifest_paths(
    payment: Chain, business: Chain, config: SystemConfig, folder: Path
) -> tuple[Path, Path]:
    """Where deploy_system writes the two manifests for this config."""
    return (
        manifest_path(folder, f"{payment.name}-{config.payment_domain}"),
        manifest_path(folder, f"{business.name}-{config.business_domain}"),
    )


def find_deployment(
    payment: Chain, business: Chain, config: SystemConfig, folder: Path
) -> ExistingDeployment | None:
    """The matching deployment, or None if there is none on these chains; UserError if
    one exists on these chains with other settings."""
    paths = manifest_paths(payment, business, config, folder)
    if not all(path.exists() for path in paths):
        return None
    manifests = [read_manifest(path) for path in paths]
    for chain, manifest in zip((payment, business), manifests, strict=True):
        if manifest.chain != chain.identity() or not _all_have_code(chain, manifest):
            return None  # written for an earlier chain: not a deployment here
    for chain, path, manifest in zip((payment, business), paths, manifests, strict=True):
        _check_settings(chain, path, manifest, config)
    return ExistingDeployment(*paths)


def _all_have_code(chain: Chain, manifest: Manifest) -> bool:
    return bool(manifest.contracts) and all(
        len(chain.w3.eth.get_code(chain.w3.to_checksum_address(c.address))) > 0
        for c in manifest.contracts.values()
    )


def _check_settings(chain: Chain, path: Path, manifest: Manifest, config: SystemConfig) -> None:
    deployed = manifest.contract("Inbox")
    address = chain.w3.to_checksum_address(deployed.address)
    inbox = chain.w3.eth.contract(address=address, abi=load_abi(path, deployed))
    have = {
        "attesters": sorted(a.lower() for a in inbox.functions.attesters().call()),
        "threshold": inbox.functions.threshold().call(),
        "governance delay": inbox.functions.governanceDelay().call(),
    }
    want = {
        "attesters": sorted(a.lower() for a in config.attesters),
        "threshold": config.threshold,
        "governance delay": config.governance_delay,
    }
    for key, value in want.items():
        if have[key] != value:
            raise UserError(
                f"pvd is already deployed on the {chain.name} chain ({path}) with {key} "
                f"{have[key]}, not {value}: deploy with its settings, or give another "
                "manifest folder to deploy a second system"
            )
