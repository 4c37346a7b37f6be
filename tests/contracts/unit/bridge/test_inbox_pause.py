"""The guardian pauses every delivery and retry, refunds included (ADR 0007): a buyer's
money still comes back, because anyone releases an expired hold on the token itself."""

import brownie
import pytest
from eth_utils.crypto import keccak

from pvd.protocol.attestation import batch_signatures
from pvd.protocol.messages import Outcome, SettlementResult, batch_messages
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    err,
    inbox_state,
    is_consumed,
    outcome_message,
    settled_message,
    sign,
)

GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
ADMIN_ROLE = b"\x00" * 32


@pytest.fixture
def paused(wired_inbox, guardian):
    tx = wired_inbox.pause({"from": guardian})
    assert tx.events["DeliveriesPaused"] == {"guardian": guardian}
    assert wired_inbox.paused()
    return wired_inbox


def _signed(inbox, message):
    return message.encode(), sign(inbox, message, ATTESTERS[:2])


def test_a_paused_inbox_refuses_a_delivered_outcome(paused, app, relayer):
    message = outcome_message(app, outcome=Outcome.DELIVERED)
    before = (inbox_state(paused, message), app.received())
    with brownie.reverts(err("InboxPaused", message.id)):
        paused.deliver(*_signed(paused, message), {"from": relayer})
    assert (inbox_state(paused, message), app.received()) == before


@pytest.mark.parametrize("outcome", [Outcome.EXPIRED, Outcome.REJECTED])
def test_a_paused_inbox_refuses_a_refund_outcome_too(paused, app, relayer, outcome):
    message = outcome_message(app, outcome=outcome)
    before = (inbox_state(paused, message), app.received())
    with brownie.reverts(err("InboxPaused", message.id)):
        paused.deliver(*_signed(paused, message), {"from": relayer})
    assert (inbox_state(paused, message), app.received()) == before


def test_a_paused_inbox_refuses_a_refunded_settlement_too(paused, app, relayer):
    message = settled_message(app, result=SettlementResult.REFUNDED)
    with brownie.reverts(err("InboxPaused", message.id)):
        paused.deliver(*_signed(paused, message), {"from": relayer})
    assert not is_consumed(paused, message)


def test_a_paused_inbox_refuses_a_paid_settlement(paused, app, relayer):
    message = settled_message(app, result=SettlementResult.PAID)
    with brownie.reverts(err("InboxPaused", message.id)):
        paused.deliver(*_signed(paused, message), {"from": relayer})
    assert not is_consumed(paused, message)


def test_a_paused_inbox_refuses_to_retry_a_delivered_outcome(wired_inbox, app, guardian, relayer):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app)
    wired_inbox.deliver(*_signed(wired_inbox, message), {"from": relayer})
    app.setFailing(False, {"from": relayer})
    wired_inbox.pause({"from": guardian})
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxPaused", message.id)):
        wired_inbox.retry(message.encode(), {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before


def test_a_paused_inbox_refuses_to_retry_a_refund_too(wired_inbox, app, guardian, relayer):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app, outcome=Outcome.EXPIRED)
    wired_inbox.deliver(*_signed(wired_inbox, message), {"from": relayer})
    app.setFailing(False, {"from": relayer})
    wired_inbox.pause({"from": guardian})
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxPaused", message.id)):
        wired_inbox.retry(message.encode(), {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before


def test_a_replay_while_paused_is_still_a_no_op(wired_inbox, app, guardian, relayer):
    message = outcome_message(app)
    wired_inbox.deliver(*_signed(wired_inbox, message), {"from": relayer})
    wired_inbox.pause({"from": guardian})
    tx = wired_inbox.deliver(*_signed(wired_inbox, message), {"from": relayer})
    assert "MessageAlreadyConsumed" in tx.events


def test_the_admin_unpauses(paused, app, deployer, relayer):
    tx = paused.unpause({"from": deployer})
    assert tx.events["DeliveriesUnpaused"] == {"admin": deployer}
    assert not paused.paused()
    message = outcome_message(app)
    assert "MessageDelivered" in paused.deliver(*_signed(paused, message), {"from": relayer}).events


def test_a_stranger_cannot_pause(wired_inbox, stranger):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("AccessControlUnauthorizedAccount", stranger.address, GUARDIAN_ROLE)):
        wired_inbox.pause({"from": stranger})
    assert inbox_state(wired_inbox) == before


def test_the_guardian_cannot_unpause(paused, guardian):
    before = inbox_state(paused)
    with brownie.reverts(err("AccessControlUnauthorizedAccount", guardian.address, ADMIN_ROLE)):
        paused.unpause({"from": guardian})
    assert inbox_state(paused) == before


def test_pausing_twice_reverts(paused, guardian):
    before = inbox_state(paused)
    with brownie.reverts(err("InboxPauseUnchanged", True)):
        paused.pause({"from": guardian})
    assert inbox_state(paused) == before


def test_unpausing_an_unpaused_inbox_reverts(wired_inbox, deployer):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("InboxPauseUnchanged", False)):
        wired_inbox.unpause({"from": deployer})
    assert inbox_state(wired_inbox) == before


def test_a_paused_batch_rejects_every_message(paused, app, relayer):
    payout = outcome_message(app, nonce=1, outcome=Outcome.DELIVERED)
    refund = outcome_message(app, nonce=2, outcome=Outcome.EXPIRED)
    encodings = [payout.encode(), refund.encode()]
    signatures = [sign(paused, m, ATTESTERS[:2]) for m in (payout, refund)]
    tx = paused.deliverBatch(
        batch_messages(encodings), batch_signatures(signatures), {"from": relayer}
    )
    assert list(tx.return_value) == [3, 3]  # Rejected, Rejected
    assert [e["messageId"] for e in tx.events["MessageRejected"]] == [
        "0x" + payout.id.hex(),
        "0x" + refund.id.hex(),
    ]
    assert not is_consumed(paused, payout)
    assert not is_consumed(paused, refund)
