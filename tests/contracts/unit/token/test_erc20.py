"""The plain ERC-20 surface of the yuan: transfer, approve, transferFrom (OpenZeppelin's,
passing the token's `_update`)."""

import brownie

from tests.contracts.fixtures.token import (
    COMPLIANCE_ROLE,
    OPERATOR_ROLE,
    PAUSER_ROLE,
    YUAN,
    ZERO_ADDRESS,
    err,
    unchanged,
)


def test_a_transfer_moves_the_balance(yuan, buyer, seller):
    tx = yuan.transfer(seller, 12 * YUAN, {"from": buyer})
    assert tx.events["Transfer"] == {"from": buyer, "to": seller, "value": 12 * YUAN}
    assert yuan.balanceOf(buyer) == 99_988 * YUAN
    assert yuan.balanceOf(seller) == 1_012 * YUAN


def test_a_transfer_of_nothing_is_a_valid_transfer(yuan, buyer, seller):
    tx = yuan.transfer(seller, 0, {"from": buyer})
    assert tx.events["Transfer"] == {"from": buyer, "to": seller, "value": 0}
    assert yuan.balanceOf(seller) == 1_000 * YUAN


def test_a_transfer_over_the_balance_reverts(yuan, buyer, seller):
    with (
        unchanged(yuan, [buyer, seller]),
        brownie.reverts(err("ERC20InsufficientBalance", buyer, 100_000 * YUAN, 100_000 * YUAN + 1)),
    ):
        yuan.transfer(seller, 100_000 * YUAN + 1, {"from": buyer})


def test_a_transfer_to_the_zero_address_reverts(yuan, buyer):
    with unchanged(yuan, [buyer]), brownie.reverts(err("ERC20InvalidReceiver", ZERO_ADDRESS)):
        yuan.transfer(ZERO_ADDRESS, 1, {"from": buyer})


def test_an_approval_sets_the_allowance(yuan, buyer, stranger):
    tx = yuan.approve(stranger, 3 * YUAN, {"from": buyer})
    assert tx.events["Approval"] == {"owner": buyer, "spender": stranger, "value": 3 * YUAN}
    assert yuan.allowance(buyer, stranger) == 3 * YUAN


def test_a_spender_transfers_within_its_allowance(yuan, buyer, seller, stranger):
    yuan.approve(stranger, 3 * YUAN, {"from": buyer})
    tx = yuan.transferFrom(buyer, seller, 2 * YUAN, {"from": stranger})
    assert tx.events["Transfer"] == {"from": buyer, "to": seller, "value": 2 * YUAN}
    assert yuan.allowance(buyer, stranger) == YUAN
    assert yuan.balanceOf(seller) == 1_002 * YUAN


def test_a_spender_cannot_exceed_its_allowance(yuan, buyer, seller, stranger):
    yuan.approve(stranger, 3 * YUAN, {"from": buyer})
    with (
        unchanged(yuan, [buyer, seller], allowances=[(buyer, stranger)]),
        brownie.reverts(err("ERC20InsufficientAllowance", stranger, 3 * YUAN, 3 * YUAN + 1)),
    ):
        yuan.transferFrom(buyer, seller, 3 * YUAN + 1, {"from": stranger})


def test_the_role_constants_are_the_hashes_of_their_names(yuan):
    assert yuan.OPERATOR_ROLE() == "0x" + OPERATOR_ROLE.hex()
    assert yuan.COMPLIANCE_ROLE() == "0x" + COMPLIANCE_ROLE.hex()
    assert yuan.PAUSER_ROLE() == "0x" + PAUSER_ROLE.hex()
