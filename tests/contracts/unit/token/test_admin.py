"""The central bank's admin role moves in two steps (AccessControlDefaultAdminRules), and it
alone appoints operators, compliance officers and pausers."""

import brownie
import pytest

from tests.contracts.fixtures.token import (
    ADMIN_DELAY,
    COMPLIANCE_ROLE,
    DEFAULT_ADMIN_ROLE,
    OPERATOR_ROLE,
    PAUSER_ROLE,
    err,
    next_block_at,
    unchanged,
)


def test_an_admin_transfer_starts_pending(yuan, central_bank, stranger):
    tx = yuan.beginDefaultAdminTransfer(stranger, {"from": central_bank})
    pending, schedule = yuan.pendingDefaultAdmin()
    assert pending == stranger
    assert schedule == tx.timestamp + ADMIN_DELAY
    assert tx.events["DefaultAdminTransferScheduled"]["newAdmin"] == stranger
    assert yuan.defaultAdmin() == central_bank


def test_the_new_admin_accepts_after_the_delay(yuan, central_bank, stranger):
    tx = yuan.beginDefaultAdminTransfer(stranger, {"from": central_bank})
    next_block_at(tx.timestamp + ADMIN_DELAY + 1)
    yuan.acceptDefaultAdminTransfer({"from": stranger})
    assert yuan.defaultAdmin() == stranger
    assert yuan.hasRole(DEFAULT_ADMIN_ROLE, stranger)
    assert not yuan.hasRole(DEFAULT_ADMIN_ROLE, central_bank)


def test_the_new_admin_cannot_accept_before_the_delay(yuan, central_bank, stranger):
    tx = yuan.beginDefaultAdminTransfer(stranger, {"from": central_bank})
    schedule = tx.timestamp + ADMIN_DELAY
    next_block_at(schedule - 1)
    with unchanged(yuan), brownie.reverts(err("AccessControlEnforcedDefaultAdminDelay", schedule)):
        yuan.acceptDefaultAdminTransfer({"from": stranger})
    assert yuan.defaultAdmin() == central_bank


def test_the_admin_role_cannot_be_granted_directly(yuan, central_bank, stranger):
    with unchanged(yuan), brownie.reverts(err("AccessControlEnforcedDefaultAdminRules")):
        yuan.grantRole(DEFAULT_ADMIN_ROLE, stranger, {"from": central_bank})


@pytest.mark.parametrize("role", [OPERATOR_ROLE, COMPLIANCE_ROLE, PAUSER_ROLE])
def test_the_admin_grants_each_role(yuan_bare, central_bank, stranger, role):
    tx = yuan_bare.grantRole(role, stranger, {"from": central_bank})
    assert tx.events["RoleGranted"]["account"] == stranger
    assert yuan_bare.hasRole(role, stranger)


@pytest.mark.parametrize("role", [OPERATOR_ROLE, COMPLIANCE_ROLE, PAUSER_ROLE])
def test_nobody_else_grants_a_role(yuan, operator, stranger, role):
    with (
        unchanged(yuan),
        brownie.reverts(err("AccessControlUnauthorizedAccount", operator, DEFAULT_ADMIN_ROLE)),
    ):
        yuan.grantRole(role, stranger, {"from": operator})
    assert not yuan.hasRole(role, stranger)


def test_a_role_holder_holds_only_its_role(yuan, operator, compliance_officer, pauser):
    assert [yuan.hasRole(r, operator) for r in (OPERATOR_ROLE, COMPLIANCE_ROLE, PAUSER_ROLE)] == [
        True,
        False,
        False,
    ]
    assert yuan.hasRole(COMPLIANCE_ROLE, compliance_officer)
    assert yuan.hasRole(PAUSER_ROLE, pauser)
