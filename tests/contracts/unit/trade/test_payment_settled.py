"""PAYMENT_SETTLED in: the trade's settlement is set once, by the message for the hold that
funded it; every other one is consumed with a PaymentSettledIgnored event."""

import brownie
import pytest

from tests.contracts.fixtures.trade import (
    PAYMENT_SETTLED,
    SETTLED_IGNORED,
    SETTLEMENT,
    STATUS,
    payment_settled_body,
    set_next_block_time,
)


def settle(deliver, trade, result, hold=None, amount=None, trade_id=None):
    body = payment_settled_body(
        trade_id or trade.id,
        hold or trade.hold,
        SETTLEMENT[result],
        trade.terms.price if amount is None else amount,
    )
    return deliver(PAYMENT_SETTLED, body)


def test_paid_is_recorded_for_a_delivered_trade(registry, trade_in, deliver, mailbox):
    trade = trade_in("Delivered")
    sent = mailbox.sentCount()
    tx = settle(deliver, trade, "Paid")
    assert tx.events["TradeSettled"] == {
        "tradeId": trade.id,
        "holdId": trade.hold,
        "result": SETTLEMENT["Paid"],
        "status": STATUS["Delivered"],
    }
    assert registry.settlementOf(trade.id) == SETTLEMENT["Paid"]
    assert registry.statusOf(trade.id) == STATUS["Delivered"]
    assert mailbox.sentCount() == sent


def test_refunded_is_recorded_for_an_expired_trade(registry, trade_in, deliver, stranger):
    trade = trade_in("Shipped")
    set_next_block_time(trade.terms.deadline + 1)
    registry.expire(trade.id, {"from": stranger})
    tx = settle(deliver, trade, "Refunded")
    assert tx.events["TradeSettled"]["result"] == SETTLEMENT["Refunded"]
    assert tx.events["TradeSettled"]["status"] == STATUS["Expired"]
    assert registry.settlementOf(trade.id) == SETTLEMENT["Refunded"]


def test_refunded_after_delivery_is_recorded_and_shows_the_status(registry, trade_in, deliver):
    """The residual risk (docs/design.md): the hold was released at its expiry before the
    Delivered outcome arrived. The record shows Delivered with Refunded."""
    trade = trade_in("Delivered")
    tx = settle(deliver, trade, "Refunded")
    assert tx.events["TradeSettled"]["status"] == STATUS["Delivered"]
    assert registry.settlementOf(trade.id) == SETTLEMENT["Refunded"]
    assert registry.statusOf(trade.id) == STATUS["Delivered"]


def test_a_refund_at_hold_expiry_is_recorded_on_an_open_trade(registry, trade_in, deliver):
    trade = trade_in("Shipped")
    settle(deliver, trade, "Refunded")
    assert registry.settlementOf(trade.id) == SETTLEMENT["Refunded"]
    assert registry.statusOf(trade.id) == STATUS["Shipped"]


@pytest.mark.parametrize("second", ["Paid", "Refunded"])
def test_the_settlement_is_set_once(registry, trade_in, deliver, second):
    trade = trade_in("Delivered")
    settle(deliver, trade, "Paid")
    before = tuple(registry.getTrade(trade.id))
    tx = settle(deliver, trade, second)
    assert tx.events["PaymentSettledIgnored"] == {
        "tradeId": trade.id,
        "holdId": trade.hold,
        "messageId": tx.return_value,
        "reason": SETTLED_IGNORED["AlreadySettled"],
    }
    assert "TradeSettled" not in tx.events
    assert tuple(registry.getTrade(trade.id)) == before
    assert registry.settlementOf(trade.id) == SETTLEMENT["Paid"]


def assert_ignored(tx, registry, trade_id, hold, reason, before):
    assert tx.status == 1
    assert tx.events["PaymentSettledIgnored"] == {
        "tradeId": trade_id,
        "holdId": hold,
        "messageId": tx.return_value,
        "reason": SETTLED_IGNORED[reason],
    }
    assert "TradeSettled" not in tx.events
    assert tuple(registry.getTrade(trade_id)) == before


def test_a_settlement_of_another_hold_is_ignored(registry, trade_in, deliver):
    trade = trade_in("Delivered")
    other = "0x" + "5e" * 32
    before = tuple(registry.getTrade(trade.id))
    tx = settle(deliver, trade, "Paid", hold=other)
    assert_ignored(tx, registry, trade.id, other, "HoldMismatch", before)


def test_a_settlement_with_another_amount_is_ignored(registry, trade_in, deliver):
    trade = trade_in("Delivered")
    before = tuple(registry.getTrade(trade.id))
    tx = settle(deliver, trade, "Paid", amount=trade.terms.price - 1)
    assert_ignored(tx, registry, trade.id, trade.hold, "HoldMismatch", before)


@pytest.mark.parametrize("status", ["Accepted", "Cancelled"])
def test_a_settlement_of_a_rejected_hold_is_ignored(registry, trade_in, deliver, buyer, status):
    """A Rejected hold never funded the trade: its release report changes nothing."""
    trade = trade_in("Accepted")
    if status == "Cancelled":
        registry.cancel(trade.id, {"from": buyer})
    before = tuple(registry.getTrade(trade.id))
    tx = settle(deliver, trade, "Refunded")
    assert_ignored(tx, registry, trade.id, trade.hold, "HoldMismatch", before)


def test_a_settlement_for_an_unknown_trade_is_ignored(registry, trade_in, deliver):
    trade = trade_in("Delivered")
    unknown = "0x" + "0f" * 32
    before = tuple(registry.getTrade(unknown))
    tx = settle(deliver, trade, "Paid", trade_id=unknown)
    assert_ignored(tx, registry, unknown, trade.hold, "UnknownTrade", before)


def test_a_settlement_with_no_result_is_ignored(registry, trade_in, deliver):
    trade = trade_in("Delivered")
    before = tuple(registry.getTrade(trade.id))
    tx = settle(deliver, trade, "None")
    assert_ignored(tx, registry, trade.id, trade.hold, "InvalidResult", before)


def test_a_result_outside_the_enum_reverts_as_malformed(trade_in, deliver, unchanged):
    """abi.decode refuses an enum value out of range: a malformed body, not a mere surprise."""
    trade = trade_in("Delivered")
    body = payment_settled_body(trade.id, trade.hold, 3, trade.terms.price)
    with unchanged(trade.id), brownie.reverts():
        deliver(PAYMENT_SETTLED, body)
