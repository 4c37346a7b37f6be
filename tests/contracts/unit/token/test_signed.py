"""Signed approvals, transfers and holds, signed with eth-account as a wallet signs EIP-712
typed data: valid, expired, not yet valid, reused nonce, wrong chain, wrong protocol domain,
wrong signer, cancelled."""

import brownie
import pytest

from pvd.client.trade import place_hold_message
from tests.contracts.fixtures.token import (
    DOMAIN_ID,
    HELD,
    PERMIT_TYPES,
    PLACE_HOLD_TYPES,
    TOKEN_NAME,
    YUAN,
    ZERO_ADDRESS,
    err,
    new_hold,
    next_block_at,
    now,
    recover_typed,
    sign_authorization,
    sign_cancel,
    sign_hold,
    sign_permit,
    typed_digest,
    unchanged,
    wallet_key,
)

KEY_A = wallet_key("a")
KEY_B = wallet_key("b")
OTHER_DOMAIN = {"name": f"{TOKEN_NAME} (domain {DOMAIN_ID + 1})"}
OTHER_CHAIN = {"chainId": 1}
NONCE = bytes.fromhex("5a" * 32)


# --- EIP-2612 permit ---------------------------------------------------------------------------


def permit_message(owner, spender, value, nonce, deadline):
    return {
        "owner": str(owner),
        "spender": str(spender),
        "value": value,
        "nonce": nonce,
        "deadline": deadline,
    }


def test_a_permit_sets_the_allowance(yuan, wallet_a, stranger):
    deadline = now() + 3600
    v, r, s = sign_permit(yuan, KEY_A, wallet_a, stranger, 70 * YUAN, deadline)
    tx = yuan.permit(wallet_a, stranger, 70 * YUAN, deadline, v, r, s, {"from": stranger})
    assert tx.events["Approval"] == {"owner": wallet_a, "spender": stranger, "value": 70 * YUAN}
    assert yuan.allowance(wallet_a, stranger) == 70 * YUAN
    assert yuan.nonces(wallet_a) == 1


def test_a_permit_is_valid_at_its_deadline(yuan, wallet_a, stranger):
    deadline = now() + 100
    v, r, s = sign_permit(yuan, KEY_A, wallet_a, stranger, 1, deadline)
    next_block_at(deadline)
    yuan.permit(wallet_a, stranger, 1, deadline, v, r, s, {"from": stranger})
    assert yuan.allowance(wallet_a, stranger) == 1


def test_an_expired_permit_reverts(yuan, wallet_a, stranger):
    deadline = now() + 100
    v, r, s = sign_permit(yuan, KEY_A, wallet_a, stranger, 1, deadline)
    next_block_at(deadline + 1)
    with (
        unchanged(yuan, [wallet_a], allowances=[(wallet_a, stranger)]),
        brownie.reverts(err("ERC2612ExpiredSignature", deadline)),
    ):
        yuan.permit(wallet_a, stranger, 1, deadline, v, r, s, {"from": stranger})


def test_a_permit_signed_by_another_key_reverts(yuan, wallet_a, wallet_b, stranger):
    deadline = now() + 3600
    v, r, s = sign_permit(yuan, KEY_B, wallet_a, stranger, 1, deadline)
    with (
        unchanged(yuan, [wallet_a], allowances=[(wallet_a, stranger)]),
        brownie.reverts(err("ERC2612InvalidSigner", wallet_b, wallet_a)),
    ):
        yuan.permit(wallet_a, stranger, 1, deadline, v, r, s, {"from": stranger})


def test_a_permit_cannot_be_used_twice(yuan, wallet_a, stranger):
    deadline = now() + 3600
    vrs = sign_permit(yuan, KEY_A, wallet_a, stranger, 1, deadline)
    yuan.permit(wallet_a, stranger, 1, deadline, *vrs, {"from": stranger})
    yuan.approve(stranger, 0, {"from": wallet_a})
    # The contract now hashes nonce 1: the signature recovers to some unrelated address.
    seen = recover_typed(
        yuan, PERMIT_TYPES, permit_message(wallet_a, stranger, 1, 1, deadline), vrs
    )
    with (
        unchanged(yuan, [wallet_a], allowances=[(wallet_a, stranger)]),
        brownie.reverts(err("ERC2612InvalidSigner", seen, wallet_a)),
    ):
        yuan.permit(wallet_a, stranger, 1, deadline, *vrs, {"from": stranger})


