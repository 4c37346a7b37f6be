"""MockMailbox: two mailboxes on one chain deliver to each other like outbox + inbox."""

import brownie
import pytest

from pvd.protocol.messages import Message, Outcome, PaymentSettled, SettlementResult, TradeOutcome
from tests.contracts.fixtures.bridge import BUSINESS_DOMAIN, PAYMENT_DOMAIN, err


@pytest.fixture(scope="module")
def recipient(MockApp, deployer, payment_mailbox):
    return MockApp.deploy(payment_mailbox, {"from": deployer})


def _outcome(stranger):
    return TradeOutcome(
        trade_id=b"\x11" * 32,
        hold_id=b"\x22" * 32,
        outcome=Outcome.DELIVERED,
        payer=stranger.address,
        payee="0x" + "44" * 20,
        amount=12_345,
        expiry=1_900_000_000,
    )


def test_send_queues_the_message_at_the_remote_mailbox(
    payment_mailbox, business_mailbox, recipient, stranger
):
    body = _outcome(stranger)
    tx = business_mailbox.send(PAYMENT_DOMAIN, recipient, 2, body.encode(), {"from": stranger})
    expected = Message.of(
        BUSINESS_DOMAIN, stranger.address, PAYMENT_DOMAIN, recipient.address, 0, body
    )
    message_id, nonce = tx.return_value
    assert message_id == "0x" + expected.id.hex()
    assert nonce == 0
    event = tx.events["MessageSent"]
    assert event["messageId"] == "0x" + expected.id.hex()
    assert event["destinationDomain"] == PAYMENT_DOMAIN
    assert event["destinationApp"] == recipient
    assert bytes(event["message"]) == expected.encode()
    assert tx.events["InboundMessageQueued"]["messageId"] == "0x" + expected.id.hex()
    assert business_mailbox.nextNonce() == 1
    assert business_mailbox.sentCount() == 1
    assert payment_mailbox.pendingInboundCount() == 1
    assert bytes(payment_mailbox.inboundMessage(0)) == expected.encode()


def test_process_next_inbound_message_calls_the_recipient(
    payment_mailbox, business_mailbox, recipient, stranger
):
    body = _outcome(stranger)
    business_mailbox.send(PAYMENT_DOMAIN, recipient, 2, body.encode(), {"from": stranger})
    expected = Message.of(
        BUSINESS_DOMAIN, stranger.address, PAYMENT_DOMAIN, recipient.address, 0, body
    )
    tx = payment_mailbox.processNextInboundMessage({"from": stranger})
    assert tx.events["MessageDelivered"] == {
        "messageId": "0x" + expected.id.hex(),
        "sourceDomain": BUSINESS_DOMAIN,
        "recipient": recipient,
    }
    received = tx.events["MessageReceived"]
    assert received["messageId"] == "0x" + expected.id.hex()
    assert received["sourceDomain"] == BUSINESS_DOMAIN
    assert received["sourceApp"] == stranger
    assert received["kind"] == 2
    assert bytes(received["body"]) == body.encode()
    assert recipient.received() == 1
    assert payment_mailbox.delivered(expected.id)
    assert payment_mailbox.pendingInboundCount() == 0


def test_deliver_next_with_an_empty_queue_reverts(payment_mailbox, stranger):
    with brownie.reverts(err("MockMailboxQueueEmpty")):
        payment_mailbox.deliverNext({"from": stranger})
    assert payment_mailbox.pendingInboundCount() == 0


def test_a_recipient_revert_bubbles_up_and_keeps_the_message_queued(
    payment_mailbox, business_mailbox, recipient, stranger
):
    body = _outcome(stranger)
    business_mailbox.send(PAYMENT_DOMAIN, recipient, 2, body.encode(), {"from": stranger})
    recipient.setFailing(True, {"from": stranger})
    expected = Message.of(
        BUSINESS_DOMAIN, stranger.address, PAYMENT_DOMAIN, recipient.address, 0, body
    )
    with brownie.reverts(err("MockAppFailing", expected.id)):
        payment_mailbox.deliverNext({"from": stranger})
    assert payment_mailbox.pendingInboundCount() == 1
    assert not payment_mailbox.delivered(expected.id)
    assert recipient.received() == 0


def test_a_queued_replay_is_skipped_as_already_consumed(payment_mailbox, recipient, stranger):
    message = Message.of(
        BUSINESS_DOMAIN,
        stranger.address,
        PAYMENT_DOMAIN,
        recipient.address,
        7,
        PaymentSettled(b"\x01" * 32, b"\x02" * 32, SettlementResult.PAID, 5),
    )
    payment_mailbox.addInboundMessage(message.encode(), {"from": stranger})
    payment_mailbox.addInboundMessage(message.encode(), {"from": stranger})
    payment_mailbox.deliverNext({"from": stranger})
    tx = payment_mailbox.deliverNext({"from": stranger})
    assert tx.events["MessageAlreadyConsumed"] == {
        "messageId": "0x" + message.id.hex(),
        "caller": stranger,
    }
    assert "MessageReceived" not in tx.events
    assert recipient.received() == 1
    assert payment_mailbox.pendingInboundCount() == 0


def test_send_refuses_a_body_of_the_wrong_length(business_mailbox, recipient, stranger):
    with brownie.reverts("MessageBodyLength: 2, 223, 224"):
        business_mailbox.send(PAYMENT_DOMAIN, recipient, 2, b"\x00" * 223, {"from": stranger})
    assert business_mailbox.nextNonce() == 0


def test_send_refuses_an_unknown_kind(business_mailbox, recipient, stranger):
    with brownie.reverts("MessageKindUnknown: 9"):
        business_mailbox.send(PAYMENT_DOMAIN, recipient, 9, b"", {"from": stranger})
    assert business_mailbox.nextNonce() == 0


def test_send_to_its_own_domain_reverts(business_mailbox, recipient, stranger):
    body = _outcome(stranger).encode()
    with brownie.reverts(f"MockMailboxDestinationIsLocal: {BUSINESS_DOMAIN}"):
        business_mailbox.send(BUSINESS_DOMAIN, recipient, 2, body, {"from": stranger})
    assert business_mailbox.nextNonce() == 0


def test_add_inbound_message_refuses_another_destination(payment_mailbox, recipient, stranger):
    message = Message.of(
        BUSINESS_DOMAIN,
        stranger.address,
        BUSINESS_DOMAIN,
        recipient.address,
        0,
        PaymentSettled(b"\x01" * 32, b"\x02" * 32, SettlementResult.PAID, 5),
    )
    with brownie.reverts(f"MockMailboxWrongDestination: {BUSINESS_DOMAIN}, {PAYMENT_DOMAIN}"):
        payment_mailbox.addInboundMessage(message.encode(), {"from": stranger})
    assert payment_mailbox.inboundCount() == 0
