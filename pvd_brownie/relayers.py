"""Three local relayers for the chains of `make chains` and the system scripts/deploy.py
deployed there (`make relayers`, `make relayers-down`): the very relayers `pvd up` starts
(pvd.cli.stack.start_relayers: one `pvd relay` process per attester of
config/deploy.local.toml, 2 of 3, each with its own config, store, ports and log), here
under .pvd/relayers/, started in the background and stopped by the PIDs recorded there
(each only while it is still that process).

Keys: anvil's well-known development accounts (TEST KEYS ONLY, worthless): attestation
keys m/44'/60'/0'/0/5..7 (the attesters of config/deploy.local.toml), gas keys
m/44'/60'/0'/0/10..12, which `up` gives ether on both local chains (anvil_setBalance,
a development-chain call). Never use this for a chain of value: see docs/relayer.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pvd.chain.local import ManagedProcess, read_stack
from pvd.cli import stack
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT


def folder(root: Path = PROJECT_ROOT) -> Path:
    return root / ".pvd" / "relayers"


def running(root: Path = PROJECT_ROOT) -> list[ManagedProcess]:
    """The relayers `up` recorded under `root` (running or not)."""
    state = read_stack(folder(root))
    return list(state.processes) if state is not None else []


def _chain_urls() -> dict[str, str]:
    urls = {role: os.environ.get(f"PVD_{role.upper()}_RPC") for role in ("payment", "business")}
    if not all(urls.values()):
        raise UserError(
            "PVD_PAYMENT_RPC and PVD_BUSINESS_RPC are not set: `make chains`, then "
            "`source .pvd/chains.env`"
        )
    return {role: str(url) for role, url in urls.items()}


def _manifests(root: Path) -> dict[str, str]:
    paths = {
        "payment": root / "deployments" / "payment-1.json",
        "business": root / "deployments" / "business-2.json",
    }
    for path in paths.values():
        if not path.exists():
            raise UserError(
                f"no deployment manifest {path}: deploy first "
                "(`brownie run scripts/deploy.py main config/deploy.local.toml "
                "--network payment-local`)"
            )
    return {role: str(path) for role, path in paths.items()}


def up(root: Path = PROJECT_ROOT) -> list[ManagedProcess]:
    """Start the three relayers and wait until each serves its signatures."""
    if live := [p for p in running(root) if p.state() == "running"]:
        raise UserError(
            f"local relayers already running (pids {', '.join(str(p.pid) for p in live)}): "
            "`make relayers-down` first"
        )
    state = stack.start_relayers(folder(root), _chain_urls(), _manifests(root))
    return list(state.processes)


def down(root: Path = PROJECT_ROOT) -> list[ManagedProcess]:
    """Stop exactly the relayers `up` recorded."""
    return [process for process, _ in stack.down(folder(root))]


def main(argv: list[str]) -> int:
    action = argv[0] if argv else ""
    try:
        if action == "up":
            for process in up():
                print(
                    f"{process.name}: pid {process.pid}, metrics {process.url}, log {process.log}"
                )
        elif action == "down":
            stopped = down()
            print(f"stopped {len(stopped)} relayer(s)" if stopped else "no local relayers running")
        else:
            raise UserError(f"unknown action {action!r}: give up or down")
    except UserError as exc:
        print(f"relayers: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
