"""Delivery: the buyer (surrendering the bill) or the named carrier (with a proof of
delivery) while now <= deadline; the Delivered outcome goes out with the hold's fields."""

import brownie
import pytest
from eth_utils import keccak

from tests.contracts.fixtures.trade import (
    OUTCOME,
    STATUS,
    TRADE_OUTCOME,
    ZERO,
    ZERO_HASH,
    err,
    set_next_block_time,
)

PROOF = keccak(text="signed delivery receipt")


def expected_outcome(trade, outcome):
    return {
        "tradeId": trade.id,
        "holdId": trade.hold,
        "outcome": OUTCOME[outcome],
        "payer": trade.terms.payer,
        "payee": trade.terms.payee,
        "amount": trade.terms.price,
        "expiry": trade.terms.hold_expiry,
    }


def test_the_buyer_confirms_receipt_and_surrenders_the_bill(
    registry, bill, trade_in, buyer, sent_outcomes, mailbox
):
    trade = trade_in("Shipped")
    token_id = int(trade.id, 16)
    tx = registry.confirmDelivery(trade.id, {"from": buyer})
    assert tx.events["TradeDelivered"] == {
        "tradeId": trade.id,
        "confirmedBy": buyer,
        "proofOfDelivery": ZERO_HASH,
    }
    assert tx.events["BillSurrendered"] == {
        "tokenId": token_id,
        "tradeId": trade.id,
        "holder": buyer,
    }
    assert tx.events["Transfer"] == {"from": buyer, "to": ZERO, "tokenId": token_id}
    assert tx.events["OutcomeSent"] == {
        "tradeId": trade.id,
        "holdId": trade.hold,
        "outcome": OUTCOME["Delivered"],
        "messageId": tx.events["MessageSent"]["messageId"],
        "nonce": 0,
    }
    assert tx.events["MessageSent"]["kind"] == TRADE_OUTCOME
    assert sent_outcomes(tx) == [expected_outcome(trade, "Delivered")]
    assert mailbox.sentCount() == 1
    assert registry.statusOf(trade.id) == STATUS["Delivered"]
    assert not bill.isOutstanding(trade.id)
    assert bill.balanceOf(buyer) == 0


def test_the_carrier_records_delivery_with_a_proof(
    registry, bill, trade_in, carrier, sent_outcomes
):
    trade = trade_in("Shipped")
    tx = registry.confirmDeliveryByCarrier(trade.id, PROOF, {"from": carrier})
    assert tx.events["TradeDelivered"] == {
        "tradeId": trade.id,
        "confirmedBy": carrier,
        "proofOfDelivery": "0x" + PROOF.hex(),
    }
    assert "BillSurrendered" in tx.events
    assert sent_outcomes(tx) == [expected_outcome(trade, "Delivered")]
    assert registry.getTrade(trade.id)[17] == "0x" + PROOF.hex()
    assert registry.statusOf(trade.id) == STATUS["Delivered"]
    assert not bill.isOutstanding(trade.id)


def test_the_carrier_needs_a_proof(registry, trade_in, carrier, unchanged):
    trade = trade_in("Shipped")
    with unchanged(trade.id), brownie.reverts(err("TradeProofOfDeliveryMissing", trade.id)):
        registry.confirmDeliveryByCarrier(trade.id, b"\0" * 32, {"from": carrier})


@pytest.mark.parametrize("role", ["seller", "carrier", "arbiter", "stranger"])
def test_only_the_buyer_confirms_receipt(registry, trade_in, unchanged, accounts_by_role, role):
    trade = trade_in("Shipped")
    caller = accounts_by_role[role]
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotBuyer", trade.id, caller)):
        registry.confirmDelivery(trade.id, {"from": caller})


@pytest.mark.parametrize("role", ["buyer", "seller", "arbiter", "stranger"])
def test_only_the_named_carrier_records_delivery(
    registry, trade_in, unchanged, accounts_by_role, role
):
    trade = trade_in("Shipped")
    caller = accounts_by_role[role]
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotCarrier", trade.id, caller)):
        registry.confirmDeliveryByCarrier(trade.id, PROOF, {"from": caller})


def test_without_a_carrier_nobody_records_delivery_as_carrier(
    registry, trade_in, carrier, unchanged
):
    trade = trade_in("Shipped", carrier=ZERO)
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotCarrier", trade.id, carrier)):
        registry.confirmDeliveryByCarrier(trade.id, PROOF, {"from": carrier})


@pytest.mark.parametrize("status", ["Proposed", "Accepted", "Funded", "Delivered"])
def test_delivery_needs_a_shipped_trade(registry, trade_in, buyer, carrier, unchanged, status):
    trade = trade_in(status)
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS[status])):
        registry.confirmDelivery(trade.id, {"from": buyer})
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS[status])):
        registry.confirmDeliveryByCarrier(trade.id, PROOF, {"from": carrier})


@pytest.mark.parametrize("offset", [-1, 0])
def test_the_buyer_confirms_up_to_the_deadline_second(registry, trade_in, buyer, offset):
    trade = trade_in("Shipped")
    set_next_block_time(trade.terms.deadline + offset)
    tx = registry.confirmDelivery(trade.id, {"from": buyer})
    assert tx.timestamp == trade.terms.deadline + offset
    assert registry.statusOf(trade.id) == STATUS["Delivered"]


def test_the_buyer_cannot_confirm_one_second_after_the_deadline(
    registry, trade_in, buyer, unchanged
):
    trade = trade_in("Shipped")
    late = trade.terms.deadline + 1
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeDeadlinePassed", trade.id, trade.terms.deadline, late)),
    ):
        set_next_block_time(late)
        registry.confirmDelivery(trade.id, {"from": buyer})


@pytest.mark.parametrize("offset", [-1, 0])
def test_the_carrier_records_up_to_the_deadline_second(registry, trade_in, carrier, offset):
    trade = trade_in("Shipped")
    set_next_block_time(trade.terms.deadline + offset)
    registry.confirmDeliveryByCarrier(trade.id, PROOF, {"from": carrier})
    assert registry.statusOf(trade.id) == STATUS["Delivered"]


def test_the_carrier_cannot_record_one_second_after_the_deadline(
    registry, trade_in, carrier, unchanged
):
    trade = trade_in("Shipped")
    late = trade.terms.deadline + 1
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeDeadlinePassed", trade.id, trade.terms.deadline, late)),
    ):
        set_next_block_time(late)
        registry.confirmDeliveryByCarrier(trade.id, PROOF, {"from": carrier})


def test_a_delivered_trade_cannot_be_expired_disputed_or_cancelled(
    registry, trade_in, buyer, stranger, unchanged
):
    trade = trade_in("Delivered")
    wrong = err("TradeWrongStatus", trade.id, STATUS["Delivered"])
    set_next_block_time(trade.terms.arbitration_deadline + 1)
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.expire(trade.id, {"from": stranger})
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.cancel(trade.id, {"from": buyer})
    with unchanged(trade.id), brownie.reverts(wrong):
        registry.openDispute(trade.id, {"from": buyer})
