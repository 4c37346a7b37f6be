"""Freeze (COMPLIANCE_ROLE) and pause (PAUSER_ROLE): exactly what each blocks, and that
neither ever blocks a hold's release back to its payer (L1)."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    COMPLIANCE_ROLE,
    EXECUTED,
    HELD,
    PAUSER_ROLE,
    RELEASED,
    YUAN,
    err,
    new_hold,
    next_block_at,
    now,
    sign_authorization,
    sign_cancel,
    sign_hold,
    sign_permit,
    unchanged,
    wallet_key,
)


@pytest.fixture
def open_hold(yuan, wallet_a, seller, hold_notary):
    """wallet_a holds 1,000 yuan for seller under hold_notary, for an hour."""
    hold = new_hold(wallet_a, seller, hold_notary, 1_000 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": wallet_a})
    return hold


# --- freeze ------------------------------------------------------------------------------------


def test_a_compliance_officer_freezes_an_account(yuan, compliance_officer, buyer):
    tx = yuan.freeze(buyer, {"from": compliance_officer})
    assert tx.events["AccountFrozen"] == {"account": buyer, "officer": compliance_officer}
    assert yuan.isFrozen(buyer)


def test_freezing_a_frozen_account_reverts(yuan, compliance_officer, buyer):
    yuan.freeze(buyer, {"from": compliance_officer})
    with unchanged(yuan, [buyer]), brownie.reverts(err("AccountAlreadyFrozen", buyer)):
        yuan.freeze(buyer, {"from": compliance_officer})


def test_a_compliance_officer_unfreezes_an_account(yuan, compliance_officer, buyer):
    yuan.freeze(buyer, {"from": compliance_officer})
    tx = yuan.unfreeze(buyer, {"from": compliance_officer})
    assert tx.events["AccountUnfrozen"] == {"account": buyer, "officer": compliance_officer}
    assert not yuan.isFrozen(buyer)


def test_unfreezing_an_account_that_is_not_frozen_reverts(yuan, compliance_officer, buyer):
    with unchanged(yuan, [buyer]), brownie.reverts(err("AccountNotFrozen", buyer)):
        yuan.unfreeze(buyer, {"from": compliance_officer})


@pytest.mark.parametrize("function", ["freeze", "unfreeze"])
def test_only_compliance_officers_freeze_and_unfreeze(yuan, pauser, buyer, function):
    with (
        unchanged(yuan, [buyer]),
        brownie.reverts(err("AccessControlUnauthorizedAccount", pauser, COMPLIANCE_ROLE)),
    ):
        getattr(yuan, function)(buyer, {"from": pauser})


def test_a_frozen_account_cannot_send(yuan, compliance_officer, buyer, seller):
    yuan.freeze(buyer, {"from": compliance_officer})
    with unchanged(yuan, [buyer, seller]), brownie.reverts(err("AccountIsFrozen", buyer)):
        yuan.transfer(seller, 1, {"from": buyer})


def test_a_frozen_account_cannot_receive(yuan, compliance_officer, buyer, seller):
    yuan.freeze(seller, {"from": compliance_officer})
    with unchanged(yuan, [buyer, seller]), brownie.reverts(err("AccountIsFrozen", seller)):
        yuan.transfer(seller, 1, {"from": buyer})


def test_a_frozen_owner_cannot_be_debited_by_a_spender(
    yuan, compliance_officer, buyer, seller, stranger
):
    yuan.approve(stranger, 10, {"from": buyer})
    yuan.freeze(buyer, {"from": compliance_officer})
    with (
        unchanged(yuan, [buyer, seller], allowances=[(buyer, stranger)]),
        brownie.reverts(err("AccountIsFrozen", buyer)),
    ):
        yuan.transferFrom(buyer, seller, 10, {"from": stranger})


def test_a_frozen_account_can_still_approve(yuan, compliance_officer, buyer, stranger):
    yuan.freeze(buyer, {"from": compliance_officer})
    yuan.approve(stranger, 10, {"from": buyer})
    assert yuan.allowance(buyer, stranger) == 10


def test_an_unfrozen_account_can_send_again(yuan, compliance_officer, buyer, seller):
    yuan.freeze(buyer, {"from": compliance_officer})
    yuan.unfreeze(buyer, {"from": compliance_officer})
    yuan.transfer(seller, 1, {"from": buyer})
    assert yuan.balanceOf(seller) == 1_000 * YUAN + 1


def test_a_frozen_payer_cannot_place_a_hold(
    yuan, compliance_officer, wallet_a, seller, hold_notary
):
    yuan.freeze(wallet_a, {"from": compliance_officer})
    hold = new_hold(wallet_a, seller, hold_notary, YUAN, now() + 3600)
    with (
        unchanged(yuan, [wallet_a, seller], [hold.id()]),
        brownie.reverts(err("AccountIsFrozen", wallet_a)),
    ):
        yuan.placeHold(hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": wallet_a})


def test_a_hold_to_a_frozen_payee_cannot_be_placed(
    yuan, compliance_officer, wallet_a, seller, hold_notary
):
    yuan.freeze(seller, {"from": compliance_officer})
    hold = new_hold(wallet_a, seller, hold_notary, YUAN, now() + 3600)
    with (
        unchanged(yuan, [wallet_a, seller], [hold.id()]),
        brownie.reverts(err("AccountIsFrozen", seller)),
    ):
        yuan.placeHold(hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": wallet_a})


@pytest.mark.parametrize("frozen", ["payer", "payee"])
def test_a_frozen_party_blocks_execution(yuan, compliance_officer, open_hold, hold_notary, frozen):
    party = open_hold.payer if frozen == "payer" else open_hold.payee
    yuan.freeze(party, {"from": compliance_officer})
    with (
        unchanged(yuan, [open_hold.payer, open_hold.payee], [open_hold.id()]),
        brownie.reverts(err("AccountIsFrozen", party)),
    ):
        yuan.executeHold(open_hold.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(open_hold.id()) == HELD


def test_execution_blocked_by_a_freeze_succeeds_after_unfreezing(
    yuan, compliance_officer, open_hold, hold_notary
):
    yuan.freeze(open_hold.payee, {"from": compliance_officer})
    with brownie.reverts(err("AccountIsFrozen", open_hold.payee)):
        yuan.executeHold(open_hold.tuple(), {"from": hold_notary})
    yuan.unfreeze(open_hold.payee, {"from": compliance_officer})
    yuan.executeHold(open_hold.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(open_hold.id()) == EXECUTED


@pytest.mark.parametrize("frozen", ["payer", "payee"])
def test_the_notary_releases_a_hold_whatever_is_frozen(
    yuan, compliance_officer, open_hold, hold_notary, frozen
):
    party = open_hold.payer if frozen == "payer" else open_hold.payee
    yuan.freeze(party, {"from": compliance_officer})
    yuan.releaseHold(open_hold.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(open_hold.id()) == RELEASED
    assert yuan.heldBalanceOf(open_hold.payer) == 0
    assert yuan.balanceOf(open_hold.payer) == 100_000 * YUAN


@pytest.mark.parametrize("frozen", ["payer", "payee"])
def test_anyone_releases_an_expired_hold_whatever_is_frozen(
    yuan, compliance_officer, open_hold, stranger, frozen
):
    party = open_hold.payer if frozen == "payer" else open_hold.payee
    yuan.freeze(party, {"from": compliance_officer})
    next_block_at(open_hold.expiry)
    yuan.releaseHold(open_hold.tuple(), {"from": stranger})
    assert yuan.holdStatus(open_hold.id()) == RELEASED
    assert yuan.spendableBalanceOf(open_hold.payer) == 100_000 * YUAN


# --- pause -------------------------------------------------------------------------------------


def test_a_pauser_pauses_the_token(yuan, pauser):
    tx = yuan.pause({"from": pauser})
    assert tx.events["Paused"] == {"account": pauser}
    assert yuan.paused()


def test_pausing_a_paused_token_reverts(yuan, pauser):
    yuan.pause({"from": pauser})
    with unchanged(yuan), brownie.reverts(err("EnforcedPause")):
        yuan.pause({"from": pauser})


def test_a_pauser_unpauses_the_token(yuan, pauser):
    yuan.pause({"from": pauser})
    tx = yuan.unpause({"from": pauser})
    assert tx.events["Unpaused"] == {"account": pauser}
    assert not yuan.paused()


def test_unpausing_a_running_token_reverts(yuan, pauser):
    with unchanged(yuan), brownie.reverts(err("ExpectedPause")):
        yuan.unpause({"from": pauser})


@pytest.mark.parametrize("function", ["pause", "unpause"])
def test_only_pausers_pause_and_unpause(yuan, compliance_officer, function):
    with (
        unchanged(yuan),
        brownie.reverts(err("AccessControlUnauthorizedAccount", compliance_officer, PAUSER_ROLE)),
    ):
        getattr(yuan, function)({"from": compliance_officer})


@pytest.fixture
def paused(yuan, pauser):
    yuan.pause({"from": pauser})
    return yuan


def test_pause_blocks_transfers(paused, buyer, seller):
    with unchanged(paused, [buyer, seller]), brownie.reverts(err("EnforcedPause")):
        paused.transfer(seller, 1, {"from": buyer})


def test_pause_blocks_transfer_from(yuan, pauser, buyer, seller, stranger):
    yuan.approve(stranger, 1, {"from": buyer})
    yuan.pause({"from": pauser})
    with (
        unchanged(yuan, [buyer, seller], allowances=[(buyer, stranger)]),
        brownie.reverts(err("EnforcedPause")),
    ):
        yuan.transferFrom(buyer, seller, 1, {"from": stranger})


def test_pause_blocks_signed_transfers(paused, wallet_a, seller, stranger):
    nonce = b"\x01" * 32
    v, r, s = sign_authorization(
        paused, wallet_key("a"), wallet_a, seller, YUAN, 0, now() + 3600, nonce
    )
    with unchanged(paused, [wallet_a, seller]), brownie.reverts(err("EnforcedPause")):
        paused.transferWithAuthorization(
            wallet_a, seller, YUAN, 0, now() + 3600, nonce, v, r, s, {"from": stranger}
        )
    assert not paused.authorizationState(wallet_a, nonce)


def test_pause_blocks_placing_holds(paused, wallet_a, seller, hold_notary):
    hold = new_hold(wallet_a, seller, hold_notary, YUAN, now() + 3600)
    with unchanged(paused, [wallet_a, seller], [hold.id()]), brownie.reverts(err("EnforcedPause")):
        paused.placeHold(
            hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": wallet_a}
        )


def test_pause_blocks_placing_signed_holds(paused, wallet_a, seller, hold_notary, stranger):
    hold = new_hold(wallet_a, seller, hold_notary, YUAN, now() + 3600)
    signature = sign_hold(paused, wallet_key("a"), hold, now() + 600)
    with unchanged(paused, [wallet_a, seller], [hold.id()]), brownie.reverts(err("EnforcedPause")):
        paused.placeHoldWithAuthorization(hold.tuple(), now() + 600, signature, {"from": stranger})


def test_pause_blocks_executing_holds(yuan, pauser, open_hold, hold_notary):
    yuan.pause({"from": pauser})
    with (
        unchanged(yuan, [open_hold.payer, open_hold.payee], [open_hold.id()]),
        brownie.reverts(err("EnforcedPause")),
    ):
        yuan.executeHold(open_hold.tuple(), {"from": hold_notary})


def test_execution_blocked_by_a_pause_succeeds_after_unpausing(
    yuan, pauser, open_hold, hold_notary
):
    yuan.pause({"from": pauser})
    with brownie.reverts(err("EnforcedPause")):
        yuan.executeHold(open_hold.tuple(), {"from": hold_notary})
    yuan.unpause({"from": pauser})
    tx = yuan.executeHold(open_hold.tuple(), {"from": hold_notary})
    assert tx.events["HoldExecuted"]["amount"] == open_hold.amount


def test_pause_does_not_block_the_notary_releasing_a_hold(yuan, pauser, open_hold, hold_notary):
    yuan.pause({"from": pauser})
    yuan.releaseHold(open_hold.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(open_hold.id()) == RELEASED
    assert yuan.heldBalanceOf(open_hold.payer) == 0


def test_pause_does_not_block_anyone_releasing_an_expired_hold(yuan, pauser, open_hold, stranger):
    yuan.pause({"from": pauser})
    next_block_at(open_hold.expiry)
    yuan.releaseHold(open_hold.tuple(), {"from": stranger})
    assert yuan.holdStatus(open_hold.id()) == RELEASED


def test_pause_does_not_block_approvals(paused, buyer, stranger):
    paused.approve(stranger, 5, {"from": buyer})
    assert paused.allowance(buyer, stranger) == 5


def test_pause_does_not_block_permits(paused, wallet_a, stranger):
    deadline = now() + 3600
    v, r, s = sign_permit(paused, wallet_key("a"), wallet_a, stranger, 5, deadline)
    paused.permit(wallet_a, stranger, 5, deadline, v, r, s, {"from": stranger})
    assert paused.allowance(wallet_a, stranger) == 5


def test_pause_does_not_block_cancelling_an_authorization(paused, wallet_a, stranger):
    nonce = b"\x02" * 32
    v, r, s = sign_cancel(paused, wallet_key("a"), wallet_a, nonce)
    paused.cancelAuthorization(wallet_a, nonce, v, r, s, {"from": stranger})
    assert paused.authorizationState(wallet_a, nonce)


def test_pause_does_not_block_freezing(paused, compliance_officer, buyer):
    paused.freeze(buyer, {"from": compliance_officer})
    assert paused.isFrozen(buyer)
