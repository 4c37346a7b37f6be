"""Shipment issues the bill of lading: a straight bill to the buyer that nobody can move
(docs/adr/0003-bill-of-lading-custody.md)."""

import brownie
import pytest
from eth_utils import keccak

from tests.contracts.fixtures.trade import STATUS, ZERO, err, set_next_block_time

DOCUMENT = keccak(text="bill of lading no. 42")


def test_the_seller_ships_a_funded_trade_and_the_bill_goes_to_the_buyer(
    registry, bill, trade_in, seller, buyer
):
    trade = trade_in("Funded")
    tx = registry.ship(trade.id, DOCUMENT, {"from": seller})
    token_id = int(trade.id, 16)
    assert tx.events["TradeShipped"] == {
        "tradeId": trade.id,
        "billTokenId": token_id,
        "documentHash": "0x" + DOCUMENT.hex(),
    }
    assert tx.events["BillIssued"] == {
        "tokenId": token_id,
        "tradeId": trade.id,
        "consignee": buyer,
        "documentHash": "0x" + DOCUMENT.hex(),
    }
    assert tx.events["Transfer"] == {"from": ZERO, "to": buyer, "tokenId": token_id}
    assert registry.statusOf(trade.id) == STATUS["Shipped"]
    assert registry.getTrade(trade.id)[10] == tx.timestamp
    assert bill.ownerOf(token_id) == buyer
    assert bill.balanceOf(buyer) == 1
    assert bill.isOutstanding(trade.id)
    assert bill.documentHashOf(token_id) == "0x" + DOCUMENT.hex()
    assert bill.tradeIdOf(token_id) == trade.id
    assert bill.tokenIdOf(trade.id) == token_id


@pytest.mark.parametrize("role", ["buyer", "carrier", "arbiter", "stranger"])
def test_only_the_seller_ships(registry, trade_in, unchanged, accounts_by_role, role):
    trade = trade_in("Funded")
    caller = accounts_by_role[role]
    with unchanged(trade.id), brownie.reverts(err("TradeCallerNotSeller", trade.id, caller)):
        registry.ship(trade.id, DOCUMENT, {"from": caller})


@pytest.mark.parametrize("status", ["Proposed", "Accepted", "Shipped", "Delivered"])
def test_only_a_funded_trade_ships(registry, trade_in, seller, unchanged, status):
    trade = trade_in(status)
    with unchanged(trade.id), brownie.reverts(err("TradeWrongStatus", trade.id, STATUS[status])):
        registry.ship(trade.id, DOCUMENT, {"from": seller})


def test_shipping_without_a_document_reverts(registry, trade_in, seller, unchanged):
    trade = trade_in("Funded")
    with unchanged(trade.id), brownie.reverts(err("BillOfLadingDocumentMissing", trade.id)):
        registry.ship(trade.id, b"\0" * 32, {"from": seller})


@pytest.mark.parametrize("offset", [-1, 0])
def test_shipping_up_to_the_deadline_second(registry, trade_in, seller, offset):
    trade = trade_in("Funded")
    set_next_block_time(trade.terms.deadline + offset)
    registry.ship(trade.id, DOCUMENT, {"from": seller})
    assert registry.statusOf(trade.id) == STATUS["Shipped"]


def test_shipping_one_second_after_the_deadline_reverts(registry, trade_in, seller, unchanged):
    trade = trade_in("Funded")
    late = trade.terms.deadline + 1
    with (
        unchanged(trade.id),
        brownie.reverts(err("TradeDeadlinePassed", trade.id, trade.terms.deadline, late)),
    ):
        set_next_block_time(late)
        registry.ship(trade.id, DOCUMENT, {"from": seller})


# --- the bill cannot change hands --------------------------------------------------------


def test_the_holder_cannot_transfer_the_bill(bill, trade_in, buyer, stranger, unchanged):
    trade = trade_in("Shipped")
    token_id = int(trade.id, 16)
    with (
        unchanged(trade.id),
        brownie.reverts(err("BillOfLadingNonTransferable", token_id, buyer, stranger)),
    ):
        bill.transferFrom(buyer, stranger, token_id, {"from": buyer})
    assert bill.ownerOf(token_id) == buyer


def test_an_approved_operator_cannot_transfer_the_bill(bill, trade_in, buyer, stranger, unchanged):
    trade = trade_in("Shipped")
    token_id = int(trade.id, 16)
    bill.setApprovalForAll(stranger, True, {"from": buyer})
    with (
        unchanged(trade.id),
        brownie.reverts(err("BillOfLadingNonTransferable", token_id, buyer, stranger)),
    ):
        bill.safeTransferFrom(buyer, stranger, token_id, {"from": stranger})
    assert bill.ownerOf(token_id) == buyer


@pytest.mark.parametrize("call", ["issue", "surrender", "void"])
def test_only_the_registry_issues_or_ends_bills(bill, trade_in, buyer, unchanged, call):
    trade = trade_in("Shipped")
    args = {
        "issue": ("0x" + "ee" * 32, buyer, "0x" + "11" * 32),
        "surrender": (trade.id,),
        "void": (trade.id,),
    }[call]
    with unchanged(trade.id), brownie.reverts(err("BillOfLadingCallerNotRegistry", buyer)):
        getattr(bill, call)(*args, {"from": buyer})
