"""One order for a trade's timeline: cause and effect, not the chains' clocks.

The two chains keep their own time. With the payment chain's clock an hour ahead, a
PAYMENT_HELD sent on it carries a later block time than its delivery on the business
chain; with the business chain's clock then two hours ahead, the Delivered outcome is
"sent" after it arrives. `pvd trace` and the explorer read one ordering
(`pvd.index.trace.causal_order`), so both show every sending before its delivery."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import Engine

from pvd.explorer.indexed import IndexData
from pvd.index.query import EventRow
from pvd.index.trace import causal_order, trace
from tests.pvd.index.test_index import index
from tests.pvd.reconcile.test_reconciler import Pvd, hex_id

HOUR = 3600


def skewed_paid_trade(pvd: Pvd) -> str:
    """A paid trade whose two cross-chain hops each arrive 'before' they left by time."""
    payment, business = pvd.payment.chain, pvd.business.chain
    payment.advance_time_to(business.now() + HOUR)  # payment an hour ahead
    trade = pvd.funded_trade()  # PAYMENT_HELD: sent at +1 h, delivered at ~+0
    business.advance_time_to(payment.now() + HOUR)  # business now an hour ahead of payment
    pvd.confirm_delivery(trade)  # TRADE_OUTCOME: sent at ~+2 h, delivered at ~+1 h
    pvd.relay_to_payment()
    pvd.relay_to_business()
    return hex_id(trade.trade_id)


def sends_before_deliveries(order: list[tuple[str, str, str | None]]) -> list[str]:
    """The message ids in `order` (contract, name, message id) whose delivery comes
    after their sending; asserts none comes before."""
    seen: list[str] = []
    for contract, name, message in order:
        if contract == "Outbox" and name == "MessageSent":
            assert message is not None
            seen.append(message)
        elif contract == "Inbox" and name in ("MessageDelivered", "MessageFailed"):
            assert message in seen, f"{name} of {message} before its MessageSent"
    return seen


def test_skewed_clocks_would_put_a_delivery_first_by_time(pvd: Pvd, engine: Engine) -> None:
    trade_id = skewed_paid_trade(pvd)
    index(engine, pvd)
    found = trace(engine, trade_id).events

    by_time = sorted(found, key=lambda e: (e.block_time, e.chain != "payment"))
    delivered = {e.message_id: e.block_time for e in found if e.name == "MessageDelivered"}
    sent = {e.message_id: e.block_time for e in found if e.name == "MessageSent"}
    early = [m for m in sent if m in delivered and delivered[m] < sent[m]]
    assert len(early) == 2  # the skew is real: two hops land "before" they left
    first = [e.name for e in by_time if e.message_id == early[0]]
    assert first.index("MessageDelivered") < first.index("MessageSent")


def test_pvd_trace_and_the_explorer_show_every_sending_before_its_delivery(
    pvd: Pvd, engine: Engine
) -> None:
    trade_id = skewed_paid_trade(pvd)
    index(engine, pvd)

    traced = trace(engine, trade_id)
    order = [(e.contract, e.name, e.message_id) for e in traced.events]
    assert len(sends_before_deliveries(order)) == 3
    assert [leg.kind for leg in traced.legs] == ["payment_held", "trade_outcome", "payment_settled"]
    for chain in ("payment", "business"):  # each chain keeps its own block order
        own = [(e.block, e.log_index) for e in traced.events if e.chain == chain]
        assert own == sorted(own)

    timeline = IndexData(engine).timeline(trade_id)
    assert timeline is not None
    assert [(s.block, s.tx_hash, s.chain.value) for s in timeline.steps] == [
        (e.block, e.tx_hash, e.chain) for e in traced.events
    ]  # the explorer draws the trace's one order
    sent = [s.message_id for s in timeline.steps if s.message_id]
    assert (
        sent
        == [c.message_id for c in timeline.crossings]
        == [leg.message_id for leg in traced.legs]
    )


def test_the_trace_command_prints_the_sending_before_the_delivery(
    pvd: Pvd, engine: Engine, db_url: str
) -> None:
    trade_id = skewed_paid_trade(pvd)
    index(engine, pvd)

    done = subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", "trace", trade_id, "--db", db_url],
        capture_output=True,
        text=True,
        check=True,
    )
    table = done.stdout.split("\n\n")[1].splitlines()[1:]  # the events, under the header
    traced = trace(engine, trade_id)
    assert [line.split()[4] for line in table] == [e.tx_hash[:12] for e in traced.events]
    assert (
        len(sends_before_deliveries([(e.contract, e.name, e.message_id) for e in traced.events]))
        == 3
    )


def event(
    chain: str, block: int, at: int, tx: str, name: str, message: str | None = None
) -> EventRow:
    contract = {"MessageSent": "Outbox", "MessageDelivered": "Inbox"}.get(name, "TradeRegistry")
    return EventRow(chain, block, 0, at, tx, contract, name, None, None, message, {})


def test_a_delivery_waits_for_its_sending_and_the_rest_keeps_time_order() -> None:
    found = [
        event("business", 6, 200, "0x4", "TradeShipped"),
        event("payment", 9, 150, "0x2", "MessageSent", "0xm"),
        event("business", 4, 100, "0x1", "TradeAccepted"),
        event("business", 5, 120, "0x3", "MessageDelivered", "0xm"),  # business clock behind
    ]
    assert [e.tx_hash for e in causal_order(found)] == ["0x1", "0x2", "0x3", "0x4"]
    assert [e.tx_hash for e in sorted(found, key=lambda e: e.block_time)] == [
        "0x1", "0x3", "0x2", "0x4",
    ]  # fmt: skip
