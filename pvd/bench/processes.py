"""`make bench`'s relayer figures from real processes: three `pvd relay` (2-of-3) on two
anvils, configured from config/relay.example.toml as shipped (pvd.bench.cluster), at
confirmations 0. Each figure is timed by what a WebSocket subscription of the bench's
own sees on the chains, as an operator would:

- latency (`shipped_config`, and `polling_forced` with `ws_urls = []`): per trade, from
  the moment the bench sees the block of the hold transaction to the moment it sees the
  business inbox's MessageDelivered for PAYMENT_HELD (`hold_to_funded`), and from the
  block of confirmDelivery to the payment inbox's MessageDelivered for the Delivered
  outcome, which carries the payout (`delivered_to_payout`); p50, p99, mean in ms;
- idle: CPU per relayer process (/proc) over a window with one empty block per second
  on each chain, and the JSON-RPC calls the relayers make per new block (counted by a
  forwarding proxy in front of each node's HTTP endpoint; the subscription goes to the
  node directly);
- round trips: JSON-RPC requests (a batch counts once) and calls per relayer per trade,
  counted by the same proxies while trades run (not timed);
- backlog: PAYMENT_HELD messages made while every relayer is stopped, then the relayers
  started: seconds from all three serving to the last message consumed, messages per
  second, the first delivery's delay, repeat deliveries (MessageAlreadyConsumed) and
  the gas they wasted, and delivery transactions;
- depth (`depth`): latency as above at confirmations = 2, per direction with the source
  chain making a block every second (anvil's interval mining) and the destination a
  block per transaction (automine), timed from the message's block and from the block
  that makes it 2 deep: the source's depth plus the relayer's own time, which is what
  the depth target counts (floor 2 s);
- depth with both chains on a clock (`depth_both_interval`): the same with a block every
  second on both chains in every step, as in a deployment of two clocked chains: the
  delivery then also waits for the destination's next block (up to one block time; a
  whole one here, since both anvils mine in step).

Every moment "the bench sees" something is when its bytes reached the bench's socket,
stamped by the kernel (SO_TIMESTAMPNS), not when a thread of the bench got to read them:
on a machine with fewer cores than busy processes the bench can wait tens of ms for a
core, and its two chains' readers then read in either order. This takes the bench's own
scheduling out of the figures; it did not remove every negative `delivered_to_payout`
sample: with these stamps some payouts' logs still reached the bench before the business
node's new head of the block that caused them (docs/relayer.md, "Throughput").

Nothing is asserted: these are the figures this machine measured in this run.
"""

from __future__ import annotations

import json
import socket
import statistics
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hexbytes import HexBytes
from web3 import Web3
from web3.types import RPCEndpoint
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import Event
from websockets.sync.client import ClientConnection, connect

from pvd.bench.cluster import Cluster, CountingProxy, Endpoints, cpu_seconds
from pvd.bench.report import percentile
from pvd.chain.logs import rpc_int
from pvd.cli.demo import DemoTrade
from pvd.client import trade as client
from pvd.relayer.route import INBOX_ALREADY_CONSUMED, INBOX_DELIVERED, MESSAGE_SENT

HOUR = 3600
PRICE = 100  # one yuan: every trade of a full run stays under the buyer's funds


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python 3.11 lacks the name


class StampedSocket(socket.socket):
    """A TCP socket that remembers when the kernel received the bytes of its last recv
    (SO_TIMESTAMPNS), on the monotonic clock; `stamp` is None where none was given."""

    stamp: float | None = None

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data, ancillary, _, _ = self.recvmsg(bufsize, 1024, flags)
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                # the kernel's stamp is on the wall clock: moved to the monotonic one
                self.stamp = seconds + nanoseconds / 1e9 - (time.time() - time.monotonic())
        return data


def stamped_socket(url: str) -> StampedSocket:
    """A connected StampedSocket to a ws:// URL's host and port."""
    where = urlsplit(url)
    sock = StampedSocket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.connect((where.hostname or "127.0.0.1", where.port or 80))
    return sock


