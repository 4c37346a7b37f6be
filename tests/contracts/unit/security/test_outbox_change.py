"""The Outbox owner has no undelayed kill switch over the registry (app changes wait for
the governance delay: tests/contracts/unit/bridge/test_outbox.py), and a trade whose
outcome the outbox refused keeps its terminal status and can send the outcome again once
the outbox takes it (`resendOutcome`)."""

import brownie
import pytest
from eth_utils.crypto import keccak

from tests.contracts.fixtures.bridge import GOVERNANCE_DELAY
from tests.contracts.fixtures.trade import (
    BUSINESS_DOMAIN,
    MAX_HORIZON,
    OUTCOME,
    PAYMENT_DOMAIN,
    SAFETY_WINDOW,
    SETTLEMENT_APP,
    STATUS,
    err,
)


@pytest.fixture(scope="module")
def business_outbox(Outbox, deployer):
    return Outbox.deploy(BUSINESS_DOMAIN, deployer, GOVERNANCE_DELAY, {"from": deployer})


@pytest.fixture(scope="module")
def registry(TradeRegistry, mailbox, business_outbox, deployer):
    """A registry sending through a real Outbox (setup closed); the test mailbox plays the
    inbox."""
    contract = TradeRegistry.deploy(deployer, SAFETY_WINDOW, MAX_HORIZON, {"from": deployer})
    contract.wire(mailbox, business_outbox, PAYMENT_DOMAIN, SETTLEMENT_APP, {"from": deployer})
    business_outbox.proposeApp(contract, True, {"from": deployer})
    business_outbox.closeSetup({"from": deployer})
    return contract


def _unregister(outbox, app, owner):
    outbox.proposeApp(app, False, {"from": owner})
    brownie.chain.sleep(GOVERNANCE_DELAY + 1)
    outbox.applyApp(app, {"from": owner})


def _register(outbox, app, owner):
    outbox.proposeApp(app, True, {"from": owner})
    brownie.chain.sleep(GOVERNANCE_DELAY + 1)
    outbox.applyApp(app, {"from": owner})


def test_a_delivered_trade_keeps_its_outcome_when_the_outbox_refuses_it(
    registry, business_outbox, trade_in, buyer, deployer, stranger
):
    trade = trade_in("Shipped")
    _unregister(business_outbox, registry, deployer)
    tx = registry.confirmDelivery(trade.id, {"from": buyer})
    assert registry.statusOf(trade.id) == STATUS["Delivered"]
    event = tx.events["OutcomeNotSent"]
    assert (event["tradeId"], event["holdId"], event["outcome"]) == (
        trade.id,
        trade.hold,
        OUTCOME["Delivered"],
    )
    assert bytes(event["reason"])[:4] == keccak(text="OutboxAppNotRegistered(address)")[:4]
    assert "OutcomeSent" not in tx.events
    assert registry.outcomeUnsent(trade.id)

    # Still refused: the resend reverts with the outbox's error and stays pending.
    with brownie.reverts(err("OutboxAppNotRegistered", registry.address)):
        registry.resendOutcome(trade.id, {"from": stranger})
    assert registry.outcomeUnsent(trade.id)

    _register(business_outbox, registry, deployer)
    nonce = business_outbox.nextNonce(registry)
    resent = registry.resendOutcome(trade.id, {"from": stranger})
    assert resent.events["OutcomeSent"] == {
        "tradeId": trade.id,
        "holdId": trade.hold,
        "outcome": OUTCOME["Delivered"],
        "messageId": resent.events["MessageSent"]["messageId"],
        "nonce": nonce,
    }
    assert not registry.outcomeUnsent(trade.id)
    with brownie.reverts(err("TradeOutcomeNotPending", trade.id)):
        registry.resendOutcome(trade.id, {"from": stranger})


def test_an_expired_trade_resends_its_expired_outcome(
    registry, business_outbox, trade_in, deployer, stranger
):
    trade = trade_in("Funded")
    _unregister(business_outbox, registry, deployer)
    brownie.chain.sleep(86_400 + 1)
    tx = registry.expire(trade.id, {"from": stranger})
    assert tx.events["OutcomeNotSent"]["outcome"] == OUTCOME["Expired"]
    assert registry.statusOf(trade.id) == STATUS["Expired"]
    _register(business_outbox, registry, deployer)
    resent = registry.resendOutcome(trade.id, {"from": stranger})
    assert resent.events["OutcomeSent"]["outcome"] == OUTCOME["Expired"]


def test_a_trade_whose_outcome_was_sent_cannot_resend_it(registry, trade_in, stranger):
    trade = trade_in("Delivered")
    assert not registry.outcomeUnsent(trade.id)
    before = registry.getTrade(trade.id)
    with brownie.reverts(err("TradeOutcomeNotPending", trade.id)):
        registry.resendOutcome(trade.id, {"from": stranger})
    assert registry.getTrade(trade.id) == before
