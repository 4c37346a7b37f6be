"""Disputes: a party opens one between Funded and the deadline; the arbiter rules Delivered
or Expired up to the arbitration deadline; after it, anyone expires the trade."""

import brownie
import pytest

from tests.contracts.fixtures.trade import (
    OUTCOME,
    STATUS,
    ZERO,
    err,
    set_next_block_time,
)


@pytest.mark.parametrize("status", ["Funded", "Shipped"])
@pytest.mark.parametrize("role", ["buyer", "seller"])
def test_a_party_opens_a_dispute(registry, trade_in, accounts_by_role, status, role):
    trade = trade_in(status)
    caller = accounts_by_role[role]
    tx = registry.openDispute(trade.id, {"from": caller})
    assert tx.events["TradeDisputed"] == {
        "tradeId": trade.id,
        "openedBy": caller,
        "previous": STATUS[status],
    }
    assert registry.statusOf(trade.id) == STATUS["Disputed"]


@pytest.mark.parametrize("role", ["carrier", "arbiter", "stranger"])
def test_only_a_party_opens_a_dispute(registry, trade_in, unchanged, accounts_by_role, role):
    trade = trade_in("Shipped")
    caller = accounts_by_role[role]
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotParty", trade.id, caller)):
        registry.openDispute(trade.id, {"from": caller})


@pytest.mark.parametrize("status", ["Proposed", "Accepted", "Delivered"])
def test_a_dispute_needs_a_funded_or_shipped_trade(registry, trade_in, buyer, unchanged, status):
    trade = trade_in(status)
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS[status])):
        registry.openDispute(trade.id, {"from": buyer})


def test_a_dispute_cannot_be_opened_twice(registry, trade_in, buyer, seller, unchanged):
    trade = trade_in("Shipped")
    registry.openDispute(trade.id, {"from": buyer})
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeWrongStatus", trade.id, STATUS["Disputed"])),
    ):
        registry.openDispute(trade.id, {"from": seller})


def test_a_trade_without_an_arbiter_cannot_be_disputed(registry, trade_in, buyer, unchanged):
    trade = trade_in("Shipped", arbiter=ZERO, arbitration_deadline=0)
    with unchanged(trade.id), brownie.reverts(err("TradeHasNoArbiter", trade.id)):
        registry.openDispute(trade.id, {"from": buyer})


@pytest.mark.parametrize("offset", [-1, 0])
def test_a_dispute_opens_up_to_the_deadline_second(registry, trade_in, buyer, offset):
    trade = trade_in("Shipped")
    set_next_block_time(trade.terms.deadline + offset)
    registry.openDispute(trade.id, {"from": buyer})
    assert registry.statusOf(trade.id) == STATUS["Disputed"]


def test_a_dispute_cannot_open_one_second_after_the_deadline(registry, trade_in, buyer, unchanged):
    trade = trade_in("Shipped")
    late = trade.terms.deadline + 1
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeDeadlinePassed", trade.id, trade.terms.deadline, late)),
    ):
        set_next_block_time(late)
        registry.openDispute(trade.id, {"from": buyer})


@pytest.fixture
def disputed(registry, trade_in, buyer):
    def make(status="Shipped"):
        trade = trade_in(status)
        registry.openDispute(trade.id, {"from": buyer})
        return trade

    return make


def test_while_disputed_the_parties_cannot_confirm_or_cancel(
    registry, disputed, buyer, carrier, unchanged
):
    trade = disputed()
    wrong = err("TradeWrongStatus", trade.id, STATUS["Disputed"])
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.confirmDelivery(trade.id, {"from": buyer})
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.confirmDeliveryByCarrier(trade.id, "0x" + "42" * 32, {"from": carrier})
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.cancel(trade.id, {"from": buyer})


@pytest.mark.parametrize("offset", [-1, 0])
def test_nobody_expires_a_disputed_trade_up_to_the_arbitration_deadline(
    registry, disputed, stranger, unchanged, offset
):
    trade = disputed()
    at = trade.terms.arbitration_deadline + offset
    with (
        unchanged(trade.id),
        brownie.reverts(
            err("TradeArbitrationDeadlineNotPassed", trade.id, trade.terms.arbitration_deadline, at)
        ),
    ):
        set_next_block_time(at)
        registry.expire(trade.id, {"from": stranger})


def test_anyone_expires_a_disputed_trade_one_second_after_the_arbitration_deadline(
    registry, disputed, stranger, sent_outcomes, bill
):
    trade = disputed()
    set_next_block_time(trade.terms.arbitration_deadline + 1)
    tx = registry.expire(trade.id, {"from": stranger})
    assert tx.events["TradeExpired"] == {"tradeId": trade.id, "expiredBy": stranger}
    assert "BillVoided" in tx.events
    assert [o["outcome"] for o in sent_outcomes(tx)] == [OUTCOME["Expired"]]
    assert registry.statusOf(trade.id) == STATUS["Expired"]
    assert not bill.isOutstanding(trade.id)


