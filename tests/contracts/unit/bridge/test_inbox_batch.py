"""Batch delivery: many messages in one transaction, packed (each message after its 2-byte
length; every message's signatures in one array); one bad message does not sink the others,
it is reported and changes nothing. A batch that cannot be unpacked reverts whole."""

import brownie
from eth_abi import encode as abi_encode
from eth_utils.crypto import keccak

from pvd.protocol.attestation import batch_signatures
from pvd.protocol.messages import batch_messages
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


def _lists(inbox, messages, signers=None):
    """Each message's encoding and signatures, as lists (to alter one before packing)."""
    return (
        [m.encode() for m in messages],
        [sign(inbox, m, signers or ATTESTERS[:2]) for m in messages],
    )


def _packed(encodings, signatures):
    return batch_messages(encodings), batch_signatures(signatures)


def _batch(inbox, messages, signers=None):
    return _packed(*_lists(inbox, messages, signers))


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
    encodings, signatures = _lists(wired_inbox, messages)
    forged = sorted([ATTESTERS[0], FORGER], key=lambda a: int(a.address, 16))
    signatures[1] = sign(wired_inbox, messages[1], forged)
    tx = wired_inbox.deliverBatch(*_packed(encodings, signatures), {"from": relayer})
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
    encodings, signatures = _lists(wired_inbox, messages)
    encodings[0] = encodings[0] + b"\x00"
    tx = wired_inbox.deliverBatch(*_packed(encodings, signatures), {"from": relayer})
    assert list(tx.return_value) == [REJECTED, DELIVERED]
    assert app.received() == 1


def test_a_replay_in_a_batch_is_reported_as_already_consumed(wired_inbox, app, relayer):
    message = outcome_message(app)
    tx = wired_inbox.deliverBatch(*_batch(wired_inbox, [message, message]), {"from": relayer})
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


def test_signatures_that_do_not_cut_into_equal_parts_revert(wired_inbox, app, relayer):
    messages = [outcome_message(app, nonce=n) for n in range(2)]
    packed, signatures = _batch(wired_inbox, messages)
    before = [(inbox_state(wired_inbox, m), app.received()) for m in messages]
    for cut in (signatures[:-1], signatures + b"\x00"):
        with brownie.reverts(err("InboxBatchLengthMismatch", 2, len(cut))):
            wired_inbox.deliverBatch(packed, cut, {"from": relayer})
    with brownie.reverts(err("InboxBatchLengthMismatch", 0, 1)):
        wired_inbox.deliverBatch(b"", b"\x00", {"from": relayer})
    assert [(inbox_state(wired_inbox, m), app.received()) for m in messages] == before


def test_a_length_that_runs_past_the_end_reverts_the_batch(wired_inbox, app, relayer):
    messages = [outcome_message(app, nonce=n) for n in range(2)]
    packed, signatures = _batch(wired_inbox, messages)
    second = 2 + len(messages[0].encode())  # where the second message's length is
    before = [(inbox_state(wired_inbox, m), app.received()) for m in messages]
    for broken, offset in (
        (packed[:-1], second),  # the last message is one byte short
        (packed + b"\x00", len(packed)),  # a lone byte where a length should be
        (packed[:second] + b"\xff\xff" + packed[second + 2 :], second),
        (b"\x00", 0),
    ):
        with brownie.reverts(err("InboxBatchMalformed", offset)):
            wired_inbox.deliverBatch(broken, signatures, {"from": relayer})
    assert [(inbox_state(wired_inbox, m), app.received()) for m in messages] == before


def test_a_message_given_the_wrong_number_of_signatures_is_rejected_alone(
    wired_inbox, app, relayer
):
    # Three signatures per message where the threshold is two: the batch cuts them
    # equally, and each message is checked against the threshold as a single would be.
    messages = [outcome_message(app, nonce=n) for n in range(2)]
    tx = wired_inbox.deliverBatch(*_batch(wired_inbox, messages, ATTESTERS[:3]), {"from": relayer})
    assert list(tx.return_value) == [REJECTED, REJECTED]
    assert [bytes(e["reason"]) for e in tx.events["MessageRejected"]] == [
        keccak(text="InboxSignaturesLength(uint256,uint256)")[:4]
        + abi_encode(["uint256", "uint256"], [195, 130])
    ] * 2
    assert not any(is_consumed(wired_inbox, m) for m in messages)
    assert app.received() == 0


def test_a_long_mixed_batch_reports_every_message_in_order(wired_inbox, app, relayer):
    # Each message's memory is reused by the next: results, events and state must still
    # be each message's own.
    messages = [outcome_message(app, nonce=n) for n in range(40)]
    encodings, signatures = _lists(wired_inbox, messages)
    forged = sorted([ATTESTERS[0], FORGER], key=lambda a: int(a.address, 16))
    rejected = set(range(3, 40, 7))
    for n in rejected:
        signatures[n] = sign(wired_inbox, messages[n], forged)
    encodings[13] = encodings[12]  # a replay of the message before it
    tx = wired_inbox.deliverBatch(*_packed(encodings, signatures), {"from": relayer})
    expected = [
        REJECTED if n in rejected else ALREADY_CONSUMED if n == 13 else DELIVERED for n in range(40)
    ]
    assert list(tx.return_value) == expected
    delivered = [n for n, r in enumerate(expected) if r == DELIVERED]
    assert [e["messageId"] for e in tx.events["MessageDelivered"]] == [
        "0x" + messages[n].id.hex() for n in delivered
    ]
    assert [e["messageId"] for e in tx.events["MessageRejected"]] == [
        "0x" + messages[n].id.hex() for n in sorted(rejected)
    ]
    assert app.received() == len(delivered)
    for n, m in enumerate(messages):
        assert is_consumed(wired_inbox, m) == (n not in rejected and n != 13)


def test_an_empty_batch_does_nothing(wired_inbox, app, relayer):
    tx = wired_inbox.deliverBatch(b"", b"", {"from": relayer})
    assert list(tx.return_value) == []
    assert app.received() == 0
