"""Properties of pvd.protocol.messages over random messages (Hypothesis; Python only).

The contract side of the same properties is tests/contracts/unit/bridge/test_codec_parity.py.
"""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from pvd.protocol.messages import (
    HEADER_LENGTH,
    Message,
    MessageBodyLength,
    MessageFormatError,
    MessageKindUnknown,
    MessageTooShort,
    MessageVersionUnsupported,
    validate_message,
)
from tests.message_strategies import messages


@settings(max_examples=300)
@given(messages)
def test_decode_inverts_encode(message: Message) -> None:
    assert Message.decode(message.encode()) == message


@settings(max_examples=300)
@given(messages)
def test_the_id_is_the_keccak_of_the_encoding(message: Message) -> None:
    assert message.id == bytes(keccak(message.encode()))


@settings(max_examples=300)
@given(messages)
def test_the_body_decodes_to_the_typed_body(message: Message) -> None:
    assert message.decoded_body().encode() == message.body


@settings(max_examples=300)
@given(messages, st.integers(1, 300))
def test_every_truncation_is_rejected(message: Message, cut: int) -> None:
    encoding = message.encode()
    truncated = encoding[: max(0, len(encoding) - cut)]
    with pytest.raises((MessageTooShort, MessageBodyLength)):
        validate_message(truncated)


@settings(max_examples=300)
@given(messages, st.binary(min_size=1, max_size=64))
def test_every_padding_is_rejected(message: Message, padding: bytes) -> None:
    with pytest.raises(MessageBodyLength):
        validate_message(message.encode() + padding)


@settings(max_examples=200)
@given(messages, st.integers(0, 255).filter(lambda v: v != 1))
def test_every_other_version_is_rejected(message: Message, version: int) -> None:
    encoding = bytes([version]) + message.encode()[1:]
    with pytest.raises(MessageVersionUnsupported):
        validate_message(encoding)


@settings(max_examples=200)
@given(messages, st.integers(0, 255).filter(lambda k: k not in (1, 2, 3)))
def test_every_unknown_kind_is_rejected(message: Message, kind: int) -> None:
    encoding = message.encode()
    with pytest.raises(MessageKindUnknown):
        validate_message(encoding[:57] + bytes([kind]) + encoding[HEADER_LENGTH:])


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_any_accepted_byte_string_is_the_one_encoding_of_its_message(data: bytes) -> None:
    try:
        message = Message.decode(data)
    except MessageFormatError:
        return
    assert message.encode() == data


@settings(max_examples=300)
@given(messages, st.data())
def test_flipping_any_byte_changes_the_id_or_is_rejected(
    message: Message, data: st.DataObject
) -> None:
    encoding = message.encode()
    index = data.draw(st.integers(0, len(encoding) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = encoding[:index] + bytes([encoding[index] ^ flip]) + encoding[index + 1 :]
    try:
        other = Message.decode(mutated)
    except MessageFormatError:
        return
    assert other != message
    assert other.id != message.id
