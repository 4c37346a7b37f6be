"""A notary's acknowledgement of a hold: one bit in the hold's own slot, set when the notary
places the hold or by acknowledgeHold (once), kept by execution, cleared by release (C3:
the status is unaffected; C5: every refused call changes nothing)."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    EXECUTED,
    HELD,
    RELEASED,
    YUAN,
    err,
    new_hold,
    now,
    parties,
    place,
    ref,
    sign_hold,
    unchanged,
    wallet_key,
)

KEY_A = wallet_key("a")


@pytest.fixture
def hold(wallet_a, seller, hold_notary):
    """500 of wallet_a's yuan for seller, for an hour (not placed yet); wallet_a can sign."""
    return new_hold(wallet_a, seller, hold_notary, 500 * YUAN, now() + 3600)


@pytest.fixture
def placed(yuan, hold):
    place(yuan, hold)
    return hold


def place_signed(yuan, hold, submitter):
    valid_before = now() + 600
    signature = sign_hold(yuan, KEY_A, hold, valid_before)
    return yuan.placeHoldWithAuthorization(
        hold.tuple(), valid_before, signature, {"from": submitter}
    )


# --- acknowledged at placement ----------------------------------------------------------------


def test_a_hold_its_payer_places_is_not_acknowledged(yuan, placed):
    assert not yuan.isHoldAcknowledged(placed.id())
    assert yuan.holdStatus(placed.id()) == HELD


def test_a_signed_hold_its_notary_places_is_acknowledged_in_the_placing_write(
    yuan, hold, hold_notary
):
    tx = place_signed(yuan, hold, hold_notary)
    assert "HoldPlaced" in tx.events
    assert yuan.isHoldAcknowledged(hold.id())
    # The bit is not part of the status or the commitment.
    assert yuan.holdStatus(hold.id()) == HELD
    assert tuple(yuan.checkHold(hold.tuple())) == ("0x" + hold.id().hex(), HELD)
    assert yuan.heldBalanceOf(hold.payer) == 500 * YUAN


def test_a_signed_hold_a_stranger_places_is_not_acknowledged(yuan, hold, stranger):
    place_signed(yuan, hold, stranger)
    assert not yuan.isHoldAcknowledged(hold.id())


# --- acknowledgeHold ---------------------------------------------------------------------------


def test_the_notary_acknowledges_an_open_hold(yuan, placed, hold_notary):
    tx = yuan.acknowledgeHold(placed.tuple(), {"from": hold_notary})
    assert tx.events["HoldAcknowledged"] == {
        "holdId": "0x" + placed.id().hex(),
        "notary": hold_notary,
    }
    assert "Transfer" not in tx.events
    assert yuan.isHoldAcknowledged(placed.id())
    assert yuan.holdStatus(placed.id()) == HELD
    assert tuple(yuan.checkHold(placed.tuple())) == ("0x" + placed.id().hex(), HELD)
    assert yuan.heldBalanceOf(placed.payer) == 500 * YUAN
    assert yuan.balanceOf(placed.payee) == 1_000 * YUAN


def test_acknowledging_works_while_the_token_is_paused(yuan, placed, hold_notary, pauser):
    yuan.pause({"from": pauser})
    yuan.acknowledgeHold(placed.tuple(), {"from": hold_notary})
    assert yuan.isHoldAcknowledged(placed.id())


def test_only_the_notary_acknowledges(yuan, placed, stranger):
    for caller in (stranger, placed.payer, placed.payee):
        with (
            unchanged(yuan, parties(placed), [placed.id()]),
            brownie.reverts(err("HoldCallerNotNotary", placed.id(), caller)),
        ):
            yuan.acknowledgeHold(placed.tuple(), {"from": caller})
    assert not yuan.isHoldAcknowledged(placed.id())


def test_a_hold_is_acknowledged_once(yuan, placed, hold_notary):
    yuan.acknowledgeHold(placed.tuple(), {"from": hold_notary})
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldAlreadyAcknowledged", placed.id())),
    ):
        yuan.acknowledgeHold(placed.tuple(), {"from": hold_notary})


def test_a_hold_its_notary_placed_cannot_be_acknowledged_again(yuan, hold, hold_notary):
    place_signed(yuan, hold, hold_notary)
    with (
        unchanged(yuan, parties(hold), [hold.id()]),
        brownie.reverts(err("HoldAlreadyAcknowledged", hold.id())),
    ):
        yuan.acknowledgeHold(hold.tuple(), {"from": hold_notary})


def test_acknowledging_a_hold_never_placed_reverts(yuan, hold, hold_notary):
    with (
        unchanged(yuan, parties(hold), [hold.id()]),
        brownie.reverts(err("HoldNotFound", hold.id())),
    ):
        yuan.acknowledgeHold(hold.tuple(), {"from": hold_notary})


@pytest.mark.parametrize("field", ["payee", "amount", "expiry"])
def test_acknowledging_with_other_fields_reverts(yuan, placed, hold_notary, stranger, field):
    value = {"payee": str(stranger), "amount": placed.amount - 1, "expiry": placed.expiry + 1}
    wrong = placed.but(**{field: value[field]})
    with (
        unchanged(yuan, [*parties(placed), stranger], [placed.id()]),
        brownie.reverts(err("HoldMismatch", placed.id())),
    ):
        yuan.acknowledgeHold(wrong.tuple(), {"from": hold_notary})


def test_acknowledging_with_another_ref_finds_no_hold(yuan, placed, hold_notary):
    wrong = placed.but(ref=ref("another trade"))
    with (
        unchanged(yuan, parties(placed), [placed.id(), wrong.id()]),
        brownie.reverts(err("HoldNotFound", wrong.id())),
    ):
        yuan.acknowledgeHold(wrong.tuple(), {"from": hold_notary})


@pytest.mark.parametrize("ending", ["execute", "release"])
def test_a_closed_hold_cannot_be_acknowledged(yuan, placed, hold_notary, ending):
    getattr(yuan, f"{ending}Hold")(placed.tuple(), {"from": hold_notary})
    status = EXECUTED if ending == "execute" else RELEASED
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldNotOpen", placed.id(), status)),
    ):
        yuan.acknowledgeHold(placed.tuple(), {"from": hold_notary})


# --- through the hold's life ---------------------------------------------------------------------


def test_execution_keeps_the_acknowledgement(yuan, placed, hold_notary):
    yuan.acknowledgeHold(placed.tuple(), {"from": hold_notary})
    tx = yuan.executeHold(placed.tuple(), {"from": hold_notary})
    assert "HoldExecuted" in tx.events
    assert yuan.holdStatus(placed.id()) == EXECUTED
    assert yuan.isHoldAcknowledged(placed.id())
    assert yuan.balanceOf(placed.payee) == 1_500 * YUAN


def test_release_clears_the_acknowledgement_and_a_new_placement_starts_without_it(
    yuan, placed, hold_notary
):
    yuan.acknowledgeHold(placed.tuple(), {"from": hold_notary})
    yuan.releaseHold(placed.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(placed.id()) == RELEASED
    assert not yuan.isHoldAcknowledged(placed.id())
    again = placed.but(amount=100 * YUAN)
    place(yuan, again)
    assert yuan.holdStatus(again.id()) == HELD
    assert not yuan.isHoldAcknowledged(again.id())
    yuan.acknowledgeHold(again.tuple(), {"from": hold_notary})
    assert yuan.isHoldAcknowledged(again.id())
