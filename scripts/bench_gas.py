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


def measure_all(only: tuple[str, ...] = ()) -> dict[str, dict[str, int]]:
    from scripts import gas

    results: dict[str, dict[str, int]] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(gas.__path__)):
        if only and module not in only:
            continue
        measured = importlib.import_module(f"scripts.gas.{module}")
        if hasattr(measured, "measure"):  # compiler_settings.py is a tool of its own
            results[module] = measured.measure()
    return results


# Each pvd figure against its baseline, measured in the same run:
# name -> ((area, pvd operations summed), (area, baseline operation)).
COMPARISONS: dict[str, tuple[tuple[str, tuple[str, ...]], tuple[str, str]]] = {
    "settlement_vs_htlc_lock_plus_claim": (
        (
            "bridge",
            (
                "settlement_hold_and_announce_by_signature",
                "settlement_deliver_delivered_outcome_2_of_3",
            ),
        ),
        ("baselines", "htlc_lock_plus_claim"),
    ),
    "hold_and_announce_vs_htlc_lock": (
        ("bridge", ("settlement_hold_and_announce_by_signature",)),
        ("baselines", "htlc_lock"),
    ),
    "delivered_outcome_vs_htlc_claim": (
        ("bridge", ("settlement_deliver_delivered_outcome_2_of_3",)),
        ("baselines", "htlc_claim"),
    ),
    "yuan_transfer_vs_erc20_transfer": (
        ("token", ("transfer_uncapped",)),
        ("token", "plain_erc20_transfer"),
    ),
}


def compare(results: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """Each comparison whose figures were all measured: pvd's gas, the baseline's, and
    pvd / baseline rounded to 3 decimals (a comparison missing a figure is left out)."""
    out: dict[str, dict[str, float]] = {}
    for name, ((area, ops), (base_area, base_op)) in COMPARISONS.items():
        measured = results.get(area, {})
        baseline = results.get(base_area, {}).get(base_op)
        if baseline is None or not all(op in measured for op in ops):
            continue
        pvd = sum(measured[op] for op in ops)
        out[name] = {"pvd": pvd, "baseline": baseline, "ratio": round(pvd / baseline, 3)}
    return out


def main(only: tuple[str, ...] = ()) -> None:
    """Measure every module of scripts/gas/ and write the report's sections; with module
    names (`scripts/bench_gas.py breakdown`), measure only those and print, writing nothing."""
    results = measure_all(only)
    if only:
        for area, ops in results.items():
            for op, gas in ops.items():
                print(f"{area:10} {op:60} {gas:>9,}")
        return
    report = write_section("gas", results)
    comparison = compare(results)
    write_section("gas_comparison", comparison)
    for area, ops in results.items():
        for op, gas in ops.items():
            print(f"{area:10} {op:45} {gas:>9,}")
    for name, row in comparison.items():
        print(f"{name:56} {row['pvd']:>9,} / {row['baseline']:>9,} = {row['ratio']:.3f}")
    print(f"written to {report.relative_to(ROOT)}")


if __name__ == "__main__":
    from brownie import network, project
    from brownie._config import CONFIG

    from pvd.chain.ports import free_port

    CONFIG.networks["pvd-dev"]["cmd_settings"]["port"] = free_port()
    # Geth-style step traces for scripts/gas/breakdown.py (debug_traceTransaction).
    CONFIG.networks["pvd-dev"]["cmd_settings"]["steps_tracing"] = True
    loaded = project.load(ROOT, name="PvdProject")
    loaded.load_config()
    loaded._add_to_main_namespace()  # what `brownie run` does: `from brownie import X`
    network.connect("pvd-dev")
    try:
        main(tuple(sys.argv[1:]))
    finally:
        network.disconnect()
