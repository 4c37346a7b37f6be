"""The relayer's Prometheus endpoint, scraped over HTTP as a monitoring system would,
shows a settlement: messages confirmed (each attester) and relayed (by whoever sent each:
the fleet's sum is the number of deliveries), the latency histogram, the backlog back to
zero."""

from __future__ import annotations

from tests.integration.harness import Attester, Deployment, Relays, eventually, scrape
from tests.integration.reconcile_check import assert_reconciles
from tests.integration.trades import open_trade, settlement, ship_and_confirm, status

TO_BUSINESS = 'route="payment->business"'
TO_PAYMENT = 'route="business->payment"'


def test_metrics_scraped_before_and_after_a_settlement_show_it(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    watched, other, _ = attesters
    relays.start_many(watched, other)
    before = scrape(watched.metrics_url)
    for route in (TO_BUSINESS, TO_PAYMENT):
        assert before[f"pvd_relay_messages_relayed_total{{{route}}}"] == 0
        assert before[f"pvd_relay_messages_confirmed_total{{{route}}}"] == 0
        assert before[f"pvd_relay_latency_seconds_count{{{route}}}"] == 0
        assert before[f"pvd_relay_backlog_messages{{{route}}}"] == 0

    trade = open_trade(dep)
    eventually(lambda: status(dep, trade) == "Funded", "the trade to be Funded")
    ship_and_confirm(dep, trade)
    eventually(lambda: settlement(dep, trade) == "Paid", "settlement Paid")

    # PAYMENT_HELD and PAYMENT_SETTLED went to the business chain, the outcome to the
    # payment chain; each attester counts every message it saw confirmed, whoever sent it,
    # and as relayed only those its own gas key delivered.
    expected = {TO_BUSINESS: 2, TO_PAYMENT: 1}

    def settled_in_metrics() -> dict[str, float] | None:
        # The backlog gauges are refreshed at the end of each tick, the counters as each
        # message is confirmed: wait for both (one scrape may fall between the two).
        after = scrape(watched.metrics_url)
        confirmed = {r: after[f"pvd_relay_messages_confirmed_total{{{r}}}"] for r in expected}
        backlog = [after[f"pvd_relay_backlog_messages{{{r}}}"] for r in expected]
        return after if confirmed == expected and backlog == [0, 0] else None

    after = eventually(
        settled_in_metrics, "the watched attester to count 3 confirmed messages, backlog 0"
    )

    def fleet_relayed() -> dict[str, float] | None:
        scrapes = [scrape(a.metrics_url) for a in (watched, other)]
        relayed = {
            r: sum(s[f"pvd_relay_messages_relayed_total{{{r}}}"] for s in scrapes) for r in expected
        }
        return relayed if relayed == expected else None

    eventually(fleet_relayed, "the two attesters' relayed counts to sum to 3 deliveries")
    for route, count in expected.items():
        assert after[f"pvd_relay_latency_seconds_count{{{route}}}"] == count
        assert after[f"pvd_relay_latency_seconds_sum{{{route}}}"] > 0
        assert after[f'pvd_relay_latency_seconds_bucket{{le="+Inf",{route}}}'] == count
    assert after[f"pvd_relay_backlog_messages{{{TO_BUSINESS}}}"] == 0
    assert after[f"pvd_relay_backlog_messages{{{TO_PAYMENT}}}"] == 0
    assert after['pvd_relay_lag_blocks{chain="payment"}'] >= 0
    assert_reconciles(dep)