@pytest.mark.parametrize("wrong", [OTHER_CHAIN, OTHER_DOMAIN], ids=["chain", "protocol-domain"])
def test_a_permit_for_another_chain_or_domain_reverts(yuan, wallet_a, stranger, wrong):
    deadline = now() + 3600
    vrs = sign_permit(yuan, KEY_A, wallet_a, stranger, 1, deadline, **wrong)
    seen = recover_typed(
        yuan, PERMIT_TYPES, permit_message(wallet_a, stranger, 1, 0, deadline), vrs
    )
    assert seen != wallet_a
    with (
        unchanged(yuan, [wallet_a], allowances=[(wallet_a, stranger)]),
        brownie.reverts(err("ERC2612InvalidSigner", seen, wallet_a)),
    ):
        yuan.permit(wallet_a, stranger, 1, deadline, *vrs, {"from": stranger})


# --- ERC-3009 ------------------------------------------------------------------------------------


def authorize(token, key, sender, to, value, valid_after=0, valid_before=None, nonce=NONCE, **kw):
    valid_before = now() + 3600 if valid_before is None else valid_before
    vrs = sign_authorization(token, key, sender, to, value, valid_after, valid_before, nonce, **kw)
    return (sender, to, value, valid_after, valid_before, nonce, *vrs)


def test_a_signed_transfer_moves_the_money(yuan, wallet_a, seller, stranger):
    args = authorize(yuan, KEY_A, wallet_a, seller, 30 * YUAN)
    tx = yuan.transferWithAuthorization(*args, {"from": stranger})
    assert tx.events["AuthorizationUsed"] == {"authorizer": wallet_a, "nonce": "0x" + NONCE.hex()}
    assert tx.events["Transfer"] == {"from": wallet_a, "to": seller, "value": 30 * YUAN}
    assert yuan.balanceOf(wallet_a) == 99_970 * YUAN
    assert yuan.balanceOf(seller) == 1_030 * YUAN
    assert yuan.authorizationState(wallet_a, NONCE)


def test_a_signed_transfer_is_valid_one_second_before_valid_before(
    yuan, wallet_a, seller, stranger
):
    t = now() + 100
    args = authorize(yuan, KEY_A, wallet_a, seller, 1, valid_before=t + 1)
    next_block_at(t)
    yuan.transferWithAuthorization(*args, {"from": stranger})
    assert yuan.authorizationState(wallet_a, NONCE)


def test_an_expired_signed_transfer_reverts(yuan, wallet_a, seller, stranger):
    t = now() + 100
    args = authorize(yuan, KEY_A, wallet_a, seller, 1, valid_before=t)
    next_block_at(t)
    with (
        unchanged(yuan, [wallet_a, seller]),
        brownie.reverts(err("ERC3009InvalidAuthorizationTime", 0, t)),
    ):
        yuan.transferWithAuthorization(*args, {"from": stranger})


def test_a_signed_transfer_before_valid_after_reverts(yuan, wallet_a, seller, stranger):
    t = now() + 100
    args = authorize(yuan, KEY_A, wallet_a, seller, 1, valid_after=t, valid_before=t + 3600)
    next_block_at(t)
    with (
        unchanged(yuan, [wallet_a, seller]),
        brownie.reverts(err("ERC3009InvalidAuthorizationTime", t, t + 3600)),
    ):
        yuan.transferWithAuthorization(*args, {"from": stranger})


def test_a_signed_transfer_is_valid_one_second_after_valid_after(yuan, wallet_a, seller, stranger):
    t = now() + 100
    args = authorize(yuan, KEY_A, wallet_a, seller, 1, valid_after=t - 1, valid_before=t + 3600)
    next_block_at(t)
    yuan.transferWithAuthorization(*args, {"from": stranger})
    assert yuan.balanceOf(seller) == 1_000 * YUAN + 1


