"""A node in trouble: the business chain's RPC answers HTTP 500 for a while. The
relayers keep running, retry, and settle the trade once the node answers again
(fault scenario: "an RPC that ... answers 500")."""

from __future__ import annotations

from tests.integration.harness import (
    Attester,
    Deployment,
    Relays,
    RpcProxy,
    eventually,
    write_config,
)
from tests.integration.reconcile_check import assert_reconciles
from tests.integration.trades import open_trade, payouts, settlement, ship_and_confirm, status


def test_relayers_ride_out_an_rpc_answering_500_and_settle_afterwards(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    live = attesters[:2]
    proxies = {a.name: RpcProxy(dep.business_node.url) for a in live}
    try:
        for a in live:
            write_config(dep, a, attesters, business_rpc=proxies[a.name].url)
        relays.start_many(*live)
        trade = open_trade(dep)
        eventually(lambda: status(dep, trade) == "Funded", "the trade to be Funded")

        for proxy in proxies.values():
            proxy.fail()
        ship_and_confirm(dep, trade)  # the test reaches the chain directly
        for proxy in proxies.values():
            eventually(lambda p=proxy: p.failed >= 10, "the relayers to hit the failing RPC")
        for a in live:
            relay = relays.current(a)
            assert relay is not None and relay.alive(), relays.tail(a)
        assert settlement(dep, trade) == "None"

        for proxy in proxies.values():
            proxy.fail(False)
        eventually(lambda: settlement(dep, trade) == "Paid", "Paid once the RPC answers again")
        assert payouts(dep, trade) == 1
        assert_reconciles(dep)
    finally:
        relays.close()
        for proxy in proxies.values():
            proxy.close()
