"""Gas per operation, measured on brownie's development network (anvil).

Each module in scripts/gas/ exposes `measure() -> dict[str, int]`: it deploys what it
needs and returns the receipt's gasUsed per named operation. This script runs them all
and writes the `gas` section of bench/report.json. Run it with `make bench`, or inside
brownie: `brownie run scripts/bench_gas.py`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pvd.bench.report import write_section  # noqa: E402


def measure_all() -> dict[str, dict[str, int]]:
    from scripts import gas

    results: dict[str, dict[str, int]] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(gas.__path__)):
        results[module] = importlib.import_module(f"scripts.gas.{module}").measure()
    return results


def main() -> None:
    results = measure_all()
    report = write_section("gas", results)
    for area, ops in results.items():
        for op, gas in ops.items():
            print(f"{area:10} {op:45} {gas:>9,}")
    print(f"written to {report.relative_to(ROOT)}")


if __name__ == "__main__":
    from brownie import network, project
    from brownie._config import CONFIG

    from pvd.chain.ports import free_port

    CONFIG.networks["pvd-dev"]["cmd_settings"]["port"] = free_port()
    loaded = project.load(ROOT, name="PvdProject")
    loaded.load_config()
    loaded._add_to_main_namespace()  # what `brownie run` does: `from brownie import X`
    network.connect("pvd-dev")
    try:
        main()
    finally:
        network.disconnect()
