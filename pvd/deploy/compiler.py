"""The pvd package's own compile path: brownie-config.yaml's pinned settings, py-solc-x's
standard-JSON interface, and a content-addressed cache of the output in build/pvd/.

brownie compiles the same sources with the same settings for its console and tests; this
module exists so that the relayer, the CLI and the embedded demo never import brownie.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT


@dataclass(frozen=True)
class CompilerSettings:
    solc_version: str
    evm_version: str
    optimizer_runs: int | None  # None: optimizer off
    remappings: tuple[str, ...]
    via_ir: bool = False  # solc's `viaIR`: code generation through the Yul IR optimizer


@dataclass(frozen=True)
class Artifact:
    """One compiled contract, as deployment code and tooling need it."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


def load_compiler_settings(root: Path = PROJECT_ROOT) -> CompilerSettings:
    import yaml  # here, not at the top: reading a manifest (every pvd command) needs no YAML

    config = yaml.safe_load((root / "brownie-config.yaml").read_text())["compiler"]
    solc = config["solc"]
    optimizer = solc.get("optimizer", {})
    return CompilerSettings(
        solc_version=str(solc["version"]),
        evm_version=str(config["evm_version"]),
        optimizer_runs=int(optimizer["runs"]) if optimizer.get("enabled") else None,
        remappings=tuple(solc.get("remappings", [])),
        via_ir=bool(solc.get("viaIR", False)),
    )


def standard_json_input(root: Path, settings: CompilerSettings) -> dict[str, Any]:
    """Every .sol file under contracts/, with the pinned settings (imports resolve from disk)."""
    sources = {
        str(path.relative_to(root)): {"content": path.read_text()}
        for path in sorted((root / "contracts").rglob("*.sol"))
    }
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": settings.evm_version,
            "optimizer": {
                "enabled": settings.optimizer_runs is not None,
                "runs": settings.optimizer_runs or 200,
            },
            "viaIR": settings.via_ir,
            "remappings": list(settings.remappings),
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def compile_contracts(root: Path = PROJECT_ROOT) -> dict[str, Artifact]:
    """Compile contracts/ (or return the cached result for identical input)."""
    return _artifacts(compiler_output(root))


def compiler_output(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """solc's whole standard-JSON output for contracts/ (cached), libraries such as
    OpenZeppelin included: what pvd.deploy.reverts reads every error ABI from."""
    settings = load_compiler_settings(root)
    source_input = standard_json_input(root, settings)
    digest = hashlib.sha256(
        json.dumps([settings.solc_version, source_input], sort_keys=True).encode()
    ).hexdigest()
    cache = root / "build" / "pvd" / f"{digest}.json"
    if cache.exists():
        output = json.loads(cache.read_text())
    else:
        output = _run_solc(root, settings, source_input)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(output))
    return dict(output)


def solc_binary(root: Path = PROJECT_ROOT) -> Path:
    """The pinned solc that `make setup` installed where py-solc-x looks."""
    import solcx  # imported here: only compiling needs it

    version = load_compiler_settings(root).solc_version
    try:
        return Path(solcx.install.get_executable(version))
    except solcx.exceptions.SolcNotInstalled as exc:
        raise UserError(f"solc {version} is not installed: run `make setup`") from exc


def _run_solc(root: Path, settings: CompilerSettings, source_input: dict[str, Any]) -> Any:
    import solcx

    binary = solc_binary(root)
    try:
        return solcx.compile_standard(
            source_input, solc_binary=binary, allow_paths=str(root), base_path=str(root)
        )
    except solcx.exceptions.SolcError as exc:
        errors = json.loads(exc.stdout_data or "{}").get("errors", [{}])
        first = next((e for e in errors if e.get("severity") == "error"), errors[0])
        raise UserError(f"compilation failed: {first.get('formattedMessage', exc)}") from None


def _artifacts(output: dict[str, Any]) -> dict[str, Artifact]:
    artifacts: dict[str, Artifact] = {}
    for source, contracts in output["contracts"].items():
        if not source.startswith("contracts/"):
            continue  # libraries such as OpenZeppelin are reached through the project's own
        for name, data in contracts.items():
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=data["abi"],
                bytecode="0x" + data["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
            )
    return artifacts
