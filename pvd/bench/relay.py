"""`make bench`'s relay figures, measured on anvil processes that it starts and stops:

- with three real `pvd relay` processes configured as shipped (pvd.bench.processes):
  latency both ways with the subscription (`shipped_config`) and with polling forced
  (`polling_forced`), idle CPU and RPC calls per block (`idle`), a backlog drained
  (`backlog`: rate, first delivery, repeats, wasted gas), and latency at confirmations
  2 with 1 s blocks on each step's source chain, its destination mining per transaction
  (`depth`) or also every second (`depth_both_interval`); `--only-depth` measures just
  these two, written as the `relay_depth` section so a full run's `relay` is kept;
- catch-up: seconds for a restarted relayer's routes to scan 10,000 new blocks (the
  scan alone, in this process);
- demo: seconds for `pvd demo` on the embedded chains, after set-up;
- node: milliseconds per state read at a past block (what the relayer's source checks
  do), on anvil as pvd starts it and with anvil's default history (ADR 0008).

`open_trades`, `funded`, `deliver` and `executed` are the in-process trade steps that
the catch-up figure and the relayer's tests share.

Written as the `relay` section of bench/report.json (pvd.bench.report). Figures are what
this machine measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.types import RPCEndpoint

from pvd.bench.premade import PremadeBench
from pvd.bench.processes import measure, measure_depth
from pvd.bench.report import QUICK_REPORT, REPORT, write_section
from pvd.chain.anvil import NON_ARCHIVE, start_anvil, stop_anvil
from pvd.chain.rpc import raw_batch
from pvd.cli.demo import Cast, DemoTrade, issue_funds, two_chains
from pvd.client import trade as client
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.relayer.ends import ends_from_system
from pvd.relayer.keys import Signer
from pvd.relayer.retry import RetryPolicy
from pvd.relayer.route import RouteSettings
from pvd.relayer.service import Relayer, RouteOptions
from pvd.relayer.store import Store

HOUR = 3600
BACKLOG_REPORT = REPORT.with_name("report-backlog.json")  # --only-backlog
MINE_CHUNK = 500
NODE_BLOCKS = 1_000  # anvil keeps 500 recent states in memory (NON_ARCHIVE)
PRICE = 100  # one yuan: a thousand trades stay under every wallet cap


def make_relayer(system: System, cast: Cast, store: Path, batch_size: int = 200) -> Relayer:
    payment, business = ends_from_system(system)
    settings = RouteSettings(batch_size=batch_size)
    gas = Signer(cast.gas)
    return Relayer(
        payment,
        business,
        Store(store),
        [Signer(a) for a in cast.attesters],
        {"payment": gas, "business": gas},
        RouteOptions(settings, settings, RetryPolicy(0.05, 1.0, 20)),
    )


def open_trades(system: System, cast: Cast, count: int) -> list[DemoTrade]:
    """Propose, accept, sign and announce `count` holds (not yet relayed)."""
    pay, biz = system.payment, system.business
    deadline = biz.chain.now() + 24 * HOUR
    terms = client.Terms(
        seller=cast.seller.address,
        payer=cast.buyer.address,
        payee=cast.seller.address,
        token=pay.token.address,
        price=PRICE,
        deadline=deadline,
        hold_expiry=deadline + system.config.safety_window + HOUR,
    )
    trades = []
    for _ in range(count):
        trade_id = client.propose(biz.chain, biz.registry, cast.buyer.address, terms)
        client.transact(biz.chain, biz.registry.functions.accept(trade_id), cast.seller.address)
        hold = client.hold_for(trade_id, terms, pay.settlement)
        valid_before = pay.chain.now() + HOUR
        signature = client.sign_hold(pay.token, cast.buyer, hold, valid_before)
        client.place_hold_and_announce(
            pay.chain, pay.settlement, hold, valid_before, signature, cast.dapp.address
        )
        trades.append(DemoTrade("bench", trade_id, hold))
    return trades


def funded(system: System, trade: DemoTrade) -> bool:
    return client.trade_view(system.business.registry, trade.trade_id)["status"] == "Funded"


def executed(system: System, trade: DemoTrade) -> bool:
    token = system.payment.token
    return client.hold_view(token, client.hold_id(token, trade.hold)) == "Executed"


def deliver(system: System, cast: Cast, trade: DemoTrade) -> None:
    biz = system.business
    client.transact(
        biz.chain, biz.registry.functions.ship(trade.trade_id, b"\x01" * 32), cast.seller.address
    )
    client.transact(
        biz.chain, biz.registry.functions.confirmDelivery(trade.trade_id), cast.buyer.address
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_catch_up(system: System, cast: Cast, store: Path, blocks: int) -> dict[str, Any]:
    relayer = make_relayer(system, cast, store)
    relayer.tick()  # checkpoint at the head
    relayer.close()
    for chain in (system.payment.chain, system.business.chain):
        provider: Any = chain.w3.provider
        miner = Web3(Web3.HTTPProvider(provider.endpoint_uri, request_kwargs={"timeout": 300}))
        for _ in range(0, blocks, MINE_CHUNK):
            miner.provider.make_request("anvil_mine", [hex(MINE_CHUNK)])  # type: ignore[arg-type]
    restarted = make_relayer(system, cast, store)
    started = time.perf_counter()
    for route in restarted.routes:
        route.scan()
    seconds = time.perf_counter() - started
    restarted.close()
    return {"blocks_per_chain": blocks, "seconds": round(seconds, 3)}


def measure_demo() -> dict[str, Any]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pvd.cli.main", "demo"], check=True, capture_output=True)
    return {"seconds": round(time.perf_counter() - started, 2), "chains": "embedded"}


def measure_past_state_reads(blocks: int = NODE_BLOCKS, reads: int = 200) -> dict[str, Any]:
    """ms per `eth_getBalance` at a past block (one JSON-RPC batch of `reads`, each at
    another block 50 to 450 blocks back), and at the latest block, after `blocks`
    one-transaction blocks; on anvil with pvd's NON_ARCHIVE flags and with its default."""
    results: dict[str, Any] = {"blocks": blocks, "reads": reads}
    for label, history in (("non_archive", NON_ARCHIVE), ("anvil_default", ())):
        node = start_anvil("node-bench", 31337, history=history)
        try:
            w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 120}))
            accounts: list[str] = list(w3.eth.accounts)
            sender, receiver = accounts[0], accounts[1]
            transfer = {"from": sender, "to": receiver, "value": hex(1)}
            for _ in range(blocks):  # automine: one block each
                w3.provider.make_request(RPCEndpoint("eth_sendTransaction"), [transfer])
            head = w3.eth.block_number
            past = [hex(head - 50 - (i * 400) // reads) for i in range(reads)]
            for where, tags in (("past_ms", past), ("latest_ms", ["latest"] * reads)):
                requests = [("eth_getBalance", [sender, tag]) for tag in tags]
                started = time.perf_counter()
                answers = raw_batch(w3, requests)
                elapsed = time.perf_counter() - started
                if answers is None:
                    raise RuntimeError(f"bench: anvil ({label}) refused the batch of reads")
                results[f"{label}_{where}"] = round(1000 * elapsed / reads, 3)
        finally:
            stop_anvil(node)
    return results


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Every relay figure; the report is written after each phase (`complete` False
    until the last), so a run stopped midway keeps what it measured."""
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full"}
    report = report_path(args)
    if args.only_depth:
        results["mode"] += ", depth only"

        def kept(figures: dict[str, Any]) -> None:
            write_section("relay_depth", {**results, **figures, "complete": False}, report)

        results.update(measure_depth(folder, args.depth_trades, kept))
        results["complete"] = True
        return results

    def partial(figures: dict[str, Any]) -> None:
        write_section("relay", {**results, **figures, "complete": False}, report)

    results.update(
        measure(
            folder,
            args.latency_trades,
            args.polling_trades,
            args.idle_seconds,
            args.backlog,
            partial,
            args.depth_trades,
            args.only_backlog,
            PremadeBench,  # the backlog's trades made in batches before the relayers start
        )
    )
    partial({})
    if args.only_backlog:
        return results
    with two_chains("anvil") as (payment, business):
        cast = Cast.from_accounts(payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
        system = deploy_system(payment, business, config)
        issue_funds(system, cast)
        results["catch_up"] = measure_catch_up(
            system, cast, folder / "catch-up.sqlite", args.catch_up_blocks
        )
    partial({})
    if not args.quick:
        results["demo"] = measure_demo()
        partial({})
        results["node"] = measure_past_state_reads()
    results["complete"] = True
    return results


def report_path(args: argparse.Namespace) -> Path:
    """bench/report.json, bench/report-quick.json (--quick) or, for --only-backlog,
    bench/report-backlog.json: a partial run never overwrites a complete report."""
    if args.only_backlog:
        return BACKLOG_REPORT
    return QUICK_REPORT if args.quick else REPORT


QUICK = {
    "latency_trades": 20,
    "polling_trades": 5,
    "idle_seconds": 10.0,
    "backlog": 200,
    "depth_trades": 3,
    "catch_up_blocks": 2_000,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvd.bench.relay", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer trades, a shorter idle window, a smaller backlog; no demo or node "
        "figures; written to bench/report-quick.json",
    )
    parser.add_argument("--latency-trades", type=int, default=100)
    parser.add_argument("--polling-trades", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument(
        "--depth-trades",
        type=int,
        default=10,
        help="trades timed at confirmations 2 with 1 s blocks, per depth figure (0: skip)",
    )
    parser.add_argument(
        "--only-depth",
        action="store_true",
        help="measure only the two depth figures (--depth-trades trades each), written as "
        "the relay_depth section so the relay section of a full run is kept",
    )
    parser.add_argument("--catch-up-blocks", type=int, default=10_000)
    parser.add_argument(
        "--only-backlog",
        action="store_true",
        help="measure the backlog drain alone, written to bench/report-backlog.json "
        "(relay.data.backlog) so a complete report is never overwritten",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="a folder to run in and keep (the relayers' configs, stores and logs) instead "
        "of a temporary one",
    )
    args = parser.parse_args(argv)
    if args.only_depth and not args.depth_trades:
        parser.error("--only-depth needs --depth-trades of at least 1")
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="pvd-bench-") as tmp:
            results = run(args, Path(tmp))
    section = "relay_depth" if args.only_depth else "relay"
    path = write_section(section, results, report_path(args))
    for name, figures in results.items():
        print(f"{name:15} {figures}")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
