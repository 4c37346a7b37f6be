"""Wallet classes and their caps: configuration, what counts against which cap, and the
boundaries (at a cap, one fen over, across the UTC+8 calendar day)."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    CLASS_I,
    CLASS_II,
    CLASS_III,
    CLASS_IV,
    CST,
    DAY,
    DEFAULT_ADMIN_ROLE,
    DEFAULT_CAPS,
    OPERATOR_ROLE,
    YUAN,
    ZERO_ADDRESS,
    err,
    ints,
    new_hold,
    next_block_at,
    next_local_midnight,
    now,
    unchanged,
)

CAPPED_CLASSES = [CLASS_IV, CLASS_III, CLASS_II]


@pytest.fixture
def payer_in_class(yuan, operator, stranger):
    """`stranger` put in a wallet class and given its daily cap plus one yuan to spend."""

    def make(wallet_class):
        yuan.setWalletClass(stranger, wallet_class, {"from": operator})
        _, _, daily = DEFAULT_CAPS[wallet_class]
        yuan.issue(stranger, daily + YUAN, {"from": operator})
        return stranger

    return make


# --- configuration -----------------------------------------------------------------------------


def test_admin_sets_the_caps_of_a_class(yuan, central_bank):
    tx = yuan.setTierCaps(
        CLASS_III, 30_000 * YUAN, 6_000 * YUAN, 12_000 * YUAN, {"from": central_bank}
    )
    assert tx.events["TierCapsSet"] == {
        "walletClass": CLASS_III,
        "balanceCap": 30_000 * YUAN,
        "paymentCap": 6_000 * YUAN,
        "dailyCap": 12_000 * YUAN,
    }
    assert ints(yuan.tierCaps(CLASS_III)) == (30_000 * YUAN, 6_000 * YUAN, 12_000 * YUAN)


def test_class_i_caps_cannot_be_set(yuan, central_bank):
    with unchanged(yuan), brownie.reverts(err("TierCapsNotConfigurable", CLASS_I)):
        yuan.setTierCaps(CLASS_I, 1, 1, 1, {"from": central_bank})


def test_only_the_admin_sets_caps(yuan, operator):
    with (
        unchanged(yuan),
        brownie.reverts(err("AccessControlUnauthorizedAccount", operator, DEFAULT_ADMIN_ROLE)),
    ):
        yuan.setTierCaps(CLASS_IV, 1, 1, 1, {"from": operator})


def test_an_operator_assigns_a_wallet_class(yuan, operator, stranger):
    tx = yuan.setWalletClass(stranger, CLASS_II, {"from": operator})
    assert tx.events["WalletClassSet"] == {
        "account": stranger,
        "previous": CLASS_IV,
        "walletClass": CLASS_II,
        "operator": operator,
    }
    assert yuan.walletClassOf(stranger) == CLASS_II
    assert yuan.isCapped(stranger)


def test_class_i_wallets_are_not_capped(yuan, operator, stranger):
    yuan.setWalletClass(stranger, CLASS_I, {"from": operator})
    assert not yuan.isCapped(stranger)


def test_only_operators_assign_wallet_classes(yuan, stranger):
    with (
        unchanged(yuan, [stranger]),
        brownie.reverts(err("AccessControlUnauthorizedAccount", stranger, OPERATOR_ROLE)),
    ):
        yuan.setWalletClass(stranger, CLASS_I, {"from": stranger})
    assert yuan.walletClassOf(stranger) == CLASS_IV


def test_the_zero_address_gets_no_wallet_class(yuan, operator):
    with unchanged(yuan), brownie.reverts(err("WalletAccountInvalid", ZERO_ADDRESS)):
        yuan.setWalletClass(ZERO_ADDRESS, CLASS_I, {"from": operator})


def test_admin_exempts_a_system_contract_from_caps(yuan, central_bank, stranger):
    tx = yuan.setCapExemption(stranger, True, {"from": central_bank})
    assert tx.events["CapExemptionSet"] == {"account": stranger, "exempt": True}
    assert yuan.isCapExempt(stranger)
    assert not yuan.isCapped(stranger)


def test_admin_lifts_an_exemption(yuan, central_bank, stranger):
    yuan.setCapExemption(stranger, True, {"from": central_bank})
    tx = yuan.setCapExemption(stranger, False, {"from": central_bank})
    assert tx.events["CapExemptionSet"] == {"account": stranger, "exempt": False}
    assert yuan.isCapped(stranger)


def test_only_the_admin_exempts(yuan, operator, stranger):
    with (
        unchanged(yuan),
        brownie.reverts(err("AccessControlUnauthorizedAccount", operator, DEFAULT_ADMIN_ROLE)),
    ):
        yuan.setCapExemption(stranger, True, {"from": operator})


def test_the_zero_address_cannot_be_exempted(yuan, central_bank):
    with unchanged(yuan), brownie.reverts(err("WalletAccountInvalid", ZERO_ADDRESS)):
        yuan.setCapExemption(ZERO_ADDRESS, True, {"from": central_bank})


@pytest.mark.parametrize("offset", [-14 * 3600, 0, 14 * 3600])
def test_admin_sets_the_day_offset_within_14_hours(yuan, central_bank, offset):
    tx = yuan.setDayOffset(offset, {"from": central_bank})
    assert tx.events["DayOffsetSet"] == {"previous": CST, "offset": offset}
    assert yuan.dayOffset() == offset


@pytest.mark.parametrize("offset", [-14 * 3600 - 1, 14 * 3600 + 1])
def test_a_day_offset_beyond_14_hours_reverts(yuan, central_bank, offset):
    with unchanged(yuan), brownie.reverts(err("DayOffsetOutOfRange", offset)):
        yuan.setDayOffset(offset, {"from": central_bank})


def test_only_the_admin_sets_the_day_offset(yuan, stranger):
    with (
        unchanged(yuan),
        brownie.reverts(err("AccessControlUnauthorizedAccount", stranger, DEFAULT_ADMIN_ROLE)),
    ):
        yuan.setDayOffset(0, {"from": stranger})


# --- per-payment cap ---------------------------------------------------------------------------


@pytest.mark.parametrize("wallet_class", CAPPED_CLASSES)
def test_a_payment_at_the_per_payment_cap_succeeds(yuan, payer_in_class, buyer, wallet_class):
    payer = payer_in_class(wallet_class)
    _, payment_cap, _ = DEFAULT_CAPS[wallet_class]
    tx = yuan.transfer(buyer, payment_cap, {"from": payer})
    assert tx.events["Transfer"]["value"] == payment_cap
    assert yuan.spentToday(payer) == payment_cap


@pytest.mark.parametrize("wallet_class", CAPPED_CLASSES)
def test_a_payment_one_fen_over_the_per_payment_cap_reverts(
    yuan, payer_in_class, buyer, wallet_class
):
    payer = payer_in_class(wallet_class)
    _, payment_cap, _ = DEFAULT_CAPS[wallet_class]
    with (
        unchanged(yuan, [payer, buyer]),
        brownie.reverts(err("PaymentCapExceeded", payer, payment_cap, payment_cap + 1)),
    ):
        yuan.transfer(buyer, payment_cap + 1, {"from": payer})
    assert yuan.spentToday(payer) == 0


# --- daily cap ---------------------------------------------------------------------------------


def pay_up_to(token, payer, payee, total, payment_cap):
    while total:
        amount = min(total, payment_cap)
        token.transfer(payee, amount, {"from": payer})
        total -= amount


@pytest.mark.parametrize("wallet_class", CAPPED_CLASSES)
def test_payments_up_to_the_daily_cap_succeed(yuan, payer_in_class, buyer, wallet_class):
    payer = payer_in_class(wallet_class)
    _, payment_cap, daily_cap = DEFAULT_CAPS[wallet_class]
    pay_up_to(yuan, payer, buyer, daily_cap, payment_cap)
    assert yuan.spentToday(payer) == daily_cap
    assert yuan.balanceOf(payer) == YUAN


@pytest.mark.parametrize("wallet_class", CAPPED_CLASSES)
def test_one_fen_past_the_daily_cap_reverts(yuan, payer_in_class, buyer, wallet_class):
    payer = payer_in_class(wallet_class)
    _, payment_cap, daily_cap = DEFAULT_CAPS[wallet_class]
    pay_up_to(yuan, payer, buyer, daily_cap, payment_cap)
    with (
        unchanged(yuan, [payer, buyer]),
        brownie.reverts(err("DailyCapExceeded", payer, daily_cap, daily_cap, 1)),
    ):
        yuan.transfer(buyer, 1, {"from": payer})


def spend_class_iv_daily_cap_at(token, operator, payer, payee, start):
    """Pay 5,000 yuan (the class IV daily cap) in blocks at start, start+1, start+2."""
    token.issue(payer, 1_000 * YUAN, {"from": operator})  # 6,000 yuan: one left after the cap
    for i, amount in enumerate((2_000, 2_000, 1_000)):
        next_block_at(start + i)
        token.transfer(payee, amount * YUAN, {"from": payer})


def test_the_daily_cap_holds_until_the_last_second_of_the_local_day(
    yuan, operator, capped_a, buyer
):
    midnight = next_local_midnight(now() + 10)
    spend_class_iv_daily_cap_at(yuan, operator, capped_a, buyer, midnight - 10)
    next_block_at(midnight - 1)
    with (
        unchanged(yuan, [capped_a, buyer]),
        brownie.reverts(err("DailyCapExceeded", capped_a, 5_000 * YUAN, 5_000 * YUAN, 1)),
    ):
        yuan.transfer(buyer, 1, {"from": capped_a})


def test_the_daily_cap_resets_at_local_midnight_utc_plus_8(yuan, operator, capped_a, buyer):
    midnight = next_local_midnight(now() + 10)
    spend_class_iv_daily_cap_at(yuan, operator, capped_a, buyer, midnight - 10)
    next_block_at(midnight)
    yuan.transfer(buyer, 1, {"from": capped_a})
    assert yuan.spentToday(capped_a) == 1
    assert yuan.currentDay() == (midnight + CST) // DAY


def test_the_daily_cap_does_not_reset_at_utc_midnight(yuan, operator, capped_a, buyer):
    utc_midnight = next_local_midnight(now() + 10, offset=0)  # 08:00 in China
    spend_class_iv_daily_cap_at(yuan, operator, capped_a, buyer, utc_midnight - 10)
    next_block_at(utc_midnight + 1)
    with (
        unchanged(yuan, [capped_a, buyer]),
        brownie.reverts(err("DailyCapExceeded", capped_a, 5_000 * YUAN, 5_000 * YUAN, 1)),
    ):
        yuan.transfer(buyer, 1, {"from": capped_a})


def test_with_a_utc_day_offset_the_cap_resets_at_utc_midnight(
    yuan, central_bank, operator, capped_a, buyer
):
    yuan.setDayOffset(0, {"from": central_bank})
    utc_midnight = next_local_midnight(now() + 10, offset=0)
    spend_class_iv_daily_cap_at(yuan, operator, capped_a, buyer, utc_midnight - 10)
    next_block_at(utc_midnight)
    yuan.transfer(buyer, 1, {"from": capped_a})
    assert yuan.spentToday(capped_a) == 1


def test_a_new_wallet_class_keeps_the_days_spending(yuan, operator, capped_a, buyer):
    yuan.transfer(buyer, 2_000 * YUAN, {"from": capped_a})
    yuan.setWalletClass(capped_a, CLASS_III, {"from": operator})
    assert yuan.spentToday(capped_a) == 2_000 * YUAN
    yuan.transfer(buyer, 3_000 * YUAN, {"from": capped_a})  # class III allows 5,000 a payment
    assert yuan.spentToday(capped_a) == 5_000 * YUAN


# --- balance cap -------------------------------------------------------------------------------


@pytest.mark.parametrize("wallet_class", CAPPED_CLASSES)
def test_receiving_up_to_the_balance_cap_succeeds(yuan, operator, buyer, stranger, wallet_class):
    yuan.setWalletClass(stranger, wallet_class, {"from": operator})
    balance_cap, _, _ = DEFAULT_CAPS[wallet_class]
    yuan.issue(buyer, balance_cap, {"from": operator})
    yuan.transfer(stranger, balance_cap, {"from": buyer})
    assert yuan.balanceOf(stranger) == balance_cap


@pytest.mark.parametrize("wallet_class", CAPPED_CLASSES)
def test_receiving_one_fen_over_the_balance_cap_reverts(
    yuan, operator, buyer, stranger, wallet_class
):
    yuan.setWalletClass(stranger, wallet_class, {"from": operator})
    balance_cap, _, _ = DEFAULT_CAPS[wallet_class]
    yuan.issue(buyer, balance_cap, {"from": operator})
    yuan.transfer(stranger, balance_cap - 1, {"from": buyer})
    with (
        unchanged(yuan, [buyer, stranger]),
        brownie.reverts(err("BalanceCapExceeded", stranger, balance_cap, balance_cap - 1, 2)),
    ):
        yuan.transfer(stranger, 2, {"from": buyer})


def test_transfer_from_charges_the_owner_not_the_spender(yuan, capped_a, buyer, stranger):
    yuan.approve(stranger, 4_000 * YUAN, {"from": capped_a})
    yuan.transferFrom(capped_a, buyer, 1_500 * YUAN, {"from": stranger})
    assert yuan.spentToday(capped_a) == 1_500 * YUAN
    assert yuan.spentToday(stranger) == 0
    with (
        unchanged(yuan, [capped_a, buyer], allowances=[(capped_a, stranger)]),
        brownie.reverts(err("PaymentCapExceeded", capped_a, 2_000 * YUAN, 2_000 * YUAN + 1)),
    ):
        yuan.transferFrom(capped_a, buyer, 2_000 * YUAN + 1, {"from": stranger})


# --- uncapped wallets --------------------------------------------------------------------------


def test_class_i_wallets_pay_and_receive_without_caps(yuan, buyer, wallet_a):
    yuan.transfer(wallet_a, 90_000 * YUAN, {"from": buyer})  # over every class II cap
    assert yuan.balanceOf(wallet_a) == 190_000 * YUAN
    assert yuan.spentToday(buyer) == 0


def test_an_exempt_account_receives_and_pays_over_its_class_caps(
    yuan, central_bank, buyer, stranger
):
    yuan.setCapExemption(stranger, True, {"from": central_bank})
    yuan.transfer(stranger, 20_000 * YUAN, {"from": buyer})  # over the class IV balance cap
    yuan.transfer(buyer, 6_000 * YUAN, {"from": stranger})  # over its payment and daily caps
    assert yuan.balanceOf(stranger) == 14_000 * YUAN
    assert yuan.spentToday(stranger) == 0


# --- holds are payments --------------------------------------------------------------------------


def test_placing_a_hold_charges_the_payers_daily_spending(yuan, capped_a, buyer, hold_notary):
    hold = new_hold(capped_a, buyer, hold_notary, 1_500 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, buyer, hold_notary, hold.amount, hold.expiry, {"from": capped_a})
    assert yuan.spentToday(capped_a) == 1_500 * YUAN


def test_a_hold_over_the_per_payment_cap_reverts(yuan, capped_a, buyer, hold_notary):
    hold = new_hold(capped_a, buyer, hold_notary, 2_000 * YUAN + 1, now() + 3600)
    with (
        unchanged(yuan, [capped_a, buyer], [hold.id()]),
        brownie.reverts(err("PaymentCapExceeded", capped_a, 2_000 * YUAN, 2_000 * YUAN + 1)),
    ):
        yuan.placeHold(hold.ref, buyer, hold_notary, hold.amount, hold.expiry, {"from": capped_a})


def test_a_hold_past_the_daily_cap_reverts(yuan, operator, capped_a, buyer, hold_notary):
    yuan.issue(capped_a, 1_000 * YUAN, {"from": operator})
    pay_up_to(yuan, capped_a, buyer, 4_000 * YUAN, 2_000 * YUAN)
    hold = new_hold(capped_a, buyer, hold_notary, 1_000 * YUAN + 1, now() + 3600)
    with (
        unchanged(yuan, [capped_a, buyer], [hold.id()]),
        brownie.reverts(
            err("DailyCapExceeded", capped_a, 5_000 * YUAN, 4_000 * YUAN, 1_000 * YUAN + 1)
        ),
    ):
        yuan.placeHold(hold.ref, buyer, hold_notary, hold.amount, hold.expiry, {"from": capped_a})


def test_a_hold_that_would_lift_the_payee_over_its_balance_cap_reverts(
    yuan, buyer, capped_b, hold_notary
):
    hold = new_hold(buyer, capped_b, hold_notary, 9_000 * YUAN + 1, now() + 3600)
    with (
        unchanged(yuan, [buyer, capped_b], [hold.id()]),
        brownie.reverts(
            err("BalanceCapExceeded", capped_b, 10_000 * YUAN, 1_000 * YUAN, 9_000 * YUAN + 1)
        ),
    ):
        yuan.placeHold(hold.ref, capped_b, hold_notary, hold.amount, hold.expiry, {"from": buyer})


def test_executing_a_hold_charges_no_cap_again(yuan, capped_a, buyer, hold_notary):
    hold = new_hold(capped_a, buyer, hold_notary, 2_000 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, buyer, hold_notary, hold.amount, hold.expiry, {"from": capped_a})
    yuan.executeHold(hold.tuple(), {"from": hold_notary})
    assert yuan.spentToday(capped_a) == 2_000 * YUAN


def test_a_hold_executes_after_the_payer_used_up_its_daily_cap(yuan, capped_a, buyer, hold_notary):
    hold = new_hold(capped_a, buyer, hold_notary, 2_000 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, buyer, hold_notary, hold.amount, hold.expiry, {"from": capped_a})
    yuan.transfer(buyer, 2_000 * YUAN, {"from": capped_a})
    yuan.transfer(buyer, 1_000 * YUAN, {"from": capped_a})  # 5,000 today: the cap
    yuan.executeHold(hold.tuple(), {"from": hold_notary})
    assert yuan.balanceOf(capped_a) == 0


def test_a_hold_executes_even_if_the_payee_reached_its_balance_cap_meanwhile(
    yuan, buyer, capped_b, hold_notary
):
    hold = new_hold(buyer, capped_b, hold_notary, 5_000 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, capped_b, hold_notary, hold.amount, hold.expiry, {"from": buyer})
    yuan.transfer(capped_b, 4_500 * YUAN, {"from": buyer})  # capped_b now holds 5,500
    yuan.executeHold(hold.tuple(), {"from": hold_notary})
    # Checked at placement, not again: the cap is a check on each payment when it is made.
    assert yuan.balanceOf(capped_b) == 10_500 * YUAN


def test_releasing_a_hold_gives_no_daily_spending_back(yuan, capped_a, buyer, hold_notary):
    hold = new_hold(capped_a, buyer, hold_notary, 2_000 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, buyer, hold_notary, hold.amount, hold.expiry, {"from": capped_a})
    yuan.releaseHold(hold.tuple(), {"from": hold_notary})
    assert yuan.spentToday(capped_a) == 2_000 * YUAN