class StampedConnection(ClientConnection):
    """A WebSocket client connection that records, for each data message it receives, when
    the kernel received the bytes that completed it (`stamps`, in message order; the
    monotonic clock at processing where the socket has no stamp)."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        self.stamps: deque[float] = deque()  # before the reading thread starts
        super().__init__(sock, *args, **kwargs)

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES and event.fin:
            stamp = getattr(self.socket, "stamp", None)
            self.stamps.append(time.monotonic() if stamp is None else stamp)
        super().process_event(event)


class ChainWatch:
    """One chain seen over WebSocket: when each new head arrived, and what its inbox did
    with each message (first MessageDelivered's arrival; repeats; transactions)."""

    def __init__(self, ws_url: str, inbox: str) -> None:
        self.heads: dict[int, float] = {}
        self.delivered: dict[str, float] = {}
        self.repeats = 0
        self.transactions: dict[str, Counter[str]] = {}
        self._condition = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ws_url, inbox), name="bench-watch", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"bench: no WebSocket subscription at {ws_url}")

    def _run(self, url: str, inbox: str) -> None:
        with connect(
            url, sock=stamped_socket(url), create_connection=StampedConnection, max_size=None
        ) as ws:
            assert isinstance(ws, StampedConnection)
            subscriptions: list[list[object]] = [["newHeads"], ["logs", {"address": inbox}]]
            for number, what in enumerate(subscriptions, start=1):
                request = {"jsonrpc": "2.0", "id": number, "method": "eth_subscribe"}
                ws.send(json.dumps({**request, "params": what}))
            kinds: dict[str, str] = {}
            while not self._stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=0.2))
                except TimeoutError:
                    continue
                now = ws.stamps.popleft()  # when its bytes arrived, not when read here
                if message.get("id") in (1, 2):
                    kinds[message["result"]] = "heads" if message["id"] == 1 else "logs"
                    if len(kinds) == 2:
                        self._ready.set()
                    continue
                params = message.get("params") or {}
                result = params.get("result") or {}
                with self._condition:
                    if kinds.get(str(params.get("subscription"))) == "heads":
                        self.heads.setdefault(int(result["number"], 16), now)
                    else:
                        self._log(result, now)
                    self._condition.notify_all()

    def _log(self, log: dict[str, Any], now: float) -> None:
        topics = [HexBytes(t) for t in log.get("topics", [])]
        if len(topics) < 2:
            return
        mid = topics[1].to_0x_hex()
        kind = {INBOX_DELIVERED: "delivered", INBOX_ALREADY_CONSUMED: "repeat"}.get(
            topics[0], "other"
        )
        self.transactions.setdefault(log["transactionHash"], Counter())[kind] += 1
        if kind == "delivered":
            self.delivered.setdefault(mid, now)
        elif kind == "repeat":
            self.repeats += 1

    def head_seen(self, block: int, timeout: float = 10) -> float:
        """When the bench saw block `block` arrive."""
        return self._wait(lambda: self.heads.get(block), timeout, f"block {block}")

    def delivered_at(self, message_id: str, timeout: float = 60) -> float:
        return self._wait(lambda: self.delivered.get(message_id), timeout, message_id)

    def _wait(self, value: Any, timeout: float, what: str) -> float:
        deadline = time.monotonic() + timeout
        with self._condition:
            while (found := value()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"bench: {what} not seen within {timeout}s")
                self._condition.wait(left)
            return float(found)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def sent_message(receipt: Any) -> str:
    """The id of the one message a transaction sent (its outbox MessageSent log)."""
    for log in receipt["logs"]:
        if log["topics"] and HexBytes(log["topics"][0]) == HexBytes(MESSAGE_SENT):
            return HexBytes(log["topics"][1]).to_0x_hex()
    raise RuntimeError("bench: the transaction sent no message")


def summary_ms(samples: list[float]) -> dict[str, Any]:
    return {
        "trades": len(samples),
        "p50": round(1000 * percentile(samples, 0.50), 1),
        "p99": round(1000 * percentile(samples, 0.99), 1),
        "mean": round(1000 * statistics.fmean(samples), 1),
        "max": round(1000 * max(samples), 1),
        "samples": [round(1000 * s, 1) for s in samples],  # each trade, for the report's plot
    }


