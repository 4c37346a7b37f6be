"""Accept (seller, up to the deadline) and cancel (a party, before funding)."""

import brownie
import pytest

from tests.contracts.fixtures.trade import STATUS, err, set_next_block_time


def test_the_seller_accepts_a_proposed_trade(registry, trade_in, seller):
    trade = trade_in("Proposed")
    tx = registry.accept(trade.id, {"from": seller})
    assert tx.events["TradeAccepted"] == {"tradeId": trade.id, "seller": seller}
    assert registry.statusOf(trade.id) == STATUS["Accepted"]


@pytest.mark.parametrize("role", ["buyer", "carrier", "arbiter", "stranger"])
def test_only_the_seller_accepts(registry, trade_in, unchanged, accounts_by_role, role):
    trade = trade_in("Proposed")
    caller = accounts_by_role[role]
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotSeller", trade.id, caller)):
        registry.accept(trade.id, {"from": caller})


def test_accepting_an_unknown_trade_reverts(registry, seller, unchanged):
    unknown = "0x" + "ab" * 32
    with unchanged(unknown), brownie.reverts(err("TradeNotFound", unknown)):
        registry.accept(unknown, {"from": seller})


@pytest.mark.parametrize("status", ["Accepted", "Funded", "Shipped", "Delivered"])
def test_accepting_twice_or_later_reverts(registry, trade_in, seller, unchanged, status):
    trade = trade_in(status)
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS[status])):
        registry.accept(trade.id, {"from": seller})


@pytest.mark.parametrize("offset", [-1, 0])
def test_accept_up_to_the_deadline_second(registry, trade_in, seller, offset):
    trade = trade_in("Proposed")
    set_next_block_time(trade.terms.deadline + offset)
    registry.accept(trade.id, {"from": seller})
    assert registry.statusOf(trade.id) == STATUS["Accepted"]


def test_accept_one_second_after_the_deadline_reverts(registry, trade_in, seller, unchanged):
    trade = trade_in("Proposed")
    late = trade.terms.deadline + 1
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeDeadlinePassed", trade.id, trade.terms.deadline, late)),
    ):
        set_next_block_time(late)
        registry.accept(trade.id, {"from": seller})


@pytest.mark.parametrize("status", ["Proposed", "Accepted"])
@pytest.mark.parametrize("role", ["buyer", "seller"])
def test_a_party_cancels_before_funding(registry, trade_in, accounts_by_role, status, role):
    trade = trade_in(status)
    caller = accounts_by_role[role]
    tx = registry.cancel(trade.id, {"from": caller})
    assert tx.events["TradeCancelled"] == {"tradeId": trade.id, "cancelledBy": caller}
    assert registry.statusOf(trade.id) == STATUS["Cancelled"]


def test_a_party_cancels_even_after_the_deadline(registry, trade_in, buyer):
    trade = trade_in("Accepted")
    set_next_block_time(trade.terms.deadline + 1)
    registry.cancel(trade.id, {"from": buyer})
    assert registry.statusOf(trade.id) == STATUS["Cancelled"]


@pytest.mark.parametrize("role", ["carrier", "arbiter", "stranger"])
def test_only_a_party_cancels(registry, trade_in, unchanged, accounts_by_role, role):
    trade = trade_in("Accepted")
    caller = accounts_by_role[role]
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotParty", trade.id, caller)):
        registry.cancel(trade.id, {"from": caller})


@pytest.mark.parametrize("status", ["Funded", "Shipped", "Delivered"])
def test_a_funded_trade_cannot_be_cancelled(registry, trade_in, buyer, unchanged, status):
    trade = trade_in(status)
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS[status])):
        registry.cancel(trade.id, {"from": buyer})


def test_a_cancelled_trade_cannot_be_cancelled_again_or_accepted(
    registry, trade_in, buyer, seller, unchanged
):
    trade = trade_in("Proposed")
    registry.cancel(trade.id, {"from": buyer})
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeWrongStatus", trade.id, STATUS["Cancelled"])),
    ):
        registry.cancel(trade.id, {"from": seller})
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeWrongStatus", trade.id, STATUS["Cancelled"])),
    ):
        registry.accept(trade.id, {"from": seller})
