"""Verified-but-failed messages: a recipient that reverts for a passing reason leaves the
message consumed as Failed, visible on-chain, retryable by anyone, blocking nothing (L2)."""

import brownie
from eth_abi import encode as abi_encode
from eth_utils.crypto import keccak

from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    delivery_status,
    err,
    inbox_state,
    is_consumed,
    outcome_message,
    sign,
)

DELIVERED, FAILED, ALREADY_CONSUMED, REJECTED = range(4)
STATUS_NONE, STATUS_DELIVERED, STATUS_FAILED = range(3)


def _failing_reason(message):
    """The revert data of MockAppFailing(messageId)."""
    return keccak(text="MockAppFailing(bytes32)")[:4] + abi_encode(["bytes32"], [message.id])


def _deliver(inbox, message, caller):
    return inbox.deliver(message.encode(), sign(inbox, message, ATTESTERS[:2]), {"from": caller})


def test_a_reverting_recipient_leaves_the_message_verified_but_failed(wired_inbox, app, relayer):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app)
    tx = _deliver(wired_inbox, message, relayer)
    assert tx.return_value == FAILED
    event = tx.events["MessageFailed"]
    assert event["messageId"] == "0x" + message.id.hex()
    assert event["sourceDomain"] == message.source_domain
    assert event["recipient"] == app
    assert event["deliverer"] == relayer
    assert bytes(event["reason"]) == _failing_reason(message)
    assert "MessageDelivered" not in tx.events
    assert delivery_status(wired_inbox, message) == STATUS_FAILED
    assert tuple(wired_inbox.failureOf(message.id)) == (STATUS_FAILED, 1)
    assert wired_inbox.failedEpochOf(message.id) == 1
    assert is_consumed(wired_inbox, message)
    assert app.received() == 0


def test_a_failed_message_blocks_no_other_message(wired_inbox, app, relayer):
    app.setFailing(True, {"from": relayer})
    failed = outcome_message(app, nonce=1)
    _deliver(wired_inbox, failed, relayer)
    app.setFailing(False, {"from": relayer})
    later = outcome_message(app, nonce=2)
    tx = _deliver(wired_inbox, later, relayer)
    assert tx.return_value == DELIVERED
    assert app.received() == 1
    assert delivery_status(wired_inbox, failed) == STATUS_FAILED
    assert delivery_status(wired_inbox, later) == STATUS_DELIVERED


def test_delivering_a_failed_message_again_is_a_no_op(wired_inbox, app, relayer, stranger):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app)
    _deliver(wired_inbox, message, relayer)
    app.setFailing(False, {"from": relayer})
    before = (inbox_state(wired_inbox, message), app.received())
    tx = _deliver(wired_inbox, message, stranger)
    assert tx.return_value == ALREADY_CONSUMED
    assert "MessageAlreadyConsumed" in tx.events
    assert (inbox_state(wired_inbox, message), app.received()) == before


def test_anyone_can_retry_a_failed_message_once_the_recipient_recovers(
    wired_inbox, app, relayer, stranger
):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app)
    _deliver(wired_inbox, message, relayer)
    app.setFailing(False, {"from": relayer})
    tx = wired_inbox.retry(message.encode(), {"from": stranger})
    assert tx.events["MessageRetried"] == {
        "messageId": "0x" + message.id.hex(),
        "sourceDomain": message.source_domain,
        "recipient": app,
        "retrier": stranger,
    }
    assert tx.events["MessageReceived"]["messageId"] == "0x" + message.id.hex()
    # Delivered again: the failure record is gone, the consumed bit stays.
    assert delivery_status(wired_inbox, message) == STATUS_DELIVERED
    assert tuple(wired_inbox.failureOf(message.id)) == (STATUS_NONE, 0)
    assert wired_inbox.failedEpochOf(message.id) == 0
    assert is_consumed(wired_inbox, message)
    assert app.received() == 1
    # ... and it is consumed for good: a retry or a delivery again is refused / a no-op.
    with brownie.reverts(err("InboxNotRetryable", message.id, STATUS_DELIVERED)):
        wired_inbox.retry(message.encode(), {"from": stranger})
    assert _deliver(wired_inbox, message, stranger).return_value == ALREADY_CONSUMED
    assert app.received() == 1


def test_a_retry_that_fails_again_reverts_and_keeps_the_message_failed(
    wired_inbox, app, relayer, stranger
):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app)
    _deliver(wired_inbox, message, relayer)
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxRetryFailed", message.id, _failing_reason(message))):
        wired_inbox.retry(message.encode(), {"from": stranger})
    assert (inbox_state(wired_inbox, message), app.received()) == before
    assert delivery_status(wired_inbox, message) == STATUS_FAILED


def test_a_delivered_message_cannot_be_retried(wired_inbox, app, relayer):
    message = outcome_message(app)
    _deliver(wired_inbox, message, relayer)
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxNotRetryable", message.id, STATUS_DELIVERED)):
        wired_inbox.retry(message.encode(), {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before


def test_a_message_never_delivered_cannot_be_retried(wired_inbox, app, relayer):
    message = outcome_message(app)
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxNotRetryable", message.id, STATUS_NONE)):
        wired_inbox.retry(message.encode(), {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before


def test_a_retry_with_altered_bytes_finds_nothing_to_retry(wired_inbox, app, relayer):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app)
    _deliver(wired_inbox, message, relayer)
    app.setFailing(False, {"from": relayer})
    altered = message.encode() + b"\x00"
    with brownie.reverts(err("InboxNotRetryable", keccak(altered), STATUS_NONE)):
        wired_inbox.retry(altered, {"from": relayer})
    assert delivery_status(wired_inbox, message) == STATUS_FAILED


def test_a_failed_message_cannot_be_retried_after_its_peer_is_removed(
    wired_inbox, app, deployer, relayer, chain
):
    app.setFailing(True, {"from": relayer})
    message = outcome_message(app)
    _deliver(wired_inbox, message, relayer)
    app.setFailing(False, {"from": relayer})
    wired_inbox.proposePeer(
        message.source_domain, message.source_app, brownie.ZERO_ADDRESS, {"from": deployer}
    )
    chain.sleep(wired_inbox.governanceDelay() + 1)
    wired_inbox.applyPeer(message.source_domain, message.source_app, {"from": relayer})
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxUnknownSource", message.source_domain, message.source_app)):
        wired_inbox.retry(message.encode(), {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before


def test_a_recipient_starved_of_gas_reverts_the_delivery_instead_of_failing_it(
    wired_inbox, app, relayer
):
    app.setBurning(True, {"from": relayer})
    message = outcome_message(app)
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxRecipientOutOfGas", message.id)):
        wired_inbox.deliver(
            message.encode(),
            sign(wired_inbox, message, ATTESTERS[:2]),
            {"from": relayer, "gas_limit": 500_000},
        )
    assert (inbox_state(wired_inbox, message), app.received()) == before
    assert not is_consumed(wired_inbox, message)
