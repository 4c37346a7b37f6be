"""Holds, the ERC-1996 model: place, execute, release; ids, commitments, windows (C2-C4)."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    EXECUTED,
    HELD,
    MAX_HOLD_DURATION,
    NONE,
    RELEASED,
    YUAN,
    ZERO_ADDRESS,
    err,
    hold_id,
    new_hold,
    next_block_at,
    now,
    parties,
    place,
    ref,
    unchanged,
)


@pytest.fixture
def hold(wallet_b, seller, hold_notary):
    """600 of wallet_b's 1,000 yuan for seller, for an hour (not placed yet)."""
    return new_hold(wallet_b, seller, hold_notary, 600 * YUAN, now() + 3600)


@pytest.fixture
def placed(yuan, hold):
    place(yuan, hold)
    return hold


# --- placing -----------------------------------------------------------------------------------


def test_a_payer_places_a_hold(yuan, hold):
    tx = place(yuan, hold)
    assert tx.return_value == "0x" + hold.id().hex()
    assert tx.events["HoldPlaced"] == {
        "holdId": "0x" + hold.id().hex(),
        "payer": hold.payer,
        "payee": hold.payee,
        "notary": hold.notary,
        "amount": hold.amount,
        "expiry": hold.expiry,
        "ref": "0x" + hold.ref.hex(),
    }
    assert yuan.holdStatus(hold.id()) == HELD


def test_held_funds_stay_in_the_payers_balance_but_are_not_spendable(yuan, hold):
    place(yuan, hold)
    assert yuan.balanceOf(hold.payer) == 1_000 * YUAN
    assert yuan.heldBalanceOf(hold.payer) == 600 * YUAN
    assert yuan.spendableBalanceOf(hold.payer) == 400 * YUAN
    assert yuan.balanceOf(hold.payee) == 1_000 * YUAN


def test_check_hold_confirms_every_field_of_a_placed_hold(yuan, placed):
    checked_id, status = yuan.checkHold(placed.tuple())
    assert (checked_id, status) == ("0x" + placed.id().hex(), HELD)


def test_check_hold_reports_none_for_a_hold_never_placed(yuan, hold):
    checked_id, status = yuan.checkHold(hold.tuple())
    assert (checked_id, status) == ("0x" + hold.id().hex(), NONE)


@pytest.mark.parametrize("field", ["payee", "amount", "expiry"])
def test_check_hold_rejects_a_wrong_field(yuan, placed, stranger, field):
    wrong = {"payee": str(stranger), "amount": placed.amount - 1, "expiry": placed.expiry + 1}
    with brownie.reverts(err("HoldMismatch", placed.id())):
        yuan.checkHold(placed.but(**{field: wrong[field]}).tuple())


def test_the_hold_id_is_derived_from_payer_notary_and_reference(yuan, hold):
    assert yuan.holdId(hold.payer, hold.notary, hold.ref) == "0x" + hold.id().hex()


def test_another_payer_cannot_squat_a_reference(yuan, placed, buyer):
    squatter = placed.but(payer=str(buyer))
    place(yuan, squatter)
    assert squatter.id() != placed.id()
    assert yuan.holdStatus(placed.id()) == yuan.holdStatus(squatter.id()) == HELD


@pytest.mark.parametrize("ending", [None, "execute"])
def test_an_open_or_executed_hold_id_is_never_placed_again(yuan, placed, hold_notary, ending):
    if ending == "execute":
        yuan.executeHold(placed.tuple(), {"from": hold_notary})
    status = yuan.holdStatus(placed.id())
    again = placed.but(amount=YUAN)
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldAlreadyExists", placed.id(), status)),
    ):
        place(yuan, again)


