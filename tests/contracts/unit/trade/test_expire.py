"""Expiry: anyone, once now > deadline and no dispute is open. A funded trade's Expired
outcome releases the hold; a shipped trade's bill is voided."""

import brownie
import pytest

from tests.contracts.fixtures.trade import OUTCOME, STATUS, err, set_next_block_time


def expire_late(registry, trade, caller):
    set_next_block_time(trade.terms.deadline + 1)
    return registry.expire(trade.id, {"from": caller})


@pytest.mark.parametrize("status", ["Proposed", "Accepted"])
def test_an_unfunded_trade_expires_without_an_outcome(
    registry, trade_in, stranger, mailbox, status
):
    trade = trade_in(status)
    tx = expire_late(registry, trade, stranger)
    assert tx.events["TradeExpired"] == {"tradeId": trade.id, "expiredBy": stranger}
    assert "OutcomeSent" not in tx.events
    assert mailbox.sentCount() == 0
    assert registry.statusOf(trade.id) == STATUS["Expired"]


def test_a_funded_trade_expires_and_the_expired_outcome_is_sent(
    registry, trade_in, stranger, sent_outcomes, bill
):
    trade = trade_in("Funded")
    tx = expire_late(registry, trade, stranger)
    assert tx.events["TradeExpired"] == {"tradeId": trade.id, "expiredBy": stranger}
    assert "BillVoided" not in tx.events
    assert tx.events["OutcomeSent"]["outcome"] == OUTCOME["Expired"]
    assert sent_outcomes(tx) == [
        {
            "tradeId": trade.id,
            "holdId": trade.hold,
            "outcome": OUTCOME["Expired"],
            "payer": trade.terms.payer,
            "payee": trade.terms.payee,
            "amount": trade.terms.price,
            "expiry": trade.terms.hold_expiry,
        }
    ]
    assert registry.statusOf(trade.id) == STATUS["Expired"]


def test_a_shipped_trade_expires_and_its_bill_is_voided(
    registry, trade_in, stranger, sent_outcomes, bill, buyer
):
    trade = trade_in("Shipped")
    token_id = int(trade.id, 16)
    tx = expire_late(registry, trade, stranger)
    assert tx.events["BillVoided"] == {"tokenId": token_id, "tradeId": trade.id, "holder": buyer}
    assert [o["outcome"] for o in sent_outcomes(tx)] == [OUTCOME["Expired"]]
    assert not bill.isOutstanding(trade.id)
    assert bill.balanceOf(buyer) == 0
    assert registry.statusOf(trade.id) == STATUS["Expired"]


@pytest.mark.parametrize("role", ["buyer", "seller", "stranger"])
def test_anyone_expires(registry, trade_in, accounts_by_role, role):
    trade = trade_in("Funded")
    expire_late(registry, trade, accounts_by_role[role])
    assert registry.statusOf(trade.id) == STATUS["Expired"]


@pytest.mark.parametrize("offset", [-1, 0])
def test_expiry_at_or_before_the_deadline_second_reverts(
    registry, trade_in, stranger, unchanged, offset
):
    trade = trade_in("Shipped")
    at = trade.terms.deadline + offset
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeDeadlineNotPassed", trade.id, trade.terms.deadline, at)),
    ):
        set_next_block_time(at)
        registry.expire(trade.id, {"from": stranger})


def test_expiry_one_second_after_the_deadline_succeeds(registry, trade_in, stranger):
    trade = trade_in("Shipped")
    tx = expire_late(registry, trade, stranger)
    assert tx.timestamp == trade.terms.deadline + 1
    assert registry.statusOf(trade.id) == STATUS["Expired"]


@pytest.mark.parametrize("terminal", ["Delivered", "Cancelled", "Expired"])
def test_a_terminal_trade_cannot_expire(registry, trade_in, buyer, stranger, unchanged, terminal):
    trade = trade_in("Delivered" if terminal == "Delivered" else "Accepted")
    if terminal == "Cancelled":
        registry.cancel(trade.id, {"from": buyer})
    set_next_block_time(trade.terms.deadline + 1)
    if terminal == "Expired":
        registry.expire(trade.id, {"from": stranger})
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS[terminal])):
        registry.expire(trade.id, {"from": stranger})


def test_an_unknown_trade_cannot_expire(registry, stranger, unchanged):
    unknown = "0x" + "77" * 32
    with unchanged(unknown), brownie.reverts(err("TradeNotFound", unknown)):
        registry.expire(unknown, {"from": stranger})


def test_an_expired_trade_cannot_be_delivered(
    registry, trade_in, buyer, carrier, stranger, unchanged
):
    trade = trade_in("Shipped")
    expire_late(registry, trade, stranger)
    wrong = err("TradeWrongStatus", trade.id, STATUS["Expired"])
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.confirmDelivery(trade.id, {"from": buyer})
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.confirmDeliveryByCarrier(trade.id, "0x" + "99" * 32, {"from": carrier})
