"""`make bench`'s growth figures: how the relayer's cost grows with the work it is given.

- backlogs (100, 200, 1,000, 10,000; 200 is the peer's smaller burst, pvd.bench.peers):
  PAYMENT_HELD messages made while three real `pvd relay`
  processes (pvd.bench.processes, as shipped, confirmations 0) are stopped, then drained:
  messages per second, seconds, first delivery, repeats, and the peak resident memory of
  each relayer process (VmHWM from /proc, read while it runs) against the backlog;
- catch-up (1,000 and then 10,000 blocks per chain): seconds for a restarted relayer's
  routes to scan that many new empty blocks (pvd.bench.relay.measure_catch_up, in this
  process, on two anvils). Not 100,000: anvil's `anvil_mine` costs more per block the
  longer the chain (500 blocks take 0.2-0.3 s on a new chain and several seconds after
  5,000 blocks, with or without pvd's history flags), so 100,000 blocks would take hours
  to make; `mine_and_setup_seconds` records what making each size cost;
- sweep against chain length: on the same anvils, after each catch-up, one sweep of
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
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.types import RPCEndpoint

from pvd.bench.cluster import Cluster
from pvd.bench.cluster import cluster as make_cluster
from pvd.bench.index import prepare
from pvd.bench.processes import Bench
from pvd.bench.relay import make_relayer, measure_catch_up
from pvd.bench.report import QUICK_REPORT, REPORT, write_section
from pvd.chain.connection import Chain
from pvd.chain.rpc import raw_batch
from pvd.cli.demo import Cast, DemoTrade, issue_funds, two_chains
from pvd.client import trade as client
from pvd.deploy.reverts import project_decoder
from pvd.deploy.system import System, SystemConfig, deploy_system

HOUR = 3600
SEND_BATCH = 200  # signed transactions per JSON-RPC batch
POOL_CHUNK = 1_000  # transactions sent before they are mined
MINE_TIMEOUT = 600.0  # seconds to mine what one premake step sent


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


def _signed(chain_id: int, account: LocalAccount, call: Any, nonce: int, gas: int, fee: int) -> str:
    tx = call.build_transaction(
        {
            "from": account.address,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fee,
            "maxPriorityFeePerGas": 0,
            "chainId": chain_id,
        }
    )
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def _send_all(chain: Chain, raw: list[str]) -> list[dict[str, Any]]:
    """Send signed transactions (one sender, consecutive nonces) with anvil's automine
    off, POOL_CHUNK at a time (in JSON-RPC batches of SEND_BATCH), mining blocks until
    each chunk is in before sending the next: many transactions a block, since anvil
    makes each block more slowly the longer its chain. The base fee is reset before
    each block: full blocks raise it 12.5 % each, and past the fee the transactions were
    signed with anvil leaves them in its pool and refuses new ones (a bench of the relay
    is not one of fees). Their receipts, each checked to have succeeded."""
    w3 = chain.w3
    hashes: list[str] = []
    last = RPCEndpoint("eth_getTransactionReceipt")
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        for pool_start in range(0, len(raw), POOL_CHUNK):
            for start in range(pool_start, min(len(raw), pool_start + POOL_CHUNK), SEND_BATCH):
                chunk = raw[start : min(start + SEND_BATCH, pool_start + POOL_CHUNK)]
                sent = w3.provider.make_batch_request(  # type: ignore[attr-defined]
                    [("eth_sendRawTransaction", [tx]) for tx in chunk]
                )
                refused = [a.get("error") for a in sent if a.get("error")]
                if refused:
                    raise RuntimeError(f"bench: {chain.name} refused transactions: {refused[0]}")
                hashes += [a["result"] for a in sent]
            deadline = time.monotonic() + MINE_TIMEOUT
            while w3.provider.make_request(last, [hashes[-1]]).get("result") is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bench: {chain.name}: {hashes[-1]} not mined")
                # full blocks raise the base fee 12.5 % each: past the fee the
                # transactions were signed with, anvil would leave them in its pool
                w3.provider.make_request(
                    "anvil_setNextBlockBaseFeePerGas",  # type: ignore[arg-type]
                    [hex(0)],
                )
                w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    receipts: list[dict[str, Any]] = []
    for start in range(0, len(hashes), SEND_BATCH):
        chunk = hashes[start : start + SEND_BATCH]
        answers = raw_batch(w3, [("eth_getTransactionReceipt", [h]) for h in chunk])
        if answers is None:
            raise RuntimeError(f"bench: {chain.name} refused a batch of receipt reads")
        for tx_hash, receipt in zip(chunk, answers, strict=True):
            if not receipt or receipt.get("status") != "0x1":
                reason = project_decoder().reason_of_transaction(w3, HexBytes(tx_hash))
                raise RuntimeError(f"bench: {chain.name} transaction {tx_hash} failed: {reason}")
        receipts += answers
    return receipts


class PremadeBench(Bench):
    """pvd.bench.processes.Bench whose backlog takes trades made beforehand in batches
    (`premake`): the same transactions as its own agree and hold (propose, accept,
    placeHoldAndAnnounce), signed here, sent as JSON-RPC batches and mined many to a
    block, so that a backlog of 10,000 is made in minutes, not hours."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self._premade: deque[tuple[bytes, client.Terms, dict[str, Any]]] = deque()

    def premake(self, count: int) -> None:
        system, cast = self.cluster.system, self.cluster.cast
        biz, pay = system.business, system.payment
        terms = self._terms()
        first = int(biz.registry.functions.nonceOf(cast.buyer.address).call())
        ids = [
            bytes(biz.registry.functions.tradeIdFor(cast.buyer.address, first + i).call())
            for i in range(count)
        ]
        fee = 2 * int(biz.chain.w3.eth.gas_price) + 1
        steps: list[tuple[Chain, LocalAccount, Callable[[bytes], Any]]] = [
            (biz.chain, cast.buyer, lambda _id: biz.registry.functions.propose(terms.as_tuple())),
            (biz.chain, cast.seller, lambda trade_id: biz.registry.functions.accept(trade_id)),
        ]
        for chain, account, call_for in steps:
            gas = 2 * int(call_for(ids[0]).estimate_gas({"from": account.address})) + 50_000
            nonce = chain.w3.eth.get_transaction_count(account.address)
            chain_id = chain.w3.eth.chain_id
            raw = [
                _signed(chain_id, account, call_for(t), nonce + i, gas, fee)
                for i, t in enumerate(ids)
            ]
            _send_all(chain, raw)
        valid_before = pay.chain.now() + HOUR
        holds = [client.hold_for(trade_id, terms, pay.settlement) for trade_id in ids]
        domain = client.token_domain(pay.token.functions.eip712Domain().call())
        calls = [
            pay.settlement.functions.placeHoldAndAnnounce(
                hold.as_tuple(),
                valid_before,
                cast.buyer.sign_typed_data(
                    full_message=client.place_hold_typed_data(domain, hold, valid_before)
                ).signature,
            )
            for hold in holds
        ]
        gas = 2 * int(calls[0].estimate_gas({"from": cast.dapp.address})) + 50_000
        fee = 2 * int(pay.chain.w3.eth.gas_price) + 1
        nonce = pay.chain.w3.eth.get_transaction_count(cast.dapp.address)
        chain_id = pay.chain.w3.eth.chain_id
        raw = [_signed(chain_id, cast.dapp, c, nonce + i, gas, fee) for i, c in enumerate(calls)]
        receipts = _send_all(pay.chain, raw)
        self._premade.extend(zip(ids, [terms] * count, receipts, strict=True))

    def agree(self) -> tuple[bytes, client.Terms]:
        if not self._premade:
            return super().agree()
        trade_id, terms, _receipt = self._premade[0]
        return trade_id, terms

    def hold(self, trade_id: bytes, terms: client.Terms) -> tuple[DemoTrade, Any]:
        if not self._premade or self._premade[0][0] != trade_id:
            return super().hold(trade_id, terms)
        _id, _terms, receipt = self._premade.popleft()
        return DemoTrade(
            "bench",
            trade_id,
            client.hold_for(trade_id, terms, self.cluster.system.payment.settlement),
        ), receipt


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


