"""The bill of lading tells wallets it cannot move (ERC-5192) and is otherwise a conforming
ERC-721: ERC-165 answers, balances and owners, approvals, metadata, and every transfer
path reverting with the bill's own error while nothing changes."""

import brownie
import pytest
from eth_utils import keccak

from tests.contracts.fixtures.trade import ZERO, err

DOCUMENT = keccak(text="bill of lading no. 5192")
ERC165 = "0x01ffc9a7"
ERC721 = "0x80ac58cd"
ERC721_METADATA = "0x5b5e139f"
ERC5192 = "0xb45a3c0e"


def _interface_id(*signatures):
    value = 0
    for signature in signatures:
        value ^= int.from_bytes(keccak(text=signature)[:4], "big")
    return "0x" + value.to_bytes(4, "big").hex()


@pytest.fixture
def shipped(registry, bill, trade_in, seller):
    trade = trade_in("Funded")
    tx = registry.ship(trade.id, DOCUMENT, {"from": seller})
    return trade, int(trade.id, 16), tx


def test_the_erc5192_interface_id_is_the_standard_one():
    assert _interface_id("locked(uint256)") == ERC5192


@pytest.mark.parametrize("interface", [ERC165, ERC721, ERC721_METADATA, ERC5192])
def test_the_bill_declares_its_interfaces(bill, interface):
    assert bill.supportsInterface(interface)


def test_the_bill_declares_no_other_interface(bill):
    assert not bill.supportsInterface("0xffffffff")
    assert not bill.supportsInterface("0x780e9d63")  # ERC-721 enumerable: not implemented


def test_a_bill_is_locked_from_its_issue(shipped, bill, buyer):
    _trade, token_id, tx = shipped
    assert tx.events["Locked"] == {"tokenId": token_id}
    assert bill.locked(token_id) is True
    assert "Unlocked" not in tx.events


def test_locked_reverts_for_a_bill_that_does_not_exist(bill):
    with brownie.reverts(err("ERC721NonexistentToken", 12345)):
        bill.locked(12345)


def test_the_bill_is_a_plain_erc721_otherwise(shipped, bill, buyer, stranger):
    _trade, token_id, _ = shipped
    assert (bill.name(), bill.symbol()) == ("pvd Bill of Lading", "PVD-BL")
    assert bill.ownerOf(token_id) == buyer
    assert bill.balanceOf(buyer) == 1
    assert bill.balanceOf(stranger) == 0
    tx = bill.approve(stranger, token_id, {"from": buyer})
    assert tx.events["Approval"] == {"owner": buyer, "approved": stranger, "tokenId": token_id}
    assert bill.getApproved(token_id) == stranger
    tx = bill.setApprovalForAll(stranger, True, {"from": buyer})
    assert tx.events["ApprovalForAll"] == {"owner": buyer, "operator": stranger, "approved": True}
    assert bill.isApprovedForAll(buyer, stranger)
    with brownie.reverts(err("ERC721InvalidOwner", ZERO)):
        bill.balanceOf(ZERO)


@pytest.mark.parametrize(
    "method",
    ["transferFrom", "safeTransferFrom", "safeTransferFrom(address,address,uint256,bytes)"],
)
@pytest.mark.parametrize("caller", ["holder", "approved"])
def test_every_transfer_path_reverts_and_changes_nothing(
    shipped, bill, buyer, stranger, method, caller
):
    _trade, token_id, _ = shipped
    bill.approve(stranger, token_id, {"from": buyer})
    sender = buyer if caller == "holder" else stranger
    before = (
        bill.ownerOf(token_id),
        bill.balanceOf(buyer),
        bill.balanceOf(stranger),
        bill.locked(token_id),
    )
    args = [buyer, stranger, token_id]
    if method.endswith("bytes)"):
        args.append(b"")
        fn = bill.safeTransferFrom["address,address,uint256,bytes"]
    elif method == "safeTransferFrom":
        fn = bill.safeTransferFrom["address,address,uint256"]
    else:
        fn = bill.transferFrom
    with brownie.reverts(err("BillOfLadingNonTransferable", token_id, buyer, stranger)):
        fn(*args, {"from": sender})
    after = (
        bill.ownerOf(token_id),
        bill.balanceOf(buyer),
        bill.balanceOf(stranger),
        bill.locked(token_id),
    )
    assert after == before


def test_a_surrendered_bill_is_no_longer_locked_but_gone(registry, shipped, bill, buyer):
    trade, token_id, _ = shipped
    registry.confirmDelivery(trade.id, {"from": buyer})
    with brownie.reverts(err("ERC721NonexistentToken", token_id)):
        bill.locked(token_id)
