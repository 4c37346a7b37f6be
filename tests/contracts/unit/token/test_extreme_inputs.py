"""Maximal inputs (bad inputs): each a clear custom error, nothing changed."""

import brownie

from tests.contracts.fixtures.token import (
    MAX_HOLD_DURATION,
    YUAN,
    err,
    new_hold,
    next_block_at,
    now,
    unchanged,
)

MAX_UINT256 = 2**256 - 1
MAX_UINT64 = 2**64 - 1


def test_transferring_the_largest_amount_reverts(yuan, buyer, seller):
    with (
        unchanged(yuan, [buyer, seller]),
        brownie.reverts(err("ERC20InsufficientBalance", buyer, 100_000 * YUAN, MAX_UINT256)),
    ):
        yuan.transfer(seller, MAX_UINT256, {"from": buyer})


def test_a_capped_payer_sending_the_largest_amount_hits_its_payment_cap(yuan, capped_a, buyer):
    with (
        unchanged(yuan, [capped_a, buyer]),
        brownie.reverts(err("PaymentCapExceeded", capped_a, 2_000 * YUAN, MAX_UINT256)),
    ):
        yuan.transfer(buyer, MAX_UINT256, {"from": capped_a})


def test_issuing_the_largest_amount_exceeds_the_allowance(yuan, operator, buyer):
    allowance = yuan.mintAllowance(operator)
    with (
        unchanged(yuan, [buyer]),
        brownie.reverts(err("MintAllowanceExceeded", operator, allowance, MAX_UINT256)),
    ):
        yuan.issue(buyer, MAX_UINT256, {"from": operator})


def test_holding_the_largest_amount_reverts(yuan, buyer, seller, hold_notary):
    hold = new_hold(buyer, seller, hold_notary, MAX_UINT256, now() + 3600)
    with (
        unchanged(yuan, [buyer, seller], [hold.id()]),
        brownie.reverts(err("InsufficientSpendableBalance", buyer, 100_000 * YUAN, MAX_UINT256)),
    ):
        yuan.placeHold(hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": buyer})


def test_a_hold_expiring_at_the_end_of_uint64_time_reverts(yuan, buyer, seller, hold_notary):
    t = now() + 100
    next_block_at(t)
    hold = new_hold(buyer, seller, hold_notary, YUAN, MAX_UINT64)
    with (
        unchanged(yuan, [buyer, seller], [hold.id()]),
        brownie.reverts(err("HoldExpiryOutOfRange", MAX_UINT64, t + 1, t + MAX_HOLD_DURATION)),
    ):
        yuan.placeHold(hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": buyer})