def measure_chain_growth(folder: Path, catch_up_blocks: list[int]) -> dict[str, Any]:
    """Catch-up at each size, and a sweep point before and after each, on one pair of
    anvils whose chains grow by each catch-up's blocks in turn."""
    with two_chains("anvil") as (payment, business):
        cast = Cast.from_accounts(payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
        system = deploy_system(payment, business, config)
        issue_funds(system, cast)
        catch_up: dict[str, Any] = {}
        sweeps = [sweep_point(system, cast, folder / "sweep-0.sqlite")]
        for n, blocks in enumerate(catch_up_blocks, start=1):
            started = time.monotonic()
            figures = measure_catch_up(system, cast, folder / f"catch-up-{n}.sqlite", blocks)
            catch_up[str(blocks)] = figures | {
                "blocks_per_second": round(blocks / max(figures["seconds"], 1e-6)),
                # making the blocks (anvil_mine on both chains) and the relayers around
                # the scan: what bounds the sizes this step can afford (module docstring)
                "mine_and_setup_seconds": round(time.monotonic() - started - figures["seconds"], 1),
            }
            sweeps.append(sweep_point(system, cast, folder / f"sweep-{n}.sqlite"))
    return {"catch_up": catch_up, "sweep": sweeps}


QUICK = {"backlogs": "100", "catch_up_blocks": "1000"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvd.bench.growth", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a backlog of 100, catch-up of 1,000 blocks; report-quick.json",
    )
    parser.add_argument("--backlogs", default="100,200,1000,10000", help="comma-separated")
    parser.add_argument("--catch-up-blocks", default="1000,10000", help="comma-separated")
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
