"""A delivery sent without its pre-flight that reverts on chain (three `pvd relay`
processes on two anvils): each relayer's node lies once, in the receipt of the relayer's
first delivery, so the gas per message it learns is a third of the truth. Its next
batch on its own turn goes at that limit without an `eth_call` first and reverts on
chain, paid for. The relayer counts a failed attempt (`delivery_reverted`), pre-flights
again, falls back to an estimate there, and every message is delivered exactly once."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from pvd.bench.cluster import JsonRpcForwarder
from tests.integration.harness import (
    Attester,
    Deployment,
    Relays,
    eventually,
    scrape,
    write_config,
)
from tests.integration.trades import delivered_count, open_trade, status


class FirstReceiptUnderstatesGas(JsonRpcForwarder):
    """Forwards JSON-RPC to the node; the first successful receipt of a transaction to
    the inbox it passes on says the transaction used a third of its real gas."""

    keep_alive = True

    def __init__(self, upstream: str, inbox: str) -> None:
        self.inbox = inbox.lower()
        self.lied: list[str] = []  # the transaction hashes whose receipt it changed
        self._lock = threading.Lock()
        super().__init__(upstream)

    def answer(self, body: bytes) -> bytes | None:
        payload = json.loads(body)
        if isinstance(payload, list) or payload.get("method") != "eth_getTransactionReceipt":
            return None
        with self._lock:
            if self.lied:
                return None
            request = urllib.request.Request(
                self.upstream, body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                reply: dict[str, Any] = json.loads(answer.read())
            receipt = reply.get("result")
            if (
                isinstance(receipt, dict)
                and str(receipt.get("to") or "").lower() == self.inbox
                and int(receipt["status"], 16) == 1
            ):
                real = int(receipt["gasUsed"], 16)
                receipt["gasUsed"] = hex(21_000 + (real - 21_000) // 3)
                self.lied.append(receipt["transactionHash"])
            return json.dumps(reply).encode()


def reverted_to(dep: Deployment, address: str, first_block: int) -> list[Any]:
    w3 = dep.business.w3
    return [
        receipt
        for number in range(first_block, w3.eth.block_number + 1)
        for tx in w3.eth.get_block(number)["transactions"]
        if (receipt := w3.eth.get_transaction_receipt(tx))["status"] == 0
        and receipt["to"] == address
    ]


def test_a_delivery_without_its_pre_flight_that_reverts_is_counted_and_delivered_again(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    inbox = dep.system.business.inbox
    proxies = {
        a.name: FirstReceiptUnderstatesGas(dep.business_node.url, inbox.address) for a in attesters
    }
    try:
        for a in attesters:
            write_config(dep, a, attesters, business_rpc=proxies[a.name].url)
        relays.start_many(*attesters)
        first_block = dep.business.w3.eth.block_number + 1
        # each relayer delivers once (alone: it has no gas figure yet) and learns a third
        for _ in range(30):
            trade = open_trade(dep, price=1_000)
            eventually(lambda t=trade: status(dep, t) == "Funded", "the trade to be Funded")
            if all(p.lied for p in proxies.values()):
                break
        assert all(p.lied for p in proxies.values()), "a relayer never delivered alone"
        assert reverted_to(dep, inbox.address, first_block) == []

        with relays.frozen(*attesters):  # a backlog: each relayer batches its turn
            trades = [open_trade(dep, price=1_000) for _ in range(12)]
        eventually(
            lambda: all(status(dep, t) == "Funded" for t in trades),
            "the backlog to be Funded",
            timeout=90,
        )

        reverted = reverted_to(dep, inbox.address, first_block)
        assert reverted, "no delivery went without its pre-flight at the understated limit"
        assert all(r["gasUsed"] > 21_000 for r in reverted)  # paid for
        counted = sum(
            value
            for a in attesters
            for name, value in scrape(a.metrics_url).items()
            if name.startswith("pvd_relay_failures_total") and 'reason="delivery_reverted"' in name
        )
        assert counted >= 2 * len(reverted)  # every message of each, a batch of 2 or more
        for t in trades:
            assert delivered_count(inbox, t.held_message) == 1
        for a in attesters:
            relay = relays.current(a)
            assert relay is not None and relay.alive(), relays.tail(a)
    finally:
        relays.close()
        for proxy in proxies.values():
            proxy.close()
