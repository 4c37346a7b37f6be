"""Gas per operation, measured on brownie's development network (anvil).

Each module in scripts/gas/ exposes `measure() -> dict[str, int]`: it deploys what it
needs and returns the receipt's gasUsed per named operation. This script runs them all
and writes the `gas` section of bench/report.json. Run it with `make bench`, or inside
brownie: `brownie run scripts/bench_gas.py`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "report.json"


def measure_all() -> dict[str, dict[str, int]]:
    from scripts import gas

    results: dict[str, dict[str, int]] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(gas.__path__)):
        results[module] = importlib.import_module(f"scripts.gas.{module}").measure()
    return results


def write_section(name: str, data: object) -> None:
    """Merge one section into bench/report.json (other sections are kept)."""
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    report[name] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "data": data,
    }
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def main() -> None:
    results = measure_all()
    write_section("gas", results)
    for area, ops in results.items():
        for op, gas in ops.items():
            print(f"{area:10} {op:45} {gas:>9,}")
    print(f"written to {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    from brownie import network, project
    from brownie._config import CONFIG

    from pvd.ports import free_port

    CONFIG.networks["development"]["cmd_settings"]["port"] = free_port()
    loaded = project.load(ROOT, name="PvdProject")
    loaded.load_config()
    loaded._add_to_main_namespace()  # what `brownie run` does: `from brownie import X`
    network.connect("development")
    try:
        main()
    finally:
        network.disconnect()
