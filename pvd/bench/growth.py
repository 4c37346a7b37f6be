"""`make bench`'s growth figures: how the relayer's cost grows with the work it is given.

- backlogs (100, 200, 1,000, 10,000; 200 is the peer's smaller burst, pvd.bench.peers):
  PAYMENT_HELD messages made while three real `pvd relay`
  processes (pvd.bench.processes, as shipped, confirmations 0) are stopped, then drained:
  messages per second, seconds, first delivery, repeats, and the peak resident memory of
  each relayer process (VmHWM from /proc, read while it runs) against the backlog;
- catch-up (1,000, then 10,000, then 100,000 blocks per chain): seconds for a restarted
  relayer's routes to scan that many new empty blocks (in this process), and the blocks
  each route's checkpoint moved over. The chains are two anvils of their own under the
  Cancun rules with no past states kept (CATCH_UP_ANVIL: why, there), where 100,000
  empty blocks take seconds to make; `mine_seconds` records what making them cost;
- sweep against chain length: on the same anvils, before and after each catch-up, one sweep of
  each route (pvd.relayer.sweep) with the store at the head: its seconds and the source
  blocks it read; next to it, for the record, the seconds one pass over every outbox log
  since deployment takes (what a sweep read before it was bounded).

Written as the `growth` section of bench/report.json (pvd.bench.report). Figures are
what this machine measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint

from pvd.bench.cluster import Cluster
from pvd.bench.cluster import cluster as make_cluster
from pvd.bench.index import prepare
from pvd.bench.premade import PremadeBench
from pvd.bench.relay import make_relayer
from pvd.bench.report import QUICK_REPORT, REPORT, write_section
from pvd.chain.connection import Chain
from pvd.cli.demo import Cast, issue_funds, two_chains
from pvd.deploy.system import System, SystemConfig, deploy_system


def peak_rss_kib(pid: int) -> int | None:
    """The peak resident set size of a running process (VmHWM, KiB), None once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Samples each running relayer's VmHWM every `interval` seconds until closed; the
    last sample of a process is its peak (VmHWM only grows; Bench.backlog keeps the
    relayers running 3 s after the drain, so the last sample follows the drain)."""

    def __init__(self, cluster: Cluster, interval: float = 0.25) -> None:
        self.cluster = cluster
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> None:
        for process in self.cluster.running():
            peak = peak_rss_kib(process.popen.pid)
            if peak is not None:
                name = process.member.name
                self.peaks[name] = max(peak, self.peaks.get(name, 0))

    def close(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(timeout=5)
        return {name: round(kib / 1024, 1) for name, kib in sorted(self.peaks.items())}


def measure_backlogs(folder: Path, sizes: list[int]) -> dict[str, Any]:
    """Each backlog drained by three `pvd relay` processes, with their peak memory."""
    results: dict[str, Any] = {}
    with make_cluster(folder) as cluster:
        prepare(cluster.system, cluster.cast, sum(sizes))
        bench = PremadeBench(cluster)
        try:
            for size in sizes:
                made = time.monotonic()
                bench.premake(size)
                premade = time.monotonic() - made
                memory = PeakMemory(cluster)
                try:
                    drained = bench.backlog(size)
                finally:
                    peaks = memory.close()
                figures = {k: v for k, v in drained.items() if k != "curve"}
                figures["peak_rss_mib_per_relayer"] = peaks
                figures["peak_rss_mib_max"] = max(peaks.values(), default=None)
                figures["made_in_seconds"] = round(premade, 1)
                figures["setup_and_drain_seconds"] = round(time.monotonic() - made, 1)
                results[str(size)] = figures
        finally:
            bench.close()
    return results


def sweep_point(system: System, cast: Cast, store: Path) -> dict[str, Any]:
    """One sweep of each route, the store at the head: seconds and blocks read; and one
    pass over every outbox log since deployment, for comparison."""
    relayer = make_relayer(system, cast, store)
    try:
        relayer.tick()  # the store at both heads
        point: dict[str, Any] = {
            "chain_blocks": {
                "payment": system.payment.chain.w3.eth.block_number,
                "business": system.business.chain.w3.eth.block_number,
            }
        }
        for route in relayer.routes:
            started = time.perf_counter()
            report = route.sweep()
            swept = time.perf_counter() - started
            started = time.perf_counter()
            head = route.logs.confirmed_head(route.settings.confirmations)
            logs = sum(1 for _ in route.logs.logs(route.source.outbox_block, head))
            full = time.perf_counter() - started
            point[route.route.value] = {
                "sweep_seconds": round(swept, 4),
                "sweep_blocks_read": report.blocks_read,
                "full_read_seconds": round(full, 4),
                "full_read_blocks": head - route.source.outbox_block + 1,
                "outbox_logs": logs,
            }
    finally:
        relayer.close()
        relayer.store.close()
    return point


# The catch-up chains run anvil under the Cancun rules, keeping no past states. Under its
# default (Prague) rules anvil 1.7.1 also writes each block's parent hash into the
# EIP-2935 history contract's storage, and each empty block took longer the longer the
# chain: 12,000 blocks took 97 s on one chain; with the past states kept in memory
# (--max-persisted-states 0) anvil grew past 4 GiB by 60,000 blocks and slowed to 45 s
# per 10,000. With these flags 100,000 blocks take about 5 s and 150 MiB. The relayer's
# catch-up reads blocks and outbox logs, which neither changes.
CATCH_UP_ANVIL = ("--hardfork", "cancun", "--prune-history")
MINE_CALL = 10_000  # blocks per anvil_mine call
MINE_CALL_TIMEOUT = 600.0


def mine(chains: list[Chain], blocks: int) -> None:
    """`blocks` empty blocks on each chain (anvil_mine, both chains at once)."""
    failures: list[BaseException] = []

    def mine_one(chain: Chain) -> None:
        provider: Any = chain.w3.provider
        miner = Web3(
            Web3.HTTPProvider(provider.endpoint_uri, request_kwargs={"timeout": MINE_CALL_TIMEOUT})
        )
        try:
            for start in range(0, blocks, MINE_CALL):
                count = min(MINE_CALL, blocks - start)
                miner.provider.make_request(RPCEndpoint("anvil_mine"), [hex(count)])
        except BaseException as exc:  # raised again below, in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=mine_one, args=(chain,)) for chain in chains]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def catch_up_point(system: System, cast: Cast, store: Path, blocks: int) -> dict[str, Any]:
    """A relayer stopped at the head, `blocks` new blocks on each chain, and the seconds
    the restarted relayer's routes take to scan them (each route reads every new block's
    outbox logs, in chunks of eth_getLogs)."""
    relayer = make_relayer(system, cast, store)
    relayer.tick()  # checkpoint at the head
    relayer.close()
    started = time.monotonic()
    mine([system.payment.chain, system.business.chain], blocks)
    mined = time.monotonic() - started
    restarted = make_relayer(system, cast, store)
    try:
        checkpoints = {r.route.value: restarted.store.checkpoint(r.route) for r in restarted.routes}
        started = time.perf_counter()
        for route in restarted.routes:
            route.scan()
        seconds = time.perf_counter() - started
        walked = {
            r.route.value: after.block - before.block
            for r in restarted.routes
            if (before := checkpoints[r.route.value]) is not None
            and (after := restarted.store.checkpoint(r.route)) is not None
        }
    finally:
        restarted.close()
    return {
        "blocks_per_chain": blocks,
        "seconds": round(seconds, 3),
        "blocks_per_second": round(blocks / max(seconds, 1e-6)),
        "blocks_scanned": walked,
        "mine_seconds": round(mined, 1),
    }


def measure_chain_growth(folder: Path, catch_up_blocks: list[int]) -> dict[str, Any]:
    """Catch-up at each size, and a sweep point before and after each, on one pair of
    anvils (CATCH_UP_ANVIL) whose chains grow by each catch-up's blocks in turn."""
    with two_chains("anvil", anvil_history=CATCH_UP_ANVIL) as (payment, business):
        cast = Cast.from_accounts(payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
        system = deploy_system(payment, business, config)
        issue_funds(system, cast)
        catch_up: dict[str, Any] = {}
        sweeps = [sweep_point(system, cast, folder / "sweep-0.sqlite")]
        for n, blocks in enumerate(catch_up_blocks, start=1):
            store = folder / f"catch-up-{n}.sqlite"
            catch_up[str(blocks)] = catch_up_point(system, cast, store, blocks)
            sweeps.append(sweep_point(system, cast, folder / f"sweep-{n}.sqlite"))
    return {
        "catch_up": catch_up,
        "catch_up_anvil": " ".join(CATCH_UP_ANVIL),
        "sweep": sweeps,
    }


QUICK = {"backlogs": "100", "catch_up_blocks": "1000,10000"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvd.bench.growth", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a backlog of 100, catch-up of 1,000 and 10,000 blocks; report-quick.json",
    )
    parser.add_argument("--backlogs", default="100,200,1000,10000", help="comma-separated")
    parser.add_argument("--catch-up-blocks", default="1000,10000,100000", help="comma-separated")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    backlogs = [int(s) for s in args.backlogs.split(",") if s.strip()]
    blocks = [int(s) for s in args.catch_up_blocks.split(",") if s.strip()]
    report = QUICK_REPORT if args.quick else REPORT
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "complete": False}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pvd-bench-growth-") as tmp:
        folder = Path(tmp)
        results.update(measure_chain_growth(folder / "chains", blocks))
        write_section("growth", results, report)
        results["backlogs"] = measure_backlogs(folder / "cluster", backlogs)
    results["complete"] = True
    results["seconds"] = round(time.monotonic() - started, 1)
    path = write_section("growth", results, report)
    for name, figures in results.items():
        print(f"{name:10} {figures}")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