def test_a_released_hold_id_can_be_placed_again(yuan, placed, hold_notary):
    """A payer whose first attempt was refused (released) funds the same reference again:
    the id is the same, the new hold is open with its own fields and charged again."""
    yuan.releaseHold(placed.tuple(), {"from": hold_notary})
    again = placed.but(amount=YUAN)
    tx = place(yuan, again)
    assert tx.events["HoldPlaced"]["holdId"] == "0x" + placed.id().hex()
    assert tx.events["HoldPlaced"]["amount"] == YUAN
    assert yuan.holdStatus(placed.id()) == HELD
    assert yuan.heldBalanceOf(placed.payer) == YUAN
    # The old fields no longer match the id's commitment.
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldMismatch", placed.id())),
    ):
        yuan.releaseHold(placed.tuple(), {"from": hold_notary})
    yuan.executeHold(again.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(placed.id()) == EXECUTED


def test_a_hold_to_the_zero_address_reverts(yuan, hold):
    bad = hold.but(payee=ZERO_ADDRESS)
    with (
        unchanged(yuan, [hold.payer], [bad.id()]),
        brownie.reverts(err("HoldPayeeInvalid", ZERO_ADDRESS)),
    ):
        place(yuan, bad)


def test_a_hold_to_oneself_reverts(yuan, hold):
    bad = hold.but(payee=hold.payer)
    with (
        unchanged(yuan, [hold.payer], [bad.id()]),
        brownie.reverts(err("HoldPayeeInvalid", hold.payer)),
    ):
        place(yuan, bad)


def test_a_hold_without_a_notary_reverts(yuan, hold):
    bad = hold.but(notary=ZERO_ADDRESS)
    with (
        unchanged(yuan, [hold.payer], [bad.id()]),
        brownie.reverts(err("HoldNotaryInvalid", ZERO_ADDRESS)),
    ):
        place(yuan, bad)


def test_a_hold_of_nothing_reverts(yuan, hold):
    with unchanged(yuan, parties(hold), [hold.id()]), brownie.reverts(err("HoldAmountZero")):
        place(yuan, hold.but(amount=0))


@pytest.mark.parametrize("delta", [-1, 0])
def test_a_hold_expiring_now_or_earlier_reverts(yuan, hold, delta):
    t = now() + 100
    next_block_at(t)
    with (
        unchanged(yuan, parties(hold), [hold.id()]),
        brownie.reverts(err("HoldExpiryOutOfRange", t + delta, t + 1, t + MAX_HOLD_DURATION)),
    ):
        place(yuan, hold.but(expiry=t + delta))


def test_a_hold_may_expire_one_second_after_placement(yuan, hold):
    t = now() + 100
    next_block_at(t)
    place(yuan, hold.but(expiry=t + 1))
    assert yuan.holdStatus(hold.id()) == HELD


def test_a_hold_may_last_the_maximum_duration(yuan, hold):
    t = now() + 100
    next_block_at(t)
    place(yuan, hold.but(expiry=t + MAX_HOLD_DURATION))
    assert yuan.holdStatus(hold.id()) == HELD


def test_a_hold_beyond_the_maximum_duration_reverts(yuan, hold):
    t = now() + 100
    next_block_at(t)
    with (
        unchanged(yuan, parties(hold), [hold.id()]),
        brownie.reverts(
            err("HoldExpiryOutOfRange", t + MAX_HOLD_DURATION + 1, t + 1, t + MAX_HOLD_DURATION)
        ),
    ):
        place(yuan, hold.but(expiry=t + MAX_HOLD_DURATION + 1))


def test_a_hold_over_the_spendable_balance_reverts(yuan, hold):
    with (
        unchanged(yuan, parties(hold), [hold.id()]),
        brownie.reverts(
            err("InsufficientSpendableBalance", hold.payer, 1_000 * YUAN, 1_000 * YUAN + 1)
        ),
    ):
        place(yuan, hold.but(amount=1_000 * YUAN + 1))


def test_held_funds_cannot_be_held_twice(yuan, placed):
    second = placed.but(ref=ref("trade-2"), amount=400 * YUAN + 1)
    with (
        unchanged(yuan, parties(placed), [placed.id(), second.id()]),
        brownie.reverts(
            err("InsufficientSpendableBalance", placed.payer, 400 * YUAN, 400 * YUAN + 1)
        ),
    ):
        place(yuan, second)


def test_the_spendable_rest_can_be_held(yuan, placed):
    place(yuan, placed.but(ref=ref("trade-2"), amount=400 * YUAN))
    assert yuan.heldBalanceOf(placed.payer) == 1_000 * YUAN
    assert yuan.spendableBalanceOf(placed.payer) == 0


def test_held_funds_cannot_be_transferred(yuan, placed, buyer):
    with (
        unchanged(yuan, [placed.payer, buyer], [placed.id()]),
        brownie.reverts(
            err("InsufficientSpendableBalance", placed.payer, 400 * YUAN, 400 * YUAN + 1)
        ),
    ):
        yuan.transfer(buyer, 400 * YUAN + 1, {"from": placed.payer})


def test_the_spendable_rest_can_be_transferred(yuan, placed, buyer):
    yuan.transfer(buyer, 400 * YUAN, {"from": placed.payer})
    assert yuan.balanceOf(placed.payer) == yuan.heldBalanceOf(placed.payer) == 600 * YUAN


# --- executing ---------------------------------------------------------------------------------


def test_the_notary_executes_a_hold(yuan, placed, hold_notary):
    tx = yuan.executeHold(placed.tuple(), {"from": hold_notary})
    assert tx.events["Transfer"] == {"from": placed.payer, "to": placed.payee, "value": 600 * YUAN}
    assert tx.events["HoldExecuted"] == {
        "holdId": "0x" + placed.id().hex(),
        "payer": placed.payer,
        "payee": placed.payee,
        "amount": 600 * YUAN,
    }
    assert yuan.holdStatus(placed.id()) == EXECUTED
    assert yuan.balanceOf(placed.payer) == 400 * YUAN
    assert yuan.balanceOf(placed.payee) == 1_600 * YUAN
    assert yuan.heldBalanceOf(placed.payer) == 0
    checked_id, status = yuan.checkHold(placed.tuple())
    assert (checked_id, status) == ("0x" + placed.id().hex(), EXECUTED)


@pytest.mark.parametrize("caller", ["payer", "payee", "stranger"])
def test_only_the_notary_executes(yuan, placed, stranger, caller):
    account = {"payer": placed.payer, "payee": placed.payee, "stranger": str(stranger)}[caller]
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldCallerNotNotary", placed.id(), account)),
    ):
        yuan.executeHold(placed.tuple(), {"from": account})