def test_the_arbiter_rules_delivered(registry, disputed, arbiter, sent_outcomes, bill, buyer):
    trade = disputed("Shipped")
    tx = registry.resolveDispute(trade.id, OUTCOME["Delivered"], {"from": arbiter})
    assert tx.events["DisputeResolved"] == {
        "tradeId": trade.id,
        "arbiter": arbiter,
        "ruling": OUTCOME["Delivered"],
    }
    assert tx.events["TradeDelivered"]["confirmedBy"] == arbiter
    assert tx.events["BillSurrendered"] == {
        "tokenId": int(trade.id, 16),
        "tradeId": trade.id,
        "holder": buyer,
    }
    (outcome,) = sent_outcomes(tx)
    assert (outcome["outcome"], outcome["holdId"], outcome["amount"]) == (
        OUTCOME["Delivered"],
        trade.hold,
        trade.terms.price,
    )
    assert registry.statusOf(trade.id) == STATUS["Delivered"]
    assert not bill.isOutstanding(trade.id)


def test_the_arbiter_rules_delivered_on_a_trade_never_shipped(
    registry, disputed, arbiter, sent_outcomes
):
    trade = disputed("Funded")
    tx = registry.resolveDispute(trade.id, OUTCOME["Delivered"], {"from": arbiter})
    assert "BillSurrendered" not in tx.events
    assert [o["outcome"] for o in sent_outcomes(tx)] == [OUTCOME["Delivered"]]
    assert registry.statusOf(trade.id) == STATUS["Delivered"]


def test_the_arbiter_rules_expired(registry, disputed, arbiter, sent_outcomes, bill):
    trade = disputed("Shipped")
    tx = registry.resolveDispute(trade.id, OUTCOME["Expired"], {"from": arbiter})
    assert tx.events["DisputeResolved"]["ruling"] == OUTCOME["Expired"]
    assert tx.events["TradeExpired"] == {"tradeId": trade.id, "expiredBy": arbiter}
    assert "BillVoided" in tx.events
    assert [o["outcome"] for o in sent_outcomes(tx)] == [OUTCOME["Expired"]]
    assert registry.statusOf(trade.id) == STATUS["Expired"]
    assert not bill.isOutstanding(trade.id)


@pytest.mark.parametrize("ruling", ["None", "Rejected"])
def test_the_arbiter_rules_only_delivered_or_expired(
    registry, disputed, arbiter, unchanged, ruling
):
    trade = disputed()
    with unchanged(trade.id), brownie.reverts(err("TradeInvalidRuling", trade.id, OUTCOME[ruling])):
        registry.resolveDispute(trade.id, OUTCOME[ruling], {"from": arbiter})


@pytest.mark.parametrize("role", ["buyer", "seller", "carrier", "stranger"])
def test_only_the_arbiter_rules(registry, disputed, unchanged, accounts_by_role, role):
    trade = disputed()
    caller = accounts_by_role[role]
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotArbiter", trade.id, caller)):
        registry.resolveDispute(trade.id, OUTCOME["Delivered"], {"from": caller})


def test_the_arbiter_rules_only_on_an_open_dispute(registry, trade_in, arbiter, unchanged):
    trade = trade_in("Shipped")
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS["Shipped"])):
        registry.resolveDispute(trade.id, OUTCOME["Delivered"], {"from": arbiter})


@pytest.mark.parametrize("offset", [-1, 0])
def test_the_arbiter_rules_up_to_the_arbitration_deadline_second(
    registry, disputed, arbiter, offset
):
    trade = disputed()
    set_next_block_time(trade.terms.arbitration_deadline + offset)
    tx = registry.resolveDispute(trade.id, OUTCOME["Delivered"], {"from": arbiter})
    assert tx.timestamp == trade.terms.arbitration_deadline + offset
    assert registry.statusOf(trade.id) == STATUS["Delivered"]


def test_the_arbiter_cannot_rule_one_second_after_the_arbitration_deadline(
    registry, disputed, arbiter, unchanged
):
    trade = disputed()
    late = trade.terms.arbitration_deadline + 1
    with (
        unchanged(trade.id),
        brownie.reverts(
            err("TradeArbitrationDeadlinePassed", trade.id, trade.terms.arbitration_deadline, late)
        ),
    ):
        set_next_block_time(late)
        registry.resolveDispute(trade.id, OUTCOME["Delivered"], {"from": arbiter})


def test_the_arbiter_rules_after_the_delivery_deadline(registry, disputed, arbiter):
    trade = disputed()
    set_next_block_time(trade.terms.deadline + 1)
    registry.resolveDispute(trade.id, OUTCOME["Delivered"], {"from": arbiter})
    assert registry.statusOf(trade.id) == STATUS["Delivered"]
