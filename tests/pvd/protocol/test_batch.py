"""The packed calldata of Inbox.deliverBatch: messages after their 2-byte lengths, every
message's signatures in one array of equal parts."""

import pytest

from pvd.protocol.attestation import batch_signatures
from pvd.protocol.messages import batch_messages


def test_each_message_follows_its_length_big_endian():
    first, second = b"\x01" * 282, b"\x02" * 186
    packed = batch_messages([first, second])
    assert packed == b"\x01\x1a" + first + b"\x00\xba" + second
    assert batch_messages([]) == b""


def test_a_message_too_long_for_two_bytes_of_length_is_refused():
    assert batch_messages([b"\x00" * 65_535])[:2] == b"\xff\xff"
    with pytest.raises(ValueError, match="65,535"):
        batch_messages([b"\x00" * 65_536])


def test_signatures_are_concatenated_in_order_and_must_be_equal_parts():
    assert batch_signatures([b"a" * 130, b"b" * 130]) == b"a" * 130 + b"b" * 130
    assert batch_signatures([]) == b""
    with pytest.raises(ValueError, match="differ in length"):
        batch_signatures([b"a" * 130, b"b" * 195])
