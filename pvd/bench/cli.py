"""`make bench`'s command-line figures: how long a user waits for `pvd`.

- up: seconds from `pvd up` on a fresh home until it returns with every relayer healthy
  (two anvils, deployment, three `pvd relay` processes), after set-up;
- commands: seconds per `pvd` command as a user runs it (its own process, Python start
  and imports included), median and max over the runs of one trade with its money steps;
- up_again: seconds for `pvd up` when everything already runs.

Written as the `cli` section of bench/report.json (pvd.bench.report). Figures are what
this machine measured in this run, under whatever else it was running; nothing asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pvd.bench.report import write_section
from pvd.paths import PROJECT_ROOT


def _pvd(home: Path, *args: str) -> tuple[float, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *args, "--home", str(home), "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pvd {' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed, json.loads(done.stdout)


def _until(home: Path, trade: str, status: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _, shown = _pvd(home, "trade", "show", trade)
        if shown["business"]["status"] == status:
            return
        time.sleep(0.2)
    raise RuntimeError(f"trade {trade} never reached {status}")


def measure(runs: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {}

    def timed(name: str, home: Path, *args: str) -> Any:
        seconds, answer = _pvd(home, *args)
        timings.setdefault(name, []).append(seconds)
        return answer

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "stack"
        up_seconds, _ = _pvd(home, "up")
        try:
            up_again, _ = _pvd(home, "up")
            timed(
                "bank appoint",
                home,
                "bank",
                "appoint",
                "bank",
                "--allowance",
                "1000000",
                "--as",
                "central-bank",
            )
            for _ in range(runs):
                timed("issue", home, "issue", "buyer", "100", "--as", "bank")
                timed("wallet show", home, "wallet", "show", "buyer")
                timed("transfer", home, "transfer", "seller", "1", "--as", "buyer")
                trade = timed(
                    "trade propose",
                    home,
                    "trade",
                    "propose",
                    "--seller",
                    "seller",
                    "--price",
                    "10",
                    "--as",
                    "buyer",
                )["trade_id"]
                timed("trade accept", home, "trade", "accept", trade, "--as", "seller")
                timed("trade hold", home, "trade", "hold", trade, "--as", "buyer")
                _until(home, trade, "Funded")
                timed(
                    "trade ship",
                    home,
                    "trade",
                    "ship",
                    trade,
                    "--document-hash",
                    "0x" + "ab" * 32,
                    "--as",
                    "seller",
                )
                timed("trade confirm", home, "trade", "confirm", trade, "--as", "buyer")
                timed("trade show", home, "trade", "show", trade)
        finally:
            _pvd(home, "down")
    every = [s for values in timings.values() for s in values]
    return {
        "up_seconds": round(up_seconds, 2),
        "up_again_seconds": round(up_again, 2),
        "runs": runs,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "commands": {
            name: {
                "median_seconds": round(statistics.median(values), 3),
                "max_seconds": round(max(values), 3),
                "count": len(values),
            }
            for name, values in sorted(timings.items())
        },
        "all_commands_median_seconds": round(statistics.median(every), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="trades to time (default: 3)")
    args = parser.parse_args()
    figures = measure(args.runs)
    path = write_section("cli", figures)
    print(json.dumps(figures, indent=2))
    print(f"wrote the cli section of {path}")


if __name__ == "__main__":
    main()
