"""Two-tier issuance: the central bank sets operators' mint allowances; operators issue to
wallets within them and redeem what wallets ask for (C1: supply = sum of balances)."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    DEFAULT_ADMIN_ROLE,
    OPERATOR_ALLOWANCE,
    OPERATOR_ROLE,
    YUAN,
    ZERO_ADDRESS,
    err,
    new_hold,
    now,
    unchanged,
)


@pytest.fixture
def everyone(buyer, seller, wallet_a, wallet_b, capped_a, capped_b, operator, stranger):
    return [buyer, seller, wallet_a, wallet_b, capped_a, capped_b, operator, stranger]


def assert_supply_is_sum_of_balances(token, holders):
    """C1, over every account the fixtures ever gave money to."""
    assert token.totalSupply() == sum(token.balanceOf(h) for h in holders)


# --- mint allowances ---------------------------------------------------------------------------


def test_admin_sets_an_operators_mint_allowance(yuan, central_bank, operator):
    previous = yuan.mintAllowance(operator)
    tx = yuan.setMintAllowance(operator, 5 * YUAN, {"from": central_bank})
    assert tx.events["MintAllowanceSet"] == {
        "operator": operator,
        "previous": previous,
        "allowance": 5 * YUAN,
    }
    assert yuan.mintAllowance(operator) == 5 * YUAN


def test_only_the_admin_sets_mint_allowances(yuan, operator, stranger):
    with (
        unchanged(yuan, [operator]),
        brownie.reverts(err("AccessControlUnauthorizedAccount", stranger, DEFAULT_ADMIN_ROLE)),
    ):
        yuan.setMintAllowance(operator, 1, {"from": stranger})
    # The fixture issued 208,000 yuan of the allowance.
    assert yuan.mintAllowance(operator) == OPERATOR_ALLOWANCE - 208_000 * YUAN


def test_a_non_operator_cannot_get_a_mint_allowance(yuan, central_bank, stranger):
    with unchanged(yuan), brownie.reverts(err("IssuanceNotAnOperator", stranger)):
        yuan.setMintAllowance(stranger, 1, {"from": central_bank})
    assert yuan.mintAllowance(stranger) == 0


def test_a_new_operator_starts_with_no_allowance(yuan, central_bank, stranger, buyer):
    tx = yuan.grantRole(OPERATOR_ROLE, stranger, {"from": central_bank})
    assert tx.events["RoleGranted"] == {
        "role": "0x" + OPERATOR_ROLE.hex(),
        "account": stranger,
        "sender": central_bank,
    }
    assert yuan.mintAllowance(stranger) == 0
    with unchanged(yuan, [buyer]), brownie.reverts(err("MintAllowanceExceeded", stranger, 0, 1)):
        yuan.issue(buyer, 1, {"from": stranger})


def test_removing_an_operator_zeroes_its_allowance(yuan, central_bank, operator):
    left = yuan.mintAllowance(operator)
    tx = yuan.revokeRole(OPERATOR_ROLE, operator, {"from": central_bank})
    assert tx.events["RoleRevoked"]["account"] == operator
    assert tx.events["MintAllowanceSet"] == {"operator": operator, "previous": left, "allowance": 0}
    assert yuan.mintAllowance(operator) == 0
    assert not yuan.hasRole(OPERATOR_ROLE, operator)


def test_an_operator_renouncing_loses_its_allowance(yuan, operator):
    tx = yuan.renounceRole(OPERATOR_ROLE, operator, {"from": operator})
    assert tx.events["MintAllowanceSet"]["allowance"] == 0
    assert yuan.mintAllowance(operator) == 0


def test_a_removed_operator_can_no_longer_issue(yuan, central_bank, operator, buyer):
    yuan.revokeRole(OPERATOR_ROLE, operator, {"from": central_bank})
    with (
        unchanged(yuan, [buyer]),
        brownie.reverts(err("AccessControlUnauthorizedAccount", operator, OPERATOR_ROLE)),
    ):
        yuan.issue(buyer, 1, {"from": operator})


# --- issue -------------------------------------------------------------------------------------


def test_an_operator_issues_to_a_wallet(yuan, operator, buyer, everyone):
    supply, balance, allowance = (
        yuan.totalSupply(),
        yuan.balanceOf(buyer),
        yuan.mintAllowance(operator),
    )
    tx = yuan.issue(buyer, 250 * YUAN, {"from": operator})
    assert tx.events["Transfer"] == {"from": ZERO_ADDRESS, "to": buyer, "value": 250 * YUAN}
    assert tx.events["Issued"] == {
        "operator": operator,
        "to": buyer,
        "amount": 250 * YUAN,
        "allowanceLeft": allowance - 250 * YUAN,
    }
    assert yuan.balanceOf(buyer) == balance + 250 * YUAN
    assert yuan.totalSupply() == supply + 250 * YUAN
    assert yuan.mintAllowance(operator) == allowance - 250 * YUAN
    assert_supply_is_sum_of_balances(yuan, everyone)


def test_an_operator_may_issue_its_whole_allowance(yuan, central_bank, operator, buyer):
    yuan.setMintAllowance(operator, 7 * YUAN, {"from": central_bank})
    yuan.issue(buyer, 7 * YUAN, {"from": operator})
    assert yuan.mintAllowance(operator) == 0


def test_issuing_one_fen_over_the_allowance_reverts(yuan, central_bank, operator, buyer):
    yuan.setMintAllowance(operator, 7 * YUAN, {"from": central_bank})
    with (
        unchanged(yuan, [buyer]),
        brownie.reverts(err("MintAllowanceExceeded", operator, 7 * YUAN, 7 * YUAN + 1)),
    ):
        yuan.issue(buyer, 7 * YUAN + 1, {"from": operator})
    assert yuan.mintAllowance(operator) == 7 * YUAN


def test_issuing_nothing_reverts(yuan, operator, buyer):
    with unchanged(yuan, [buyer]), brownie.reverts(err("IssuanceAmountZero")):
        yuan.issue(buyer, 0, {"from": operator})


def test_only_operators_issue(yuan, stranger):
    with (
        unchanged(yuan, [stranger]),
        brownie.reverts(err("AccessControlUnauthorizedAccount", stranger, OPERATOR_ROLE)),
    ):
        yuan.issue(stranger, 1, {"from": stranger})


def test_issuing_to_the_zero_address_reverts(yuan, operator):
    with unchanged(yuan), brownie.reverts(err("ERC20InvalidReceiver", ZERO_ADDRESS)):
        yuan.issue(ZERO_ADDRESS, 1, {"from": operator})


def test_issuing_up_to_a_class_iv_balance_cap_succeeds(yuan, operator, capped_b):
    yuan.issue(capped_b, 9_000 * YUAN, {"from": operator})
    assert yuan.balanceOf(capped_b) == 10_000 * YUAN


def test_issuing_one_fen_over_the_balance_cap_reverts(yuan, operator, capped_b):
    with (
        unchanged(yuan, [capped_b]),
        brownie.reverts(
            err("BalanceCapExceeded", capped_b, 10_000 * YUAN, 1_000 * YUAN, 9_000 * YUAN + 1)
        ),
    ):
        yuan.issue(capped_b, 9_000 * YUAN + 1, {"from": operator})


def test_issuance_does_not_count_against_the_daily_cap(yuan, operator, capped_b):
    yuan.issue(capped_b, 9_000 * YUAN, {"from": operator})  # over the 2,000 / 5,000 payment caps
    assert yuan.spentToday(capped_b) == 0


def test_issuing_to_a_frozen_wallet_reverts(yuan, operator, compliance_officer, buyer):
    yuan.freeze(buyer, {"from": compliance_officer})
    with unchanged(yuan, [buyer]), brownie.reverts(err("AccountIsFrozen", buyer)):
        yuan.issue(buyer, 1, {"from": operator})


def test_issuing_while_paused_reverts(yuan, operator, pauser, buyer):
    yuan.pause({"from": pauser})
    with unchanged(yuan, [buyer]), brownie.reverts(err("EnforcedPause")):
        yuan.issue(buyer, 1, {"from": operator})


# --- redeem ------------------------------------------------------------------------------------


def test_an_operator_redeems_what_a_wallet_approved(yuan, operator, buyer, everyone):
    yuan.approve(operator, 300 * YUAN, {"from": buyer})
    supply, balance, allowance = (
        yuan.totalSupply(),
        yuan.balanceOf(buyer),
        yuan.mintAllowance(operator),
    )
    tx = yuan.redeem(buyer, 200 * YUAN, {"from": operator})
    assert tx.events["Transfer"] == {"from": buyer, "to": ZERO_ADDRESS, "value": 200 * YUAN}
    assert tx.events["Redeemed"] == {"operator": operator, "from": buyer, "amount": 200 * YUAN}
    assert yuan.balanceOf(buyer) == balance - 200 * YUAN
    assert yuan.totalSupply() == supply - 200 * YUAN
    assert yuan.allowance(buyer, operator) == 100 * YUAN
    assert yuan.mintAllowance(operator) == allowance  # redemption does not restore it
    assert_supply_is_sum_of_balances(yuan, everyone)


def test_redeeming_without_the_wallets_approval_reverts(yuan, operator, buyer):
    with (
        unchanged(yuan, [buyer], allowances=[(buyer, operator)]),
        brownie.reverts(err("ERC20InsufficientAllowance", operator, 0, 1)),
    ):
        yuan.redeem(buyer, 1, {"from": operator})


def test_redeeming_more_than_approved_reverts(yuan, operator, buyer):
    yuan.approve(operator, 5, {"from": buyer})
    with (
        unchanged(yuan, [buyer], allowances=[(buyer, operator)]),
        brownie.reverts(err("ERC20InsufficientAllowance", operator, 5, 6)),
    ):
        yuan.redeem(buyer, 6, {"from": operator})


def test_held_funds_cannot_be_redeemed(yuan, operator, seller, hold_notary, wallet_b):
    hold = new_hold(wallet_b, seller, hold_notary, 600 * YUAN, now() + 3600)
    yuan.placeHold(hold.ref, seller, hold_notary, hold.amount, hold.expiry, {"from": wallet_b})
    yuan.approve(operator, 1_000 * YUAN, {"from": wallet_b})
    with (
        unchanged(yuan, [wallet_b], [hold.id()], [(wallet_b, operator)]),
        brownie.reverts(err("InsufficientSpendableBalance", wallet_b, 400 * YUAN, 400 * YUAN + 1)),
    ):
        yuan.redeem(wallet_b, 400 * YUAN + 1, {"from": operator})
    yuan.redeem(wallet_b, 400 * YUAN, {"from": operator})
    assert yuan.balanceOf(wallet_b) == yuan.heldBalanceOf(wallet_b) == 600 * YUAN


def test_redeeming_nothing_reverts(yuan, operator, buyer):
    with unchanged(yuan, [buyer]), brownie.reverts(err("IssuanceAmountZero")):
        yuan.redeem(buyer, 0, {"from": operator})


def test_only_operators_redeem(yuan, buyer, stranger):
    yuan.approve(stranger, 1, {"from": buyer})
    with (
        unchanged(yuan, [buyer], allowances=[(buyer, stranger)]),
        brownie.reverts(err("AccessControlUnauthorizedAccount", stranger, OPERATOR_ROLE)),
    ):
        yuan.redeem(buyer, 1, {"from": stranger})


def test_redemption_counts_against_no_cap(yuan, operator, capped_a):
    # 3,000 yuan is over the class IV per-payment cap (2,000).
    yuan.approve(operator, 3_000 * YUAN, {"from": capped_a})
    yuan.redeem(capped_a, 3_000 * YUAN, {"from": operator})
    assert yuan.balanceOf(capped_a) == 2_000 * YUAN
    assert yuan.spentToday(capped_a) == 0


def test_redeeming_from_a_frozen_wallet_reverts(yuan, operator, compliance_officer, buyer):
    yuan.approve(operator, 1, {"from": buyer})
    yuan.freeze(buyer, {"from": compliance_officer})
    with (
        unchanged(yuan, [buyer], allowances=[(buyer, operator)]),
        brownie.reverts(err("AccountIsFrozen", buyer)),
    ):
        yuan.redeem(buyer, 1, {"from": operator})


def test_redeeming_while_paused_reverts(yuan, operator, pauser, buyer):
    yuan.approve(operator, 1, {"from": buyer})
    yuan.pause({"from": pauser})
    with (
        unchanged(yuan, [buyer], allowances=[(buyer, operator)]),
        brownie.reverts(err("EnforcedPause")),
    ):
        yuan.redeem(buyer, 1, {"from": operator})