def drain_curve(delivered: list[float], ready: float, points: int = 200) -> list[list[float]]:
    """[seconds since `ready`, messages delivered by then], at most `points` steps (the
    report's drain plot)."""
    ordered = sorted(delivered)
    step = max(1, len(ordered) // points)
    curve = [[round(t - ready, 3), n + 1] for n, t in enumerate(ordered) if (n + 1) % step == 0]
    if ordered and (not curve or curve[-1][1] != len(ordered)):
        curve.append([round(ordered[-1] - ready, 3), len(ordered)])
    return curve


@dataclass(frozen=True)
class Mining:
    """How each chain makes blocks during a step: every so many seconds (anvil's
    interval mining), or None: one block per transaction, at once (automine)."""

    payment: int | None
    business: int | None

    def described(self) -> dict[str, str]:
        return {
            name: "automine" if every is None else f"a block every {every} s"
            for name, every in (("payment", self.payment), ("business", self.business))
        }


def depth_mining(block_seconds: int, both: bool) -> dict[str, Mining]:
    """The mining of each step of a depth run: its source chain (payment for the hold,
    business for the delivery) on a clock; its destination on the same clock if `both`,
    else automine."""
    other = block_seconds if both else None
    return {
        "hold_to_funded": Mining(payment=block_seconds, business=other),
        "delivered_to_payout": Mining(payment=other, business=block_seconds),
    }


def set_mining(w3: Web3, every: int | None) -> None:
    """Make an anvil node mine a block every `every` seconds and none per transaction,
    or (None) a block per transaction and none on a clock."""
    make = w3.provider.make_request
    if every is None:
        make(RPCEndpoint("evm_setIntervalMining"), [0])
        make(RPCEndpoint("evm_setAutomine"), [True])
    else:
        make(RPCEndpoint("evm_setAutomine"), [False])
        make(RPCEndpoint("evm_setIntervalMining"), [every])


class Bench:
    """The cluster, and a watch on each chain."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        system = cluster.system
        self.payment = ChainWatch(
            f"ws://127.0.0.1:{cluster.node_port('payment')}", system.payment.inbox.address
        )
        self.business = ChainWatch(
            f"ws://127.0.0.1:{cluster.node_port('business')}", system.business.inbox.address
        )

    def close(self) -> None:
        self.payment.close()
        self.business.close()

    # --- the parties' steps ------------------------------------------------------------

    def _terms(self) -> client.Terms:
        system, cast = self.cluster.system, self.cluster.cast
        deadline = system.business.chain.now() + 24 * HOUR
        return client.Terms(
            seller=cast.seller.address,
            payer=cast.buyer.address,
            payee=cast.seller.address,
            token=system.payment.token.address,
            price=PRICE,
            deadline=deadline,
            hold_expiry=deadline + system.config.safety_window + HOUR,
        )

    def agree(self) -> tuple[bytes, client.Terms]:
        biz, cast = self.cluster.system.business, self.cluster.cast
        terms = self._terms()
        trade_id = client.propose(biz.chain, biz.registry, cast.buyer.address, terms)
        client.transact(biz.chain, biz.registry.functions.accept(trade_id), cast.seller.address)
        return trade_id, terms

    def hold(self, trade_id: bytes, terms: client.Terms) -> tuple[DemoTrade, Any]:
        pay, cast = self.cluster.system.payment, self.cluster.cast
        hold = client.hold_for(trade_id, terms, pay.settlement)
        valid_before = pay.chain.now() + HOUR
        signature = client.sign_hold(pay.token, cast.buyer, hold, valid_before)
        receipt = client.place_hold_and_announce(
            pay.chain, pay.settlement, hold, valid_before, signature, cast.dapp.address
        )
        return DemoTrade("bench", trade_id, hold), receipt

    def deliver(self, trade: DemoTrade) -> Any:
        biz, cast = self.cluster.system.business, self.cluster.cast
        registry = biz.registry
        client.transact(
            biz.chain, registry.functions.ship(trade.trade_id, b"\x01" * 32), cast.seller.address
        )
        return client.transact(
            biz.chain, registry.functions.confirmDelivery(trade.trade_id), cast.buyer.address
        )

    # --- figures -----------------------------------------------------------------------

    def latency(self, trades: int, endpoints: Endpoints) -> dict[str, Any]:
        """`trades` trades one after another at depth 0, each step timed from the bench
        seeing its block to the bench seeing the other chain's inbox consume the message."""
        samples = self._timed_trades(trades, endpoints, 0, lambda step: None)
        return {
            "latency_ms": {step: summary_ms(values) for step, values in samples.items()},
            "subscribed": endpoints.payment_ws is not None,
        }

    def depth(
        self, trades: int, confirmations: int = 2, block_seconds: int = 1, both: bool = False
    ) -> dict[str, Any]:
        """`trades` trades at a confirmation depth, each step timed as in `latency`, from
        the message's block and from the block that makes it `confirmations` deep.

        The source chain of each step makes a block every `block_seconds`; the
        destination makes one per transaction (`both` False: what remains past the depth
        is the relayer's own time) or also every `block_seconds` (`both` True: the
        delivery waits for the destination's next block as well). The mining is set
        before each step (`depth_mining`) and put back to automine afterwards."""
        steps = depth_mining(block_seconds, both)
        try:
            samples = self._timed_trades(
                trades,
                self.cluster.direct(),
                confirmations,
                lambda step: self._mine(steps[step]),
                deep_timeout=10 + 2 * confirmations * block_seconds,
            )
        finally:
            self._mine(Mining(None, None))
        return {
            "confirmations": confirmations,
            "block_seconds": block_seconds,
            "floor_ms": confirmations * block_seconds * 1000,
            "mining": {step: mining.described() for step, mining in steps.items()},
            "latency_ms": {step: summary_ms(values) for step, values in samples.items()},
            "subscribed": True,
        }

    def _timed_trades(
        self,
        trades: int,
        endpoints: Endpoints,
        confirmations: int,
        before_step: Callable[[str], None],
        deep_timeout: float = 10.0,
    ) -> dict[str, list[float]]:
        """The relayers started at `confirmations`, then `trades` trades one after another:
        per step ("hold_to_funded", "delivered_to_payout", `before_step` called first), ms
        from the bench seeing the message's block to seeing its delivery, and at a depth
        also from the block that makes it that deep (`<step>_from_confirming_block`)."""
        self.cluster.configure(endpoints, confirmations)
        self.cluster.start()
        samples: dict[str, list[float]] = {"hold_to_funded": [], "delivered_to_payout": []}

        def timed(step: str, source: ChainWatch, destination: ChainWatch, receipt: Any) -> None:
            block = receipt["blockNumber"]
            delivered = destination.delivered_at(sent_message(receipt))
            samples[step].append(delivered - source.head_seen(block))
            if confirmations:
                deep = source.head_seen(block + confirmations, timeout=deep_timeout)
                samples.setdefault(f"{step}_from_confirming_block", []).append(delivered - deep)

        try:
            time.sleep(1.0)  # the relayers' start-up sweep and first scans are done
            for _ in range(trades):
                before_step("hold_to_funded")
                trade_id, terms = self.agree()
                trade, receipt = self.hold(trade_id, terms)
                timed("hold_to_funded", self.payment, self.business, receipt)
                before_step("delivered_to_payout")
                receipt = self.deliver(trade)
                timed("delivered_to_payout", self.business, self.payment, receipt)
        finally:
            self.cluster.stop()
        return samples

    def _mine(self, mining: Mining) -> None:
        for name in ("payment", "business"):
            set_mining(self.cluster.chain(name).w3, getattr(mining, name))

    @contextmanager
    def _counted(self) -> Iterator[dict[str, CountingProxy]]:
        """The relayers running with each chain's HTTP endpoint behind a counting proxy
        (WebSocket direct), the counts reset once start-up sweeps and first scans are over;
        stopped, and the proxies closed, on the way out."""
        cluster = self.cluster
        proxies = {
            name: CountingProxy(cluster.nodes[i].url)
            for i, name in enumerate(("payment", "business"))
        }
        try:
            direct = cluster.direct()
            cluster.configure(
                Endpoints(
                    proxies["payment"].url,
                    proxies["business"].url,
                    direct.payment_ws,
                    direct.business_ws,
                )
            )
            cluster.start()
            try:
                time.sleep(3.0)  # start-up sweeps and first scans are over
                for proxy in proxies.values():
                    proxy.reset()
                yield proxies
            finally:
                cluster.stop()
        finally:
            for proxy in proxies.values():
                proxy.close()

    def idle(self, seconds: float, block_seconds: float = 1.0) -> dict[str, Any]:
        """CPU per relayer and RPC calls per new block while nothing is relayed."""
        cluster = self.cluster
        with self._counted() as proxies:
            running = cluster.running()
            before = {p.popen.pid: cpu_seconds(p.popen.pid) for p in running}
            started = time.monotonic()
            blocks = 0
            while time.monotonic() - started < seconds:
                for name in ("payment", "business"):
                    w3: Web3 = cluster.chain(name).w3
                    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
                blocks += 1
                time.sleep(block_seconds)
            elapsed = time.monotonic() - started
            time.sleep(0.5)  # the last block's reads are in
            cpu = [100 * (cpu_seconds(pid) - used) / elapsed for pid, used in before.items()]
            calls = {name: proxy.calls for name, proxy in proxies.items()}
        relayers = len(before)
        return {
            "seconds": round(elapsed, 1),
            "blocks_per_chain": blocks,
            "block_seconds": block_seconds,
            "cpu_percent_per_relayer": round(max(cpu), 2),
            "cpu_percent_each": [round(c, 2) for c in cpu],
            "rpc_requests_per_block": round(
                sum(calls.values()) / (relayers * 2 * max(blocks, 1)), 2
            ),
            "rpc_calls_per_chain": calls,
        }

    def round_trips(self, trades: int) -> dict[str, Any]:
        """JSON-RPC requests (round trips; a batch is one) and calls the relayers make per
        trade, counted by a proxy in front of each node's HTTP endpoint (the proxy's own
        delay makes these trades slower: they are not timed). A trade is three messages
        (PAYMENT_HELD, its Delivered outcome, PAYMENT_SETTLED) and the blocks of the
        parties' own transactions, which every relayer scans too."""
        cluster = self.cluster
        with self._counted() as proxies:
            for _ in range(trades):
                trade_id, terms = self.agree()
                trade, receipt = self.hold(trade_id, terms)
                self.business.delivered_at(sent_message(receipt))
                receipt = self.deliver(trade)
                self.payment.delivered_at(sent_message(receipt))
            time.sleep(1.0)  # the last PAYMENT_SETTLED is delivered and confirmed
            requests = {name: proxy.requests for name, proxy in proxies.items()}
            calls = {name: proxy.calls for name, proxy in proxies.items()}
        relayers = len(cluster.members)
        return {
            "trades": trades,
            "requests_per_trade_per_relayer": round(
                sum(requests.values()) / (relayers * max(trades, 1)), 1
            ),
            "calls_per_trade_per_relayer": round(
                sum(calls.values()) / (relayers * max(trades, 1)), 1
            ),
            "requests_per_chain": requests,
            "calls_per_chain": calls,
        }

    def backlog(self, count: int) -> dict[str, Any]:
        """`count` PAYMENT_HELD messages made with every relayer stopped, then drained."""
        cluster = self.cluster
        cluster.configure(cluster.direct())
        ids: list[str] = []
        for _ in range(count):
            trade_id, terms = self.agree()
            _, receipt = self.hold(trade_id, terms)
            ids.append(sent_message(receipt))
        repeats_before = self.business.repeats
        transactions_before = set(self.business.transactions)
        first_block = int(cluster.business.w3.eth.block_number) + 1
        ready = cluster.start()
        pids = {p.member.name: p.popen.pid for p in cluster.running()}
        pids |= {f"anvil-{node.name}": node.pid for node in cluster.nodes}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        try:
            last = max(self.business.delivered_at(mid, timeout=900) for mid in ids)
            cpu_drain = {
                name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()
            }
            time.sleep(3.0)  # late repeats, if any, land now
        finally:
            cluster.stop()
        first = min(self.business.delivered[mid] for mid in ids)
        drained = last - ready
        new_transactions = {
            tx: kinds
            for tx, kinds in self.business.transactions.items()
            if tx not in transactions_before
        }
        w3 = cluster.business.w3
        wasted = 0
        for tx, kinds in new_transactions.items():
            if kinds["repeat"]:
                used = int(w3.eth.get_transaction_receipt(HexBytes(tx))["gasUsed"])
                wasted += used * kinds["repeat"] // (kinds["repeat"] + kinds["delivered"])
        # a delivery that reverted leaves no log for the watch to see: find it by its
        # receipt, and count all the gas it used as wasted
        reverted = reverted_receipts(w3, self.cluster.system.business.inbox.address, first_block)
        wasted += sum(rpc_int(r["gasUsed"]) for r in reverted)
        return {
            "messages": count,
            "direction": "payment->business (PAYMENT_HELD)",
            "seconds": round(drained, 3),
            "messages_per_second": round(count / drained, 1),
            "messages_per_second_after_first_delivery": round(count / max(last - first, 1e-3), 1),
            "first_delivery_seconds": round(first - ready, 3),
            "repeats": self.business.repeats - repeats_before,
            "wasted_gas": wasted,
            "delivery_transactions": len(new_transactions),
            "all_repeat_transactions": sum(
                1 for k in new_transactions.values() if k["repeat"] and not k["delivered"]
            ),
            "reverted_transactions": len(reverted),
            "cpu_seconds": cpu_drain,
            "curve": drain_curve([self.business.delivered[mid] for mid in ids], ready),
        }


def reverted_receipts(w3: Web3, inbox: str, first_block: int) -> list[dict[str, Any]]:
    """The receipts of the transactions to `inbox` that reverted, in blocks from
    `first_block` to the latest (one eth_getBlockReceipts per block)."""
    last = int(w3.eth.block_number)
    found: list[dict[str, Any]] = []
    for number in range(first_block, last + 1):
        answer = w3.provider.make_request(RPCEndpoint("eth_getBlockReceipts"), [hex(number)])
        for receipt in answer.get("result") or []:
            to = receipt.get("to")
            if to and to.lower() == inbox.lower() and rpc_int(receipt["status"]) == 0:
                found.append(receipt)
    return found


def measure(
    folder: Path,
    latency_trades: int,
    polling_trades: int,
    idle_seconds: float,
    backlog: int,
    done: Callable[[dict[str, Any]], None] = lambda results: None,
    depth_trades: int = 10,
    only_backlog: bool = False,
    make_bench: Callable[[Cluster], Bench] = Bench,
) -> dict[str, Any]:
    """Every figure above, in one cluster, one phase after another; `done(results so
    far)` after each phase (the report keeps what was measured if a later phase fails).
    `only_backlog`: the backlog phase alone (a short run while working on the drain).
    `make_bench`: Bench or a subclass (pvd.bench.premade makes the backlog in batches)."""
    from pvd.bench.cluster import cluster as make_cluster

    results: dict[str, Any] = {
        "processes": "three `pvd relay` subprocesses, 2-of-3, config/relay.example.toml as "
        "shipped with URLs, keys, ports and paths filled in and confirmations = 0",
    }
    with make_cluster(folder) as cluster:
        bench = make_bench(cluster)
        try:
            if only_backlog:
                results["backlog"] = bench.backlog(backlog)
                return results
            results["shipped_config"] = bench.latency(latency_trades, cluster.direct())
            done(results)
            results["polling_forced"] = bench.latency(polling_trades, cluster.direct(polling=True))
            done(results)
            results["idle"] = bench.idle(idle_seconds)
            done(results)
            results["round_trips"] = bench.round_trips(max(1, polling_trades))
            done(results)
            results["backlog"] = bench.backlog(backlog)
            done(results)
            if depth_trades:
                results["depth"] = bench.depth(depth_trades)
                done(results)
                results["depth_both_interval"] = bench.depth(depth_trades, both=True)
                done(results)
        finally:
            bench.close()
    return results


def measure_depth(
    folder: Path, trades: int, done: Callable[[dict[str, Any]], None] = lambda results: None
) -> dict[str, Any]:
    """Only the two depth figures (`depth`, `depth_both_interval`), in a cluster of their
    own: `python -m pvd.bench.relay --only-depth`."""
    from pvd.bench.cluster import cluster as make_cluster

    results: dict[str, Any] = {}
    with make_cluster(folder) as cluster:
        bench = Bench(cluster)
        try:
            results["depth"] = bench.depth(trades)
            done(results)
            results["depth_both_interval"] = bench.depth(trades, both=True)
        finally:
            bench.close()
    return results