def test_a_signed_transfer_cannot_be_used_twice(yuan, wallet_a, seller, stranger):
    args = authorize(yuan, KEY_A, wallet_a, seller, 1)
    yuan.transferWithAuthorization(*args, {"from": stranger})
    with (
        unchanged(yuan, [wallet_a, seller]),
        brownie.reverts(err("ERC3009UsedAuthorization", wallet_a, NONCE)),
    ):
        yuan.transferWithAuthorization(*args, {"from": stranger})


@pytest.mark.parametrize("wrong", [OTHER_CHAIN, OTHER_DOMAIN], ids=["chain", "protocol-domain"])
def test_a_signed_transfer_for_another_chain_or_domain_reverts(
    yuan, wallet_a, seller, stranger, wrong
):
    args = authorize(yuan, KEY_A, wallet_a, seller, 1, **wrong)
    with unchanged(yuan, [wallet_a, seller]), brownie.reverts(err("ERC3009InvalidSignature")):
        yuan.transferWithAuthorization(*args, {"from": stranger})
    assert not yuan.authorizationState(wallet_a, NONCE)


def test_a_signed_transfer_by_another_key_reverts(yuan, wallet_a, seller, stranger):
    args = authorize(yuan, KEY_B, wallet_a, seller, 1)
    with unchanged(yuan, [wallet_a, seller]), brownie.reverts(err("ERC3009InvalidSignature")):
        yuan.transferWithAuthorization(*args, {"from": stranger})


def test_an_authorizer_cancels_an_authorization(yuan, wallet_a, stranger):
    v, r, s = sign_cancel(yuan, KEY_A, wallet_a, NONCE)
    tx = yuan.cancelAuthorization(wallet_a, NONCE, v, r, s, {"from": stranger})
    assert tx.events["AuthorizationCanceled"] == {
        "authorizer": wallet_a,
        "nonce": "0x" + NONCE.hex(),
    }
    assert yuan.authorizationState(wallet_a, NONCE)


def test_a_cancelled_authorization_cannot_be_used(yuan, wallet_a, seller, stranger):
    args = authorize(yuan, KEY_A, wallet_a, seller, 1)
    yuan.cancelAuthorization(
        wallet_a, NONCE, *sign_cancel(yuan, KEY_A, wallet_a, NONCE), {"from": stranger}
    )
    with (
        unchanged(yuan, [wallet_a, seller]),
        brownie.reverts(err("ERC3009UsedAuthorization", wallet_a, NONCE)),
    ):
        yuan.transferWithAuthorization(*args, {"from": stranger})


def test_a_used_authorization_cannot_be_cancelled(yuan, wallet_a, seller, stranger):
    yuan.transferWithAuthorization(*authorize(yuan, KEY_A, wallet_a, seller, 1), {"from": stranger})
    vrs = sign_cancel(yuan, KEY_A, wallet_a, NONCE)
    with (
        unchanged(yuan, [wallet_a]),
        brownie.reverts(err("ERC3009UsedAuthorization", wallet_a, NONCE)),
    ):
        yuan.cancelAuthorization(wallet_a, NONCE, *vrs, {"from": stranger})


def test_a_cancellation_signed_by_another_key_reverts(yuan, wallet_a, stranger):
    vrs = sign_cancel(yuan, KEY_B, wallet_a, NONCE)
    with unchanged(yuan, [wallet_a]), brownie.reverts(err("ERC3009InvalidSignature")):
        yuan.cancelAuthorization(wallet_a, NONCE, *vrs, {"from": stranger})
    assert not yuan.authorizationState(wallet_a, NONCE)


def test_the_payee_receives_with_authorization(yuan, wallet_a, seller):
    args = authorize(yuan, KEY_A, wallet_a, seller, 5, kind="ReceiveWithAuthorization")
    tx = yuan.receiveWithAuthorization(*args, {"from": seller})
    assert tx.events["Transfer"] == {"from": wallet_a, "to": seller, "value": 5}
    assert yuan.authorizationState(wallet_a, NONCE)


def test_only_the_payee_submits_a_receive_authorization(yuan, wallet_a, seller, stranger):
    args = authorize(yuan, KEY_A, wallet_a, seller, 5, kind="ReceiveWithAuthorization")
    with unchanged(yuan, [wallet_a, seller]), brownie.reverts(err("ERC20InvalidReceiver", seller)):
        yuan.receiveWithAuthorization(*args, {"from": stranger})


