"""How brownie loads the pvd project. `install()` runs once per process, right after
brownie's package is imported (pvd_brownie.boot), and makes five changes to how brownie
loads the project, its deployments and its connection:

1. anvil without an activated venv: brownie starts its development network's `cmd`
   (`anvil`) through PATH; the venv's bin folder (where `make setup` links anvil) joins
   PATH, so `.venv/bin/brownie test` works from a plain shell.
2. pvd-dev, the project's default network (brownie-config.yaml cannot name it: brownie
   1.22.2 fails on a project's `networks: {default: ...}`), on PVD_DEV_PORT if set, else
   on a port that is free now (never 8545 by assumption: the machine may run other anvils).
3. brownie 1.22.2's `TypeError: dict object expected; got ...Sources` on `.at()` and
   `.deploy()` on a live network. The cause: `brownie.network.state._add_deployment` is
   compiled (mypyc) with `contract_sources: dict = contract._sources`, so the compiled
   code checks that the value is a dict at run time; but every project contract object
   receives the project's `Sources` object there (`ProjectContract(...)` passes
   `project._sources`). It is reached only on live networks, after the contract was
   already recorded, hence "it works in the next session". Here every contract object is
   given a `SourceMap`: a real dict of the project's source paths, backed by the same
   `Sources` for lookups by contract name or by a path outside the project.
4. brownie's deployment records (build/deployments/<chain id>/) for a live network are
   brought in line with the chain before brownie loads them: records of an earlier chain
   with the same chain id (another genesis block) or of addresses without code are
   removed (brownie would abort with ContractNotFound), and every contract of a pvd
   manifest (deployments/*.json, written by `pvd deploy` and scripts/deploy.py) of this
   very chain is added, so `YuanToken[-1]` is the token of the newest deployment.
5. Custom errors by name on a live network: web3 7 raises `ContractLogicError` when
   `eth_call` or `eth_estimateGas` reverts, an exception brownie 1.22.2 does not catch
   (it expects a ValueError or Web3RPCError), so a revert surfaced as raw hex. brownie's
   web3 connection hands such a revert on as the Web3RPCError brownie expects, and
   brownie decodes it by the project's ABIs: `Gas estimation failed: 'TradeWrongStatus:
   0x..., 2'` (as its own tests on the development network show it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pvd.chain.ports import free_port
from pvd.deploy.manifest import Manifest, read_manifest
from pvd.errors import UserError

log = logging.getLogger("pvd_brownie")

DEV_NETWORK = "pvd-dev"
GENESIS_MARKER = ".pvd-genesis"  # beside brownie's records; brownie reads only *.json

_installed = False


def install() -> None:
    """Apply the four changes (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    # brownie warns about its own call when it starts a development network
    warnings.filterwarnings("ignore", "rpc.snapshot should not be called directly", FutureWarning)
    _put_venv_on_path()
    _pick_dev_port()
    _give_contracts_a_source_dict()
    _sync_records_before_load()
    _reverts_as_brownie_expects()


# --- 1. anvil on PATH ------------------------------------------------------------------


def _put_venv_on_path() -> None:
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir


# --- 2. pvd-dev on a free port ---------------------------------------------------------


def _pick_dev_port() -> None:
    from brownie._config import CONFIG

    settings = CONFIG.networks.get(DEV_NETWORK)
    if settings is None:
        return  # networks not imported yet (`make setup` does it)
    port = int(os.environ.get("PVD_DEV_PORT") or free_port())
    settings.setdefault("cmd_settings", {})["port"] = port
    CONFIG.settings._unlock()
    CONFIG.settings["networks"]["default"] = DEV_NETWORK
    CONFIG.settings._lock()


# --- 3. a dict of sources for every contract object ------------------------------------


class SourceMap(dict[str, str]):
    """The project's sources as a dict of path -> source text (what brownie's compiled
    deployment code requires), answering `get` as brownie's `Sources` does (also by
    contract name, and from disk for paths outside the project) and any other `Sources`
    method by delegation."""

    def __init__(self, sources: Any) -> None:
        super().__init__({path: sources.get(path) for path in sources.get_path_list()})
        self._sources = sources

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._sources.get(key)
        except OSError:
            return default

    def __getattr__(self, name: str) -> Any:
        if name == "_sources":
            raise AttributeError(name)
        return getattr(self._sources, name)


_maps: dict[int, tuple[Any, SourceMap]] = {}


def source_map(sources: Any) -> SourceMap:
    """One SourceMap per `Sources` object (a project reloaded gets a new one)."""
    cached = _maps.get(id(sources))
    if cached is None or cached[0] is not sources:
        cached = (sources, SourceMap(sources))
        _maps[id(sources)] = cached
    return cached[1]


def _give_contracts_a_source_dict() -> None:
    from brownie.network import contract

    original: Callable[..., None] = contract._ContractBase.__init__

    def __init__(self: Any, project: Any, build: Any, sources: Any) -> None:
        if sources is not None and not isinstance(sources, dict):
            sources = source_map(sources)
        original(self, project, build, sources)

    contract._ContractBase.__init__ = __init__  # type: ignore[method-assign]


# --- 5. reverts reach brownie's own decoding -------------------------------------------


def _reverts_as_brownie_expects() -> None:
    from brownie.network.web3 import web3
    from web3.exceptions import ContractLogicError, Web3RPCError

    def handing_on(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except ContractLogicError as exc:
                error = {"code": 3, "message": str(exc.message or exc), "data": exc.data}
                response: Any = {"error": error}
                raise Web3RPCError(str(exc), rpc_response=response) from exc

        return call

    web3.eth.call = handing_on(web3.eth.call)  # type: ignore[method-assign]
    web3.eth.estimate_gas = handing_on(web3.eth.estimate_gas)  # type: ignore[method-assign]


# --- 4. deployment records that match the chain ----------------------------------------


def _sync_records_before_load() -> None:
    from brownie.project.main import Project

    original: Callable[[Any], None] = Project._load_deployments

    def _load_deployments(self: Any) -> None:
        from brownie._config import CONFIG

        if CONFIG.network_type == "live" and self._build_path is not None:
            try:
                sync_records(self)
            except Exception as exc:  # a record we cannot fix must not stop the console
                log.warning("pvd: could not check brownie's deployment records: %s", exc)
        original(self)

    Project._load_deployments = _load_deployments  # type: ignore[method-assign]


def sync_records(project: Any) -> None:
    """Remove records of another chain or without code; add those of pvd's manifests."""
    from brownie._config import CONFIG
    from brownie.network.web3 import web3

    chain_key = str(CONFIG.active_network["chainid"])
    folder = Path(project._build_path) / "deployments" / chain_key
    folder.mkdir(parents=True, exist_ok=True)
    genesis = web3.eth.get_block(0)["hash"].to_0x_hex()
    marker = folder / GENESIS_MARKER
    earlier = marker.read_text().strip() if marker.exists() else None

    def has_code(address: str) -> bool:
        return len(web3.eth.get_code(web3.to_checksum_address(address))) > 0

    removed = []
    for record in folder.glob("*.json"):
        if (earlier is not None and earlier != genesis) or not has_code(record.stem):
            record.unlink()
            removed.append(record.stem)
    marker.write_text(genesis + "\n")
    if removed:
        why = "another genesis block" if earlier not in (None, genesis) else "no code there"
        log.warning(
            "pvd: removed %d brownie deployment record(s) of chain %s (%s)",
            len(removed),
            chain_key,
            why,
        )

    added = 0
    for manifest in matching_manifests(
        Path(project._path) / "deployments", web3.eth.chain_id, genesis
    ):
        stamp = manifest[1]
        for name, deployed in manifest[0].contracts.items():
            container = project._containers.get(name)
            record = folder / f"{deployed.address}.json"
            if container is None or record.exists() or not has_code(deployed.address):
                continue
            build = dict(container._build)
            build["deployment"] = {
                "address": deployed.address,
                "chainid": CONFIG.active_network["chainid"],
                "blockHeight": deployed.block,
            }
            record.write_text(json.dumps(build))
            os.utime(record, (stamp, stamp))  # brownie orders records by time: [-1] newest
            added += 1
    _prune_map(Path(project._build_path) / "deployments" / "map.json", chain_key, folder)
    if added:
        log.info("pvd: %d contract(s) of pvd manifests added to brownie's records", added)


def matching_manifests(folder: Path, chain_id: int, genesis: str) -> list[tuple[Manifest, float]]:
    """The manifests in `folder` written for this chain (id and genesis), oldest first,
    each with its file's modification time."""
    found = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            manifest = read_manifest(path)
        except UserError:
            continue  # not a manifest, or another schema: not ours to judge here
        if manifest.chain.chain_id == chain_id and manifest.chain.genesis_hash == genesis:
            found.append((manifest, path.stat().st_mtime))
    return found


def _prune_map(map_path: Path, chain_key: str, folder: Path) -> None:
    """Drop addresses without a record from brownie's deployment map of this chain
    (brownie only ever adds to it)."""
    if not map_path.exists():
        return
    data = json.loads(map_path.read_text())
    names = data.get(chain_key, {})
    for name in list(names):
        names[name] = [a for a in names[name] if (folder / f"{a}.json").exists()]
        if not names[name]:
            del names[name]
    if chain_key in data and not names:
        del data[chain_key]
    map_path.write_text(json.dumps(data, sort_keys=True, indent=2))
