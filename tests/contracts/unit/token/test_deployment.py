"""A freshly deployed YuanToken: metadata, EIP-712 domain, roles, default caps and day."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    ADMIN_DELAY,
    CLASS_I,
    CLASS_II,
    CLASS_III,
    CLASS_IV,
    CST,
    DEFAULT_ADMIN_ROLE,
    DEFAULT_CAPS,
    DOMAIN_ID,
    TOKEN_NAME,
    TOKEN_SYMBOL,
    deploy_yuan,
    err,
    ints,
)


def test_metadata_is_the_yuan_in_fen(yuan_bare):
    assert yuan_bare.name() == TOKEN_NAME
    assert yuan_bare.symbol() == TOKEN_SYMBOL
    assert yuan_bare.decimals() == 2
    assert yuan_bare.totalSupply() == 0


def test_domain_id_is_exposed(yuan_bare):
    assert yuan_bare.domainId() == DOMAIN_ID


def test_eip712_domain_names_the_protocol_domain(yuan_bare):
    fields, name, version, chain_id, contract, salt, extensions = yuan_bare.eip712Domain()
    assert fields == "0x0f"
    assert name == f"{TOKEN_NAME} (domain {DOMAIN_ID})"
    assert version == "1"
    assert chain_id == brownie.chain.id
    assert contract == yuan_bare.address
    assert int(salt.hex(), 16) == 0
    assert extensions == ()


def test_two_deployments_differing_only_in_domain_id_have_different_separators(
    deployer, central_bank
):
    first = deploy_yuan(deployer, central_bank, domain_id=7)
    second = deploy_yuan(deployer, central_bank, domain_id=8)
    assert first.eip712Domain()[1] == f"{TOKEN_NAME} (domain 7)"
    assert second.eip712Domain()[1] == f"{TOKEN_NAME} (domain 8)"
    assert first.DOMAIN_SEPARATOR() != second.DOMAIN_SEPARATOR()


def test_the_central_bank_is_the_only_admin(yuan_bare, central_bank, deployer):
    assert yuan_bare.defaultAdmin() == central_bank
    assert yuan_bare.owner() == central_bank
    assert yuan_bare.hasRole(DEFAULT_ADMIN_ROLE, central_bank)
    assert not yuan_bare.hasRole(DEFAULT_ADMIN_ROLE, deployer)
    assert yuan_bare.defaultAdminDelay() == ADMIN_DELAY


@pytest.mark.parametrize("wallet_class", [CLASS_IV, CLASS_III, CLASS_II, CLASS_I])
def test_default_caps_are_the_published_classes(yuan_bare, wallet_class):
    assert ints(yuan_bare.tierCaps(wallet_class)) == DEFAULT_CAPS[wallet_class]


def test_deployment_emits_the_default_caps_and_day(yuan_bare):
    events = yuan_bare.tx.events
    assert [dict(e) for e in events["TierCapsSet"]] == [
        {
            "walletClass": c,
            "balanceCap": DEFAULT_CAPS[c][0],
            "paymentCap": DEFAULT_CAPS[c][1],
            "dailyCap": DEFAULT_CAPS[c][2],
        }
        for c in (CLASS_IV, CLASS_III, CLASS_II)
    ]
    assert events["DayOffsetSet"] == {"previous": 0, "offset": CST}


def test_the_day_is_china_standard_time_by_default(yuan_bare):
    assert yuan_bare.dayOffset() == CST
    assert yuan_bare.currentDay() == (brownie.chain[-1].timestamp + CST) // 86_400


def test_unverified_wallets_are_anonymous_class_iv(yuan_bare, stranger):
    assert yuan_bare.walletClassOf(stranger) == CLASS_IV
    assert yuan_bare.isCapped(stranger)
    assert not yuan_bare.isCapExempt(stranger)
    assert not yuan_bare.isFrozen(stranger)


def test_zero_admin_is_refused(YuanToken, deployer):
    zero = "0x0000000000000000000000000000000000000000"
    with brownie.reverts(err("AccessControlInvalidDefaultAdmin", zero)):
        YuanToken.deploy(TOKEN_NAME, TOKEN_SYMBOL, DOMAIN_ID, zero, ADMIN_DELAY, {"from": deployer})


def test_the_runtime_code_fits_the_eip170_size_limit(yuan_bare):
    # 24,576 bytes: anvil runs without the limit, eth-tester (py-evm) enforces it.
    assert len(brownie.web3.eth.get_code(yuan_bare.address)) <= 24_576
