"""The balance inside the account word (AccountState: balance 64 | held 64 | spent 64 | day
32 | class 8 | frozen | exempt): a credit beyond the 64-bit balance field reverts with
AccountBalanceOverflow and changes nothing; a hold cannot outgrow its field (held <= balance);
the fields of one word never change each other; a transfer to oneself keeps the balance."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    CLASS_I,
    CLASS_III,
    CLASS_IV,
    NO_CAP,
    YUAN,
    err,
    new_hold,
    now,
    place,
    unchanged,
)

MAX_BALANCE = 2**64 - 1  # MAX_ACCOUNT_BALANCE: the balance field's width
MAX_UINT256 = 2**256 - 1


@pytest.fixture
def rich(yuan, central_bank, operator, stranger):
    """A class I account (no balance cap) given the largest balance its field holds."""
    yuan.setMintAllowance(operator, MAX_UINT256, {"from": central_bank})
    yuan.setWalletClass(stranger, CLASS_I, {"from": operator})
    yuan.issue(stranger, MAX_BALANCE, {"from": operator})
    return stranger


def word(yuan, account):
    """Every field of `account`'s word, as its views show them."""
    return (
        yuan.balanceOf(account),
        yuan.heldBalanceOf(account),
        yuan.spendableBalanceOf(account),
        yuan.spentToday(account),
        yuan.walletClassOf(account),
        yuan.isFrozen(account),
        yuan.isCapExempt(account),
    )


def test_the_balance_field_holds_64_bits_and_the_supply_more(yuan, rich):
    assert yuan.MAX_ACCOUNT_BALANCE() == MAX_BALANCE
    assert word(yuan, rich) == (MAX_BALANCE, 0, MAX_BALANCE, 0, CLASS_I, False, False)
    # The supply is not bound by one account's field: it is the sum over all of them
    # (the fixture's six wallets hold 208,000 yuan).
    assert yuan.totalSupply() == 208_000 * YUAN + MAX_BALANCE


def test_issuing_one_fen_past_the_field_reverts(yuan, rich, operator):
    with (
        unchanged(yuan, [rich]),
        brownie.reverts(err("AccountBalanceOverflow", rich, MAX_BALANCE, 1)),
    ):
        yuan.issue(rich, 1, {"from": operator})


def test_issuing_more_than_the_field_to_an_empty_account_reverts(
    yuan, central_bank, operator, seller, wallet_b
):
    yuan.setMintAllowance(operator, MAX_UINT256, {"from": central_bank})
    empty = wallet_b
    yuan.transfer(seller, yuan.balanceOf(empty), {"from": empty})
    assert yuan.balanceOf(empty) == 0
    with (
        unchanged(yuan, [empty]),
        brownie.reverts(err("AccountBalanceOverflow", empty, 0, 2**64)),
    ):
        yuan.issue(empty, 2**64, {"from": operator})


def test_issuing_past_the_supply_reverts_with_openzeppelins_overflow_check(
    yuan, rich, central_bank, operator
):
    yuan.setMintAllowance(operator, MAX_UINT256, {"from": central_bank})
    # The supply (uint256) overflows before the account's field is looked at, as in
    # OpenZeppelin's ERC20: a panic, nothing changed.
    with unchanged(yuan, [rich]), brownie.reverts("Integer overflow"):
        yuan.issue(rich, MAX_UINT256, {"from": operator})


def test_a_transfer_past_the_receivers_field_reverts(yuan, rich, buyer):
    with (
        unchanged(yuan, [rich, buyer]),
        brownie.reverts(err("AccountBalanceOverflow", rich, MAX_BALANCE, 1)),
    ):
        yuan.transfer(rich, 1, {"from": buyer})


def test_a_transfer_from_past_the_receivers_field_reverts(yuan, rich, buyer, seller):
    yuan.approve(seller, 5 * YUAN, {"from": buyer})
    with (
        unchanged(yuan, [rich, buyer, seller], allowances=[(buyer, seller)]),
        brownie.reverts(err("AccountBalanceOverflow", rich, MAX_BALANCE, 5 * YUAN)),
    ):
        yuan.transferFrom(buyer, rich, 5 * YUAN, {"from": seller})


def test_an_account_filled_to_the_field_can_still_send(yuan, rich, buyer):
    room = MAX_BALANCE - 100_000 * YUAN  # fills the buyer's field to the last fen
    tx = yuan.transfer(buyer, room, {"from": rich})
    assert tx.events["Transfer"] == {"from": rich, "to": buyer, "value": room}
    assert word(yuan, rich) == (100_000 * YUAN, 0, 100_000 * YUAN, 0, CLASS_I, False, False)
    assert word(yuan, buyer) == (MAX_BALANCE, 0, MAX_BALANCE, 0, CLASS_I, False, False)


def test_a_hold_of_the_whole_field_fills_the_held_field_and_executes(
    yuan, rich, buyer, seller, hold_notary
):
    yuan.transfer(buyer, 1_000 * YUAN, {"from": seller})  # the payee has room for it all
    hold = new_hold(rich, seller, hold_notary, MAX_BALANCE, now() + 3600)
    place(yuan, hold)
    assert word(yuan, rich) == (MAX_BALANCE, MAX_BALANCE, 0, 0, CLASS_I, False, False)

    yuan.executeHold(hold.tuple(), {"from": hold_notary})
    assert word(yuan, rich) == (0, 0, 0, 0, CLASS_I, False, False)
    assert yuan.balanceOf(seller) == MAX_BALANCE


