"""Deployment manifests: `deployments/<network>.json`, written by deploy code and read by
the relayer, the reconciler and the CLI. Schema: docs/deployments.md.

A manifest pins the chain it was deployed to (chain id, genesis hash, domain id), so a
process pointed at another chain, or at a chain that was reset, can refuse to act. It also
records the deployment id its inbox binds into every signature ("" for contracts deployed
without an inbox of pvd's, e.g. a token alone).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pvd.chain.connection import ChainIdentity
from pvd.deploy.compiler import CompilerSettings
from pvd.errors import UserError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DeployedContract:
    address: str
    block: int
    abi: str  # path of the ABI file, relative to the manifest's folder


@dataclass(frozen=True)
class Manifest:
    network: str
    chain: ChainIdentity
    compiler: CompilerSettings
    contracts: dict[str, DeployedContract] = field(default_factory=dict)
    deployment_id: str = ""  # 0x + 64 hex digits: the inboxes' Inbox.deploymentId()

    def contract(self, name: str) -> DeployedContract:
        try:
            return self.contracts[name]
        except KeyError:
            raise UserError(
                f"deployment {self.network} has no contract {name}: redeploy with the current code"
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, **asdict(self)}


def manifest_path(folder: Path, network: str) -> Path:
    return folder / f"{network}.json"


def write_manifest(folder: Path, manifest: Manifest, abis: dict[str, list[dict[str, Any]]]) -> Path:
    """Write the manifest and its ABI files atomically (rename), never half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, abi in abis.items():
        _atomic_write(folder / manifest.contracts[name].abi, json.dumps(abi, indent=1))
    path = manifest_path(folder, manifest.network)
    _atomic_write(path, json.dumps(manifest.to_json(), indent=2) + "\n")
    return path


def read_manifest(path: Path) -> Manifest:
    fix = "redeploy (pvd deploy) or point the config at the right file"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"deployment file {path} does not exist: {fix}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"deployment file {path} is not valid JSON ({exc}): {fix}") from None
    try:
        if data["schema"] != SCHEMA_VERSION:
            raise UserError(
                f"deployment file {path} has schema {data['schema']}, "
                f"this pvd reads {SCHEMA_VERSION}: {fix}"
            )
        compiler = data["compiler"]
        return Manifest(
            network=str(data["network"]),
            chain=ChainIdentity(**data["chain"]),
            compiler=CompilerSettings(
                solc_version=compiler["solc_version"],
                evm_version=compiler["evm_version"],
                optimizer_runs=compiler["optimizer_runs"],
                remappings=tuple(compiler["remappings"]),
                via_ir=bool(compiler.get("via_ir", False)),  # absent: written before viaIR
            ),
            contracts={
                name: DeployedContract(**entry) for name, entry in data["contracts"].items()
            },
            deployment_id=str(data.get("deployment_id", "")),
        )
    except (KeyError, TypeError) as exc:
        raise UserError(
            f"deployment file {path} is missing or has a bad field {exc}: {fix}"
        ) from None


def check_domains_unused(folder: Path, chains: tuple[ChainIdentity, ...]) -> None:
    """Refuse (UserError) to deploy on `chains` if a manifest in `folder` records a
    deployment on one of those chains (same chain id and genesis hash) with the same domain
    id: two deployments on one chain must use different domain ids. Unreadable files are
    not manifests and are skipped."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            known = ChainIdentity(**data["chain"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for chain in chains:
            if chain == known:
                raise UserError(
                    f"domain id {chain.domain_id} is already used on chain {chain.chain_id} by "
                    f"the deployment in {path}: choose other domain ids (--payment-domain, "
                    f"--business-domain), or remove {path} if that deployment is retired"
                )


def load_abi(manifest_file: Path, contract: DeployedContract) -> list[dict[str, Any]]:
    path = manifest_file.parent / contract.abi
    try:
        abi: list[dict[str, Any]] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"ABI file {path} is missing or corrupt ({exc}): redeploy") from None
    return abi


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