def test_the_notary_executes_one_second_before_expiry(yuan, placed, hold_notary):
    next_block_at(placed.expiry - 1)
    yuan.executeHold(placed.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(placed.id()) == EXECUTED


@pytest.mark.parametrize("delta", [0, 1])
def test_the_notary_cannot_execute_from_expiry_on(yuan, placed, hold_notary, delta):
    next_block_at(placed.expiry + delta)
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldExpired", placed.id(), placed.expiry)),
    ):
        yuan.executeHold(placed.tuple(), {"from": hold_notary})


@pytest.mark.parametrize("field", ["payee", "amount", "expiry"])
def test_executing_with_a_wrong_field_reverts_as_a_mismatch(
    yuan, placed, hold_notary, stranger, field
):
    wrong = {"payee": str(stranger), "amount": placed.amount + 1, "expiry": placed.expiry - 1}
    with (
        unchanged(yuan, [*parties(placed), stranger], [placed.id()]),
        brownie.reverts(err("HoldMismatch", placed.id())),
    ):
        yuan.executeHold(placed.but(**{field: wrong[field]}).tuple(), {"from": hold_notary})


@pytest.mark.parametrize("field", ["payer", "notary", "ref"])
def test_executing_with_a_wrong_identifying_field_finds_no_hold(
    yuan, placed, hold_notary, stranger, field
):
    value = {"payer": str(stranger), "notary": str(stranger), "ref": ref("another trade")}[field]
    wrong = placed.but(**{field: value})
    with (
        unchanged(yuan, [*parties(placed), stranger], [placed.id(), wrong.id()]),
        brownie.reverts(err("HoldNotFound", wrong.id())),
    ):
        yuan.executeHold(wrong.tuple(), {"from": wrong.notary})


@pytest.mark.parametrize("ending", ["execute", "release"])
def test_a_closed_hold_cannot_be_executed(yuan, placed, hold_notary, ending):
    getattr(yuan, f"{ending}Hold")(placed.tuple(), {"from": hold_notary})
    status = EXECUTED if ending == "execute" else RELEASED
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldNotOpen", placed.id(), status)),
    ):
        yuan.executeHold(placed.tuple(), {"from": hold_notary})


# --- releasing ---------------------------------------------------------------------------------


def test_the_notary_releases_a_hold_before_expiry(yuan, placed, hold_notary):
    tx = yuan.releaseHold(placed.tuple(), {"from": hold_notary})
    assert tx.events["HoldReleased"] == {
        "holdId": "0x" + placed.id().hex(),
        "payer": placed.payer,
        "releasedBy": hold_notary,
        "amount": 600 * YUAN,
    }
    assert "Transfer" not in tx.events
    assert yuan.holdStatus(placed.id()) == RELEASED
    assert yuan.balanceOf(placed.payer) == 1_000 * YUAN
    assert yuan.heldBalanceOf(placed.payer) == 0
    assert yuan.spendableBalanceOf(placed.payer) == 1_000 * YUAN
    assert yuan.balanceOf(placed.payee) == 1_000 * YUAN


def test_the_notary_releases_after_expiry_too(yuan, placed, hold_notary):
    next_block_at(placed.expiry + 1)
    yuan.releaseHold(placed.tuple(), {"from": hold_notary})
    assert yuan.holdStatus(placed.id()) == RELEASED