def test_a_hold_larger_than_the_field_is_refused_by_the_spendable_check(
    yuan, rich, seller, hold_notary
):
    # held <= balance <= MAX_BALANCE: no hold can make the held field overflow.
    hold = new_hold(rich, seller, hold_notary, MAX_BALANCE + 1, now() + 3600)
    with (
        unchanged(yuan, [rich, seller], [hold.id()]),
        brownie.reverts(err("InsufficientSpendableBalance", rich, MAX_BALANCE, MAX_BALANCE + 1)),
    ):
        place(yuan, hold)


def test_executing_a_hold_into_a_full_account_reverts_and_the_hold_stays_open(
    yuan, rich, buyer, hold_notary
):
    # A class I payee has no balance cap to check at placement; its field is full by the
    # time the hold is executed.
    hold = new_hold(buyer, rich, hold_notary, 3 * YUAN, now() + 3600)
    place(yuan, hold)
    with (
        unchanged(yuan, [rich, buyer], [hold.id()]),
        brownie.reverts(err("AccountBalanceOverflow", rich, MAX_BALANCE, 3 * YUAN)),
    ):
        yuan.executeHold(hold.tuple(), {"from": hold_notary})
    yuan.releaseHold(hold.tuple(), {"from": hold_notary})
    assert yuan.heldBalanceOf(buyer) == 0


def test_a_capped_accounts_fields_reach_their_widths_without_touching_each_other(
    yuan, central_bank, operator, compliance_officer, stranger, wallet_b, seller, hold_notary
):
    # Class IV without caps: the day's spending is tracked over the whole 64-bit field.
    yuan.setTierCaps(CLASS_IV, NO_CAP, NO_CAP, NO_CAP, {"from": central_bank})
    yuan.setMintAllowance(operator, MAX_UINT256, {"from": central_bank})
    payer = stranger
    yuan.issue(payer, MAX_BALANCE, {"from": operator})
    assert word(yuan, payer) == (MAX_BALANCE, 0, MAX_BALANCE, 0, CLASS_IV, False, False)

    yuan.transfer(wallet_b, MAX_BALANCE - 3 - yuan.balanceOf(wallet_b), {"from": payer})
    spent = MAX_BALANCE - 3 - 1_000 * YUAN
    balance = MAX_BALANCE - spent
    assert word(yuan, payer) == (balance, 0, balance, spent, CLASS_IV, False, False)

    hold = new_hold(payer, seller, hold_notary, balance - 1, now() + 3600)
    place(yuan, hold)
    spent += balance - 1
    assert word(yuan, payer) == (balance, balance - 1, 1, spent, CLASS_IV, False, False)

    yuan.freeze(payer, {"from": compliance_officer})
    yuan.setCapExemption(payer, True, {"from": central_bank})
    yuan.setWalletClass(payer, CLASS_III, {"from": operator})
    assert word(yuan, payer) == (balance, balance - 1, 1, spent, CLASS_III, True, True)

    yuan.unfreeze(payer, {"from": compliance_officer})
    yuan.setCapExemption(payer, False, {"from": central_bank})
    yuan.setWalletClass(payer, CLASS_IV, {"from": operator})
    assert word(yuan, payer) == (balance, balance - 1, 1, spent, CLASS_IV, False, False)

    # The day's spending reaches the top of its field; then one more fen is over the cap.
    yuan.transfer(seller, 1, {"from": payer})
    spent += 1
    assert spent == NO_CAP
    assert word(yuan, payer) == (balance - 1, balance - 1, 0, NO_CAP, CLASS_IV, False, False)
    yuan.releaseHold(hold.tuple(), {"from": hold_notary})
    assert word(yuan, payer) == (balance - 1, 0, balance - 1, NO_CAP, CLASS_IV, False, False)
    with (
        unchanged(yuan, [payer, seller]),
        brownie.reverts(err("DailyCapExceeded", payer, NO_CAP, NO_CAP, 1)),
    ):
        yuan.transfer(seller, 1, {"from": payer})


def test_a_transfer_to_oneself_keeps_the_balance(yuan, buyer):
    tx = yuan.transfer(buyer, 40 * YUAN, {"from": buyer})
    assert tx.events["Transfer"] == {"from": buyer, "to": buyer, "value": 40 * YUAN}
    assert word(yuan, buyer) == (100_000 * YUAN, 0, 100_000 * YUAN, 0, CLASS_I, False, False)


def test_a_capped_transfer_to_oneself_keeps_the_balance_and_counts_as_spent(yuan, capped_a):
    yuan.transfer(capped_a, 40 * YUAN, {"from": capped_a})
    assert word(yuan, capped_a) == (
        5_000 * YUAN,
        0,
        5_000 * YUAN,
        40 * YUAN,
        CLASS_IV,
        False,
        False,
    )


def test_a_transfer_to_oneself_over_the_balance_reverts(yuan, buyer):
    with (
        unchanged(yuan, [buyer]),
        brownie.reverts(err("ERC20InsufficientBalance", buyer, 100_000 * YUAN, 100_000 * YUAN + 1)),
    ):
        yuan.transfer(buyer, 100_000 * YUAN + 1, {"from": buyer})


def test_a_transfer_to_oneself_of_held_funds_reverts(yuan, buyer, seller, hold_notary):
    place(yuan, new_hold(buyer, seller, hold_notary, 99_990 * YUAN, now() + 3600))
    with (
        unchanged(yuan, [buyer]),
        brownie.reverts(err("InsufficientSpendableBalance", buyer, 10 * YUAN, 11 * YUAN)),
    ):
        yuan.transfer(buyer, 11 * YUAN, {"from": buyer})
