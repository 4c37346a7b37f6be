"""The relayer loop with real processes: three `pvd relay` (2-of-3) subscribed to both
anvils' new heads over WebSocket, with a poll interval far longer than the tests, so
whatever is relayed was woken by a head or a pushed signature, never by the timer.

- signatures pushed when made complete the quorum of the relayer whose turn it is (its
  store never holds the peer's signature: a pulled one would be stored);
- the subscriptions cut mid-burst (a TCP proxy between the relayers and the nodes'
  WebSocket endpoint drops every connection and refuses new ones for a while): the
  relayers reconnect, read back every block from their checkpoints, and every message
  is delivered once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.harness import (
    YUAN,
    Attester,
    Deployment,
    Relays,
    TcpCutter,
    eventually,
    store_row,
    write_config,
)
from tests.integration.trades import Trade, delivered_count, open_trade, status

SLOW_POLL = 120.0  # seconds: longer than any test here, so no relayer is woken by its timer


@pytest.fixture
def cutters(deployment: Deployment) -> Iterator[dict[str, TcpCutter]]:
    made = {
        "payment": TcpCutter(deployment.payment_node.port),
        "business": TcpCutter(deployment.business_node.port),
    }
    try:
        yield made
    finally:
        for cutter in made.values():
            cutter.close()


def subscribe(
    dep: Deployment, attesters: tuple[Attester, ...], cutters: dict[str, TcpCutter]
) -> None:
    urls = {name: cutter.ws_url for name, cutter in cutters.items()}
    for me in attesters:
        write_config(dep, me, attesters, ws_urls=urls, poll_interval=SLOW_POLL)


def funded_once(dep: Deployment, trades: list[Trade]) -> bool:
    return all(status(dep, t) == "Funded" for t in trades)


def test_pushed_signatures_complete_the_quorum_of_the_relayer_whose_turn_it_is(
    deployment: Deployment,
    attesters: tuple[Attester, ...],
    relays: Relays,
    cutters: dict[str, TcpCutter],
) -> None:
    dep = deployment
    subscribe(dep, attesters, cutters)
    relays.start_many(*attesters)
    trades = [open_trade(dep, price=YUAN) for _ in range(4)]
    eventually(lambda: funded_once(dep, trades), "every trade Funded", timeout=30)

    inbox = dep.system.business.inbox
    for trade in trades:
        assert delivered_count(inbox, trade.held_message) == 1
        rows = [store_row(a.store, trade.held_message) for a in attesters]
        submitted = [
            (a, row) for a, row in zip(attesters, rows, strict=True) if row and row.tx_hash
        ]
        assert len(submitted) == 1, f"{trade.held_message}: submitted by {len(submitted)}"
        submitter, row = submitted[0]
        # its quorum's second signature came by push (kept in memory), not by a pull
        # (which stores what it fetched): the store holds its own signature only
        assert row.signers == (submitter.key.address,)


def test_subscriptions_cut_mid_burst_reconnect_and_every_message_is_delivered_once(
    deployment: Deployment,
    attesters: tuple[Attester, ...],
    relays: Relays,
    cutters: dict[str, TcpCutter],
) -> None:
    dep = deployment
    subscribe(dep, attesters, cutters)
    relays.start_many(*attesters)
    eventually(
        lambda: all(c.accepted >= len(attesters) for c in cutters.values()),
        "every relayer subscribed to both chains",
    )
    trades: list[Trade] = []
    for index in range(10):
        if index == 3:
            for cutter in cutters.values():
                cutter.cut()  # every subscription drops; reconnections are refused
        if index == 7:
            for cutter in cutters.values():
                cutter.restore()
        trades.append(open_trade(dep, price=YUAN))
    eventually(lambda: funded_once(dep, trades), "every trade Funded", timeout=60)

    inbox = dep.system.business.inbox
    for trade in trades:
        assert delivered_count(inbox, trade.held_message) == 1
    eventually(  # each relayer subscribed again (its backoff may still be running)
        lambda: all(c.accepted >= 2 * len(attesters) for c in cutters.values()),
        "every relayer subscribed again to both chains",
    )
    for attester in attesters:
        log = relays.tail(attester, 200_000)
        assert len(re.findall(r"subscribed to new heads", log)) >= 4, log[-2000:]
        assert "subscription down" in log