@pytest.mark.parametrize("caller", ["payer", "payee", "stranger"])
def test_nobody_but_the_notary_releases_one_second_before_expiry(yuan, placed, stranger, caller):
    account = {"payer": placed.payer, "payee": placed.payee, "stranger": str(stranger)}[caller]
    next_block_at(placed.expiry - 1)
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldReleaseTooEarly", placed.id(), account, placed.expiry)),
    ):
        yuan.releaseHold(placed.tuple(), {"from": account})


@pytest.mark.parametrize("delta", [0, 1])
def test_anyone_releases_from_expiry_on(yuan, placed, stranger, delta):
    next_block_at(placed.expiry + delta)
    tx = yuan.releaseHold(placed.tuple(), {"from": stranger})
    assert tx.events["HoldReleased"]["releasedBy"] == stranger
    assert yuan.holdStatus(placed.id()) == RELEASED
    assert yuan.spendableBalanceOf(placed.payer) == 1_000 * YUAN


def test_the_payer_releases_its_own_expired_hold(yuan, placed):
    next_block_at(placed.expiry)
    yuan.releaseHold(placed.tuple(), {"from": placed.payer})
    assert yuan.holdStatus(placed.id()) == RELEASED


@pytest.mark.parametrize("field", ["payee", "amount", "expiry"])
def test_releasing_with_a_wrong_field_reverts_as_a_mismatch(
    yuan, placed, hold_notary, stranger, field
):
    wrong = {"payee": str(stranger), "amount": placed.amount - 1, "expiry": placed.expiry + 1}
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldMismatch", placed.id())),
    ):
        yuan.releaseHold(placed.but(**{field: wrong[field]}).tuple(), {"from": hold_notary})


def test_releasing_a_hold_never_placed_reverts(yuan, hold, hold_notary):
    with (
        unchanged(yuan, parties(hold), [hold.id()]),
        brownie.reverts(err("HoldNotFound", hold.id())),
    ):
        yuan.releaseHold(hold.tuple(), {"from": hold_notary})


@pytest.mark.parametrize("ending", ["execute", "release"])
def test_a_closed_hold_cannot_be_released(yuan, placed, hold_notary, ending):
    getattr(yuan, f"{ending}Hold")(placed.tuple(), {"from": hold_notary})
    status = EXECUTED if ending == "execute" else RELEASED
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldNotOpen", placed.id(), status)),
    ):
        yuan.releaseHold(placed.tuple(), {"from": hold_notary})


# --- several holds (C4) ------------------------------------------------------------------------


def test_the_held_total_is_the_sum_of_open_holds(yuan, wallet_a, seller, buyer, hold_notary):
    expiry = now() + 3600
    holds = [
        new_hold(wallet_a, seller, hold_notary, 100 * YUAN, expiry, "h1"),
        new_hold(wallet_a, buyer, hold_notary, 200 * YUAN, expiry, "h2"),
        new_hold(wallet_a, seller, hold_notary, 300 * YUAN, expiry, "h3"),
    ]
    for h in holds:
        place(yuan, h)
    assert yuan.heldBalanceOf(wallet_a) == 600 * YUAN
    yuan.executeHold(holds[0].tuple(), {"from": hold_notary})
    assert yuan.heldBalanceOf(wallet_a) == 500 * YUAN
    yuan.releaseHold(holds[1].tuple(), {"from": hold_notary})
    assert yuan.heldBalanceOf(wallet_a) == 300 * YUAN
    assert yuan.balanceOf(wallet_a) == 99_900 * YUAN
    assert [yuan.holdStatus(h.id()) for h in holds] == [EXECUTED, RELEASED, HELD]


def test_the_offchain_hold_id_matches_the_contract(yuan, buyer, hold_notary):
    r = ref("any trade")
    assert yuan.holdId(buyer, hold_notary, r) == "0x" + hold_id(buyer, hold_notary, r).hex()


def test_a_dirty_payee_word_in_calldata_is_a_mismatch(yuan, placed, hold_notary):
    # The commitment hashes the calldata words in place: a payee address with a bit set
    # above its 160 bits must not pass as the clean address committed at placement.
    data = bytearray(bytes.fromhex(yuan.executeHold.encode_input(placed.tuple())[2:]))
    payee_word = 4 + 32  # selector, then payer, payee, notary, amount, expiry, ref
    data[payee_word] |= 0x01
    with (
        unchanged(yuan, parties(placed), [placed.id()]),
        brownie.reverts(err("HoldMismatch", placed.id())),
    ):
        hold_notary.transfer(yuan, 0, data="0x" + data.hex())