def test_a_receive_authorization_is_no_transfer_authorization(yuan, wallet_a, seller):
    args = authorize(yuan, KEY_A, wallet_a, seller, 5, kind="ReceiveWithAuthorization")
    with unchanged(yuan, [wallet_a, seller]), brownie.reverts(err("ERC3009InvalidSignature")):
        yuan.transferWithAuthorization(*args, {"from": seller})


def test_a_signed_transfer_obeys_the_payers_caps(yuan, capped_a, seller, stranger):
    args = authorize(yuan, wallet_key("capped a"), capped_a, seller, 2_000 * YUAN + 1)
    with (
        unchanged(yuan, [capped_a, seller]),
        brownie.reverts(err("PaymentCapExceeded", capped_a, 2_000 * YUAN, 2_000 * YUAN + 1)),
    ):
        yuan.transferWithAuthorization(*args, {"from": stranger})


def test_a_signed_transfer_cannot_move_held_funds(yuan, wallet_b, seller, hold_notary, stranger):
    hold = new_hold(wallet_b, seller, hold_notary, 600 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": wallet_b})
    args = authorize(yuan, KEY_B, wallet_b, seller, 400 * YUAN + 1)
    with (
        unchanged(yuan, [wallet_b, seller], [hold.id()]),
        brownie.reverts(err("InsufficientSpendableBalance", wallet_b, 400 * YUAN, 400 * YUAN + 1)),
    ):
        yuan.transferWithAuthorization(*args, {"from": stranger})


# --- holds placed with the payer's signature ------------------------------------------------------


@pytest.fixture
def signed_hold(wallet_a, seller, hold_notary):
    return new_hold(wallet_a, seller, hold_notary, 700 * YUAN, now() + 3600)


def test_anyone_places_a_hold_with_the_payers_signature(yuan, signed_hold, stranger):
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_A, signed_hold, valid_before)
    tx = yuan.placeHoldWithAuthorization(
        signed_hold.tuple(), valid_before, signature, {"from": stranger}
    )
    assert tx.return_value == "0x" + signed_hold.id().hex()
    assert tx.events["HoldPlaced"] == {
        "holdId": "0x" + signed_hold.id().hex(),
        "payer": signed_hold.payer,
        "payee": signed_hold.payee,
        "notary": signed_hold.notary,
        "amount": signed_hold.amount,
        "expiry": signed_hold.expiry,
        "ref": "0x" + signed_hold.ref.hex(),
    }
    assert yuan.holdStatus(signed_hold.id()) == HELD
    assert yuan.heldBalanceOf(signed_hold.payer) == 700 * YUAN


def test_the_hold_digest_is_the_wallets_eip712_digest(yuan, signed_hold):
    valid_before = now() + 600
    expected = typed_digest(yuan, PLACE_HOLD_TYPES, place_hold_message(signed_hold, valid_before))
    assert yuan.holdAuthorizationDigest(signed_hold.tuple(), valid_before) == "0x" + expected.hex()


def test_a_hold_authorization_is_valid_one_second_before_valid_before(
    yuan, signed_hold, hold_notary
):
    t = now() + 100
    signature = sign_hold(yuan, KEY_A, signed_hold, t + 1)
    next_block_at(t)
    yuan.placeHoldWithAuthorization(signed_hold.tuple(), t + 1, signature, {"from": hold_notary})
    assert yuan.holdStatus(signed_hold.id()) == HELD


@pytest.mark.parametrize("delta", [0, 1])
def test_an_expired_hold_authorization_reverts(yuan, signed_hold, stranger, delta):
    t = now() + 100
    signature = sign_hold(yuan, KEY_A, signed_hold, t)
    next_block_at(t + delta)
    with (
        unchanged(yuan, [signed_hold.payer], [signed_hold.id()]),
        brownie.reverts(err("HoldAuthorizationExpired", t, t + delta)),
    ):
        yuan.placeHoldWithAuthorization(signed_hold.tuple(), t, signature, {"from": stranger})


