"""The registry's configuration: constructor checks and the admin's one-time wiring."""

import brownie
import pytest

from tests.contracts.fixtures.trade import (
    BUSINESS_DOMAIN,
    MAX_HORIZON,
    PAYMENT_DOMAIN,
    SAFETY_WINDOW,
    SETTLEMENT_APP,
    ZERO,
    err,
)


@pytest.fixture
def unwired(TradeRegistry, deployer):
    return TradeRegistry.deploy(deployer, SAFETY_WINDOW, MAX_HORIZON, {"from": deployer})


def test_constructor_rejects_a_zero_admin(TradeRegistry, deployer):
    with brownie.reverts(err("RegistryInvalidConfig", ZERO, SAFETY_WINDOW, MAX_HORIZON)):
        TradeRegistry.deploy(ZERO, SAFETY_WINDOW, MAX_HORIZON, {"from": deployer})


def test_constructor_rejects_a_zero_safety_window(TradeRegistry, deployer):
    with brownie.reverts(err("RegistryInvalidConfig", deployer, 0, MAX_HORIZON)):
        TradeRegistry.deploy(deployer, 0, MAX_HORIZON, {"from": deployer})


def test_constructor_rejects_a_zero_horizon(TradeRegistry, deployer):
    with brownie.reverts(err("RegistryInvalidConfig", deployer, SAFETY_WINDOW, 0)):
        TradeRegistry.deploy(deployer, SAFETY_WINDOW, 0, {"from": deployer})


def test_constructor_records_timing_admin_and_deploys_the_bill(unwired, deployer, BillOfLading):
    assert unwired.admin() == deployer
    assert tuple(unwired.timing()) == (SAFETY_WINDOW, MAX_HORIZON)
    bill = BillOfLading.at(unwired.billOfLading())
    assert bill.registry() == unwired
    assert bill.name() == "pvd Bill of Lading"
    assert tuple(unwired.wiring()) == (False, ZERO, ZERO, 0, 0, ZERO)


def test_wire_records_the_messaging_and_the_outbox_domain(unwired, mailbox, deployer):
    tx = unwired.wire(mailbox, mailbox, PAYMENT_DOMAIN, SETTLEMENT_APP, {"from": deployer})
    assert tx.events["RegistryWired"] == {
        "inbox": mailbox,
        "outbox": mailbox,
        "businessDomain": BUSINESS_DOMAIN,
        "paymentDomain": PAYMENT_DOMAIN,
        "settlementApp": SETTLEMENT_APP,
    }
    assert tuple(unwired.wiring()) == (
        True,
        mailbox,
        mailbox,
        BUSINESS_DOMAIN,
        PAYMENT_DOMAIN,
        SETTLEMENT_APP,
    )


def test_wire_by_anyone_but_the_admin_reverts(unwired, mailbox, stranger):
    with brownie.reverts(err("RegistryCallerNotAdmin", stranger)):
        unwired.wire(mailbox, mailbox, PAYMENT_DOMAIN, SETTLEMENT_APP, {"from": stranger})
    assert unwired.wiring()[0] is False


def test_wire_twice_reverts(registry, mailbox, deployer, stranger):
    before = registry.wiring()
    with brownie.reverts("RegistryAlreadyWired: "):
        registry.wire(stranger, mailbox, PAYMENT_DOMAIN + 1, stranger, {"from": deployer})
    assert tuple(registry.wiring()) == tuple(before)


@pytest.mark.parametrize("zeroed", ["inbox", "outbox", "settlement"])
def test_wire_rejects_zero_addresses(unwired, mailbox, deployer, zeroed):
    inbox = ZERO if zeroed == "inbox" else mailbox.address
    outbox = ZERO if zeroed == "outbox" else mailbox.address
    app = ZERO if zeroed == "settlement" else SETTLEMENT_APP
    with brownie.reverts(err("RegistryInvalidWiring", inbox, outbox, app)):
        unwired.wire(inbox, outbox, PAYMENT_DOMAIN, app, {"from": deployer})
    assert unwired.wiring()[0] is False


def test_propose_before_wiring_reverts(unwired, make_terms, buyer):
    with brownie.reverts("RegistryNotWired: "):
        unwired.propose(make_terms().as_tuple(), {"from": buyer})
    assert unwired.nonceOf(buyer) == 0


def test_messages_before_wiring_revert(unwired, mailbox, deployer):
    with brownie.reverts("RegistryNotWired: "):
        mailbox.deliver(unwired, PAYMENT_DOMAIN, SETTLEMENT_APP, 1, b"", {"from": deployer})


def test_trade_ids_need_the_wiring(unwired, buyer):
    with brownie.reverts("RegistryNotWired: "):
        unwired.nextTradeId(buyer)
