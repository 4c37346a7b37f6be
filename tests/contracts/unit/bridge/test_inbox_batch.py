"""Batch delivery: many messages in one transaction; one bad message does not sink the
others, it is reported and changes nothing."""

import brownie
from eth_abi import encode as abi_encode
from eth_utils.crypto import keccak

from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    FORGER,
    delivery_status,
    err,
    inbox_state,
    is_consumed,
    outcome_message,
    sign,
)

DELIVERED, FAILED, ALREADY_CONSUMED, REJECTED = range(4)
STATUS_NONE, STATUS_DELIVERED, STATUS_FAILED = range(3)


def _batch(inbox, messages, signers=None):
    return (
        [m.encode() for m in messages],
        [sign(inbox, m, signers or ATTESTERS[:2]) for m in messages],
    )


def test_a_batch_delivers_every_valid_message(wired_inbox, app, relayer):
    messages = [outcome_message(app, nonce=n) for n in range(5)]
    tx = wired_inbox.deliverBatch(*_batch(wired_inbox, messages), {"from": relayer})
    assert list(tx.return_value) == [DELIVERED] * 5
    delivered = [e["messageId"] for e in tx.events["MessageDelivered"]]
    assert delivered == ["0x" + m.id.hex() for m in messages]
    assert app.received() == 5
    assert [e["deliverer"] for e in tx.events["MessageDelivered"]] == [relayer.address] * 5
    for m in messages:
        assert delivery_status(wired_inbox, m) == STATUS_DELIVERED
        assert is_consumed(wired_inbox, m)
    # Five consecutive nonces: one consumed word, five bits.


def test_one_forged_message_does_not_sink_the_batch(wired_inbox, app, relayer):
    messages = [outcome_message(app, nonce=n) for n in range(3)]
    encodings, signatures = _batch(wired_inbox, messages)
    forged = sorted([ATTESTERS[0], FORGER], key=lambda a: int(a.address, 16))
    signatures[1] = sign(wired_inbox, messages[1], forged)
    tx = wired_inbox.deliverBatch(encodings, signatures, {"from": relayer})
    assert list(tx.return_value) == [DELIVERED, REJECTED, DELIVERED]
    rejected = tx.events["MessageRejected"]
    assert rejected["messageId"] == "0x" + messages[1].id.hex()
    assert rejected["caller"] == relayer
    index = forged.index(FORGER)
    assert bytes(rejected["reason"]) == keccak(text="InboxSignerNotAttester(uint256,address)")[
        :4
    ] + abi_encode(["uint256", "address"], [index, FORGER.address])
    assert not is_consumed(wired_inbox, messages[1])
    assert delivery_status(wired_inbox, messages[1]) == STATUS_NONE
    assert is_consumed(wired_inbox, messages[0])
    assert is_consumed(wired_inbox, messages[2])
    assert app.received() == 2


def test_a_malformed_message_in_a_batch_is_rejected_alone(wired_inbox, app, relayer):
    messages = [outcome_message(app, nonce=n) for n in range(2)]
    encodings, signatures = _batch(wired_inbox, messages)
    encodings[0] = encodings[0] + b"\x00"
    tx = wired_inbox.deliverBatch(encodings, signatures, {"from": relayer})
    assert list(tx.return_value) == [REJECTED, DELIVERED]
    assert app.received() == 1


def test_a_replay_in_a_batch_is_reported_as_already_consumed(wired_inbox, app, relayer):
    message = outcome_message(app)
    encodings, signatures = _batch(wired_inbox, [message, message])
    tx = wired_inbox.deliverBatch(encodings, signatures, {"from": relayer})
    assert list(tx.return_value) == [DELIVERED, ALREADY_CONSUMED]
    assert "MessageAlreadyConsumed" in tx.events
    assert app.received() == 1


def test_a_failing_recipient_in_a_batch_stores_only_that_message_as_failed(
    wired_inbox, app, relayer
):
    app.setFailing(True, {"from": relayer})
    messages = [outcome_message(app, nonce=n) for n in range(2)]
    tx = wired_inbox.deliverBatch(*_batch(wired_inbox, messages), {"from": relayer})
    assert list(tx.return_value) == [FAILED, FAILED]
    assert [delivery_status(wired_inbox, m) for m in messages] == [STATUS_FAILED] * 2
    assert [tuple(wired_inbox.failureOf(m.id)) for m in messages] == [(STATUS_FAILED, 1)] * 2


def test_a_batch_with_arrays_of_different_lengths_reverts(wired_inbox, app, relayer):
    message = outcome_message(app)
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(err("InboxBatchLengthMismatch", 1, 0)):
        wired_inbox.deliverBatch([message.encode()], [], {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before


def test_an_empty_batch_does_nothing(wired_inbox, app, relayer):
    tx = wired_inbox.deliverBatch([], [], {"from": relayer})
    assert list(tx.return_value) == []
    assert app.received() == 0