def test_a_hold_authorization_cannot_be_replayed(yuan, signed_hold, stranger):
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_A, signed_hold, valid_before)
    yuan.placeHoldWithAuthorization(
        signed_hold.tuple(), valid_before, signature, {"from": stranger}
    )
    with (
        unchanged(yuan, [signed_hold.payer], [signed_hold.id()]),
        brownie.reverts(err("HoldAlreadyExists", signed_hold.id(), HELD)),
    ):
        yuan.placeHoldWithAuthorization(
            signed_hold.tuple(), valid_before, signature, {"from": stranger}
        )


def test_a_hold_signed_by_another_key_reverts(yuan, signed_hold, stranger):
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_B, signed_hold, valid_before)
    with (
        unchanged(yuan, [signed_hold.payer], [signed_hold.id()]),
        brownie.reverts(err("HoldAuthorizationInvalid", signed_hold.payer)),
    ):
        yuan.placeHoldWithAuthorization(
            signed_hold.tuple(), valid_before, signature, {"from": stranger}
        )


@pytest.mark.parametrize("field", ["payee", "amount", "expiry", "notary", "ref"])
def test_a_hold_differing_from_the_signed_one_reverts(yuan, signed_hold, stranger, field):
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_A, signed_hold, valid_before)
    changed = {
        "payee": str(stranger),
        "amount": signed_hold.amount + 1,
        "expiry": signed_hold.expiry + 1,
        "notary": str(stranger),
        "ref": bytes(32),
    }
    tampered = signed_hold.but(**{field: changed[field]})
    with (
        unchanged(yuan, [signed_hold.payer], [tampered.id()]),
        brownie.reverts(err("HoldAuthorizationInvalid", signed_hold.payer)),
    ):
        yuan.placeHoldWithAuthorization(
            tampered.tuple(), valid_before, signature, {"from": stranger}
        )


def test_a_hold_authorization_with_another_valid_before_reverts(yuan, signed_hold, stranger):
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_A, signed_hold, valid_before)
    with (
        unchanged(yuan, [signed_hold.payer], [signed_hold.id()]),
        brownie.reverts(err("HoldAuthorizationInvalid", signed_hold.payer)),
    ):
        yuan.placeHoldWithAuthorization(
            signed_hold.tuple(), valid_before + 1, signature, {"from": stranger}
        )


@pytest.mark.parametrize("wrong", [OTHER_CHAIN, OTHER_DOMAIN], ids=["chain", "protocol-domain"])
def test_a_hold_signed_for_another_chain_or_domain_reverts(yuan, signed_hold, stranger, wrong):
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_A, signed_hold, valid_before, **wrong)
    with (
        unchanged(yuan, [signed_hold.payer], [signed_hold.id()]),
        brownie.reverts(err("HoldAuthorizationInvalid", signed_hold.payer)),
    ):
        yuan.placeHoldWithAuthorization(
            signed_hold.tuple(), valid_before, signature, {"from": stranger}
        )


def test_a_signed_hold_obeys_the_spendable_balance(yuan, signed_hold, stranger):
    too_much = signed_hold.but(amount=100_000 * YUAN + 1)
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_A, too_much, valid_before)
    with (
        unchanged(yuan, [signed_hold.payer], [too_much.id()]),
        brownie.reverts(
            err(
                "InsufficientSpendableBalance",
                signed_hold.payer,
                100_000 * YUAN,
                100_000 * YUAN + 1,
            )
        ),
    ):
        yuan.placeHoldWithAuthorization(
            too_much.tuple(), valid_before, signature, {"from": stranger}
        )


def test_a_garbage_signature_for_the_zero_payer_reverts(yuan, signed_hold, stranger):
    # ecrecover returns the zero address for an invalid signature; it must not count as
    # the zero address having signed.
    orphan = signed_hold.but(payer=ZERO_ADDRESS)
    valid_before = now() + 600
    with (
        unchanged(yuan, [orphan.payee], [orphan.id()]),
        brownie.reverts(err("HoldAuthorizationInvalid", ZERO_ADDRESS)),
    ):
        yuan.placeHoldWithAuthorization(orphan.tuple(), valid_before, bytes(65), {"from": stranger})
