"""Add pvd's networks (network-config.yaml: payment-local, business-local, pvd-dev) to
brownie's data folder (~/.brownie/network-config.yaml), saying what it adds or replaces.

Only networks with pvd's own ids are written; every other network of the user's (their
`development`, `anvil`, mainnet...) stays as it was. Safe to repeat, and skipped when
brownie's copy already has this file's networks, so that a second `make setup` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "network-config.yaml"


def wanted_networks() -> list[dict[str, object]]:
    config = yaml.safe_load(SOURCE.read_text())
    live = [net for group in config["live"] for net in group["networks"]]
    return live + list(config["development"])


def installed_networks() -> list[dict[str, object]]:
    path = Path.home() / ".brownie" / "network-config.yaml"
    if not path.exists():
        return []
    config = yaml.safe_load(path.read_text()) or {}
    live = [net for group in config.get("live", []) for net in group.get("networks", [])]
    return live + list(config.get("development", []))


def main() -> None:
    have = {str(net["id"]): net for net in installed_networks()}
    changes = [
        f"{'replaced' if str(net['id']) in have else 'added'} network {net['id']}"
        for net in wanted_networks()
        if have.get(str(net["id"])) != net
    ]
    if not changes:
        return
    # What `brownie networks import network-config.yaml True` does; its command line
    # wrapper swallows a TypeError in brownie 1.22 and reports "Invalid arguments".
    from brownie._cli.networks import _import

    _import(str(SOURCE), True)
    print(f"brownie ({Path.home() / '.brownie' / 'network-config.yaml'}): {', '.join(changes)}")


if __name__ == "__main__":
    main()
