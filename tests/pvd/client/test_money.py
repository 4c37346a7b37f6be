"""The money steps of pvd.client.money on embedded chains: each step's effect read back,
and each refusal a decoded ContractRevert with nothing sent and nothing changed."""

from __future__ import annotations

import pytest

from pvd.client import money
from pvd.client.amounts import parse_yuan
from pvd.deploy.reverts import ContractRevert
from pvd.deploy.system import System
from tests.pvd.client.conftest import CAST

YUAN = 100


def appointed(system: System, allowance: int = 10_000 * YUAN) -> None:
    chain, token = system.payment.chain, system.payment.token
    money.appoint_bank(chain, token, CAST.central_bank.address, CAST.bank.address)
    money.set_mint_allowance(chain, token, CAST.central_bank.address, CAST.bank.address, allowance)


def nonce(system: System, address: str) -> int:
    return int(system.payment.chain.w3.eth.get_transaction_count(address))  # type: ignore[arg-type]


def test_appoint_bank_makes_it_an_operator_with_an_allowance(system: System) -> None:
    token = system.payment.token
    assert not money.bank_state(token, CAST.bank.address).operator
    appointed(system)
    state = money.bank_state(token, CAST.bank.address)
    assert state.operator and state.mint_allowance == 10_000 * YUAN
    assert state.to_json()["mint_allowance"] == "10000.00"


def test_allowance_for_a_non_operator_is_refused_before_sending(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    before = nonce(system, CAST.central_bank.address)
    with pytest.raises(ContractRevert) as refused:
        money.set_mint_allowance(chain, token, CAST.central_bank.address, CAST.stranger.address, 5)
    assert refused.value.error.name == "IssuanceNotAnOperator"
    assert refused.value.error.values == (CAST.stranger.address,)
    assert nonce(system, CAST.central_bank.address) == before
    assert money.bank_state(token, CAST.stranger.address).mint_allowance == 0


def test_issue_mints_to_the_wallet_and_spends_the_allowance(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    appointed(system)
    sent = money.issue(chain, token, CAST.bank.address, CAST.buyer.address, parse_yuan("1500.25"))
    assert sent.tx_hash.startswith("0x") and sent.block > 0 and sent.chain == "payment"
    wallet = money.wallet_state(token, CAST.buyer.address)
    assert wallet.balance == wallet.spendable == 150_025 and wallet.held == 0
    assert money.bank_state(token, CAST.bank.address).mint_allowance == 10_000 * YUAN - 150_025


def test_issue_beyond_the_allowance_is_refused_and_changes_nothing(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    appointed(system, allowance=100 * YUAN)
    with pytest.raises(ContractRevert, match="MintAllowanceExceeded") as refused:
        money.issue(chain, token, CAST.bank.address, CAST.buyer.address, 101 * YUAN)
    assert "\n" not in str(refused.value)
    assert money.wallet_state(token, CAST.buyer.address).balance == 0
    assert money.bank_state(token, CAST.bank.address).mint_allowance == 100 * YUAN


def test_a_stranger_cannot_issue_and_is_told_the_missing_role(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    with pytest.raises(ContractRevert) as refused:
        money.issue(chain, token, CAST.stranger.address, CAST.buyer.address, YUAN)
    assert refused.value.error.values == (CAST.stranger.address, "OPERATOR_ROLE")


def test_redeem_burns_what_the_wallet_approved(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    appointed(system)
    money.issue(chain, token, CAST.bank.address, CAST.buyer.address, 500 * YUAN)
    with pytest.raises(ContractRevert, match="ERC20InsufficientAllowance"):
        money.redeem(chain, token, CAST.bank.address, CAST.buyer.address, 200 * YUAN)
    money.approve(chain, token, CAST.buyer.address, CAST.bank.address, 200 * YUAN)
    money.redeem(chain, token, CAST.bank.address, CAST.buyer.address, 200 * YUAN)
    assert money.wallet_state(token, CAST.buyer.address).balance == 300 * YUAN
    assert money.token_state(token).total_supply == 300 * YUAN


def test_wallet_class_sets_the_caps(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    appointed(system)
    capped = money.wallet_state(token, CAST.buyer.address)
    assert capped.wallet_class is money.WalletClass.IV and capped.balance_cap is not None
    money.set_wallet_class(chain, token, CAST.bank.address, CAST.buyer.address, money.WalletClass.I)
    free = money.wallet_state(token, CAST.buyer.address)
    assert free.wallet_class is money.WalletClass.I
    assert (free.balance_cap, free.payment_cap, free.daily_cap) == (None, None, None)
    assert free.to_json()["class"] == "I"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("IV", money.WalletClass.IV), ("class-ii", money.WalletClass.II), ("1", money.WalletClass.I)],
)
def test_wallet_class_names(text: str, expected: money.WalletClass) -> None:
    assert money.WalletClass.parse(text) is expected


def test_unknown_wallet_class_is_a_user_error() -> None:
    with pytest.raises(Exception, match="wallet class 'V' is unknown"):
        money.WalletClass.parse("V")


def test_freeze_stops_payments_and_unfreeze_restores_them(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    appointed(system)
    money.issue(chain, token, CAST.bank.address, CAST.buyer.address, 100 * YUAN)
    with pytest.raises(ContractRevert, match="COMPLIANCE_ROLE"):  # not granted by default
        money.freeze(chain, token, CAST.central_bank.address, CAST.buyer.address)
    assert not money.wallet_state(token, CAST.buyer.address).frozen
    central = CAST.central_bank.address
    money.grant_role(chain, token, central, money.COMPLIANCE_ROLE, central)
    money.freeze(chain, token, CAST.central_bank.address, CAST.buyer.address)
    assert money.wallet_state(token, CAST.buyer.address).frozen
    with pytest.raises(ContractRevert, match="AccountIsFrozen"):
        money.transfer(chain, token, CAST.buyer.address, CAST.seller.address, YUAN)
    money.unfreeze(chain, token, CAST.central_bank.address, CAST.buyer.address)
    money.transfer(chain, token, CAST.buyer.address, CAST.seller.address, YUAN)
    assert money.wallet_state(token, CAST.seller.address).balance == YUAN


def test_pause_stops_transfers_until_unpaused(system: System) -> None:
    chain, token = system.payment.chain, system.payment.token
    appointed(system)
    money.issue(chain, token, CAST.bank.address, CAST.buyer.address, 100 * YUAN)
    central = CAST.central_bank.address
    money.grant_role(chain, token, central, money.PAUSER_ROLE, central)
    money.pause(chain, token, CAST.central_bank.address)
    assert money.token_state(token).paused
    with pytest.raises(ContractRevert, match=r"EnforcedPause\(\)"):
        money.transfer(chain, token, CAST.buyer.address, CAST.seller.address, YUAN)
    with pytest.raises(ContractRevert, match=r"EnforcedPause\(\)"):
        money.pause(chain, token, CAST.central_bank.address)
    money.unpause(chain, token, CAST.central_bank.address)
    money.transfer(chain, token, CAST.buyer.address, CAST.seller.address, YUAN)
    assert money.wallet_state(token, CAST.buyer.address).balance == 99 * YUAN
