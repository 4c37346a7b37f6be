"""`make bench`'s command-line figures: how long a user waits for `pvd`.

- up: seconds from `pvd up` on a fresh home until it returns with every relayer healthy
  (two anvils, deployment, three `pvd relay` processes), after set-up;
- commands: seconds per `pvd` command as a user runs it (its own process, Python start
  included; on `pvd up`'s stack a step runs in a child of the stack's command server),
  median and max over the runs of one trade with its money steps;
- without_command_server: `pvd wallet show` and `pvd trade show` in the same runs, each
  in its own process with the server switched off (imports included), for comparison;
- up_again: seconds for `pvd up` when everything already runs;
- trace: seconds for `pvd trace TRADE_ID` (its own process, on the index `pvd up` keeps)
  for the last settled trade, once both chains are mined past 10,000 blocks
  (`anvil_mine`) and the index has caught up with them: median and max over the runs,
  with the chains' heights, the seconds anvil took to mine and the index to catch up.

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
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from pvd.bench.report import write_section
from pvd.cli.commandserver import DISABLE_ENV
from pvd.paths import PROJECT_ROOT

MIN_BLOCKS = 10_000  # each chain's height before `pvd trace` is timed
CATCH_UP_TIMEOUT = 300.0


def _pvd(home: Path | None, *args: str, server: bool = True) -> tuple[float, Any]:
    """Run `pvd ARGS [--home HOME] --json` as a user does: its seconds and its answer
    (`server=False`: in its own process even where the stack runs a command server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    if not server:
        env[DISABLE_ENV] = "1"
    where = ("--home", str(home)) if home is not None else ()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *args, *where, "--json"],
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


def _until(home: Path, trade: str, status: str, settlement: str | None = None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _, shown = _pvd(home, "trade", "show", trade)
        if shown["business"]["status"] == status and settlement in (
            None,
            shown["business"]["settlement"],
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"trade {trade} never reached {status}/{settlement}")


def _rpc(url: str, method: str, params: list[Any], timeout: float = 10) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        reply = json.load(answer)
    if "error" in reply:
        raise RuntimeError(f"{method} on {url}: {reply['error']}")
    return reply["result"]


def _height(url: str) -> int:
    return int(_rpc(url, "eth_blockNumber", []), 16)


def _mine_past(rpc: dict[str, str], blocks: int) -> dict[str, int]:
    """Mine both chains (at once, one thread each) until each is past `blocks`; their
    heights."""
    failures: list[BaseException] = []

    def mine(url: str) -> None:
        try:
            missing = blocks + 1 - _height(url)
            if missing > 0:
                _rpc(url, "anvil_mine", [hex(missing)], timeout=CATCH_UP_TIMEOUT)
        except BaseException as exc:  # re-raised below, in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=mine, args=(url,)) for url in rpc.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return {role: _height(url) for role, url in rpc.items()}


def _index_catches_up(db: str, heights: dict[str, int]) -> None:
    """Until the stack's index (`pvd index --follow`) has indexed each chain to `heights`."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    indexed: dict[str, int] = {}
    while time.monotonic() < deadline:
        _, status = _pvd(None, "index", "status", "--db", db)
        indexed = {c["name"]: int(c["indexed_block"]) for c in status}
        if all(indexed.get(role, -1) >= height for role, height in heights.items()):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the index did not reach {heights} (at {indexed})")


def _time_trace(home: Path, trade: str, runs: int) -> dict[str, Any]:
    """`pvd trace` of `trade` on chains past MIN_BLOCKS, on the stack's own index."""
    _, stack = _pvd(home, "ps")
    started = time.perf_counter()
    heights = _mine_past(stack["rpc"], MIN_BLOCKS)
    mined = time.perf_counter() - started
    _index_catches_up(stack["index_db"], heights)
    caught_up = time.perf_counter() - started - mined
    seconds: list[float] = []
    shown: Any = None
    for _ in range(runs):
        elapsed, shown = _pvd(None, "trace", trade, "--db", stack["index_db"])
        seconds.append(elapsed)
    return {
        **_spread(seconds),
        "blocks": heights,
        "trade_status": [shown["trade"]["status"], shown["trade"]["settlement"]],
        "events": len(shown["events"]),
        "mine_seconds": round(mined, 1),
        "index_catch_up_seconds": round(caught_up, 1),
    }


def _spread(seconds: list[float]) -> dict[str, Any]:
    return {
        "median_seconds": round(statistics.median(seconds), 3),
        "max_seconds": round(max(seconds), 3),
        "count": len(seconds),
    }


def measure(runs: int) -> dict[str, Any]:
    timings: dict[str, list[float]] = {}

    own_process: dict[str, list[float]] = {}

    def timed(name: str, home: Path, *args: str) -> Any:
        seconds, answer = _pvd(home, *args)
        timings.setdefault(name, []).append(seconds)
        return answer

    def timed_without_server(name: str, home: Path, *args: str) -> None:
        seconds, _ = _pvd(home, *args, server=False)
        own_process.setdefault(name, []).append(seconds)

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
                timed_without_server("wallet show", home, "wallet", "show", "buyer")
                timed_without_server("trade show", home, "trade", "show", trade)
            _until(home, trade, "Delivered", "Paid")
            trace = _time_trace(home, trade, max(runs, 5))
        finally:
            _pvd(home, "down")
    every = [s for values in timings.values() for s in values]
    return {
        "up_seconds": round(up_seconds, 2),
        "up_again_seconds": round(up_again, 2),
        "runs": runs,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "commands": {name: _spread(values) for name, values in sorted(timings.items())},
        "all_commands_median_seconds": round(statistics.median(every), 3),
        "all_commands_max_seconds": round(max(every), 3),
        "without_command_server": {
            name: _spread(values) for name, values in sorted(own_process.items())
        },
        "trace": trace,
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
