"""The pvd message envelope and its bodies: encode, strict decode and id.

The byte-identical twin of contracts/libraries/MessageCodec.sol (layout: docs/messages.md).
A message is a packed 58-byte header followed by the body of its kind; its id is the
keccak256 of the whole encoding. Decoding is strict in the same order and with the same
errors (name and arguments) as the Solidity library, so that a relayer can tell before
submitting exactly what the inbox would say:

    MessageTooShort(length, minimum)           fewer than 58 bytes
    MessageVersionUnsupported(version, expected)
    MessageKindUnknown(kind)
    MessageBodyLength(kind, length, expected)   truncated or padded
    MessageBodyWordInvalid(kind, word, value)   a body word that is not canonical

Values are frozen dataclasses; addresses are held checksummed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Self

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from pvd.errors import ContractError

VERSION = 1
HEADER_LENGTH = 58
WORD = 32

UINT8_MAX = 2**8 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
UINT160_MAX = 2**160 - 1
UINT256_MAX = 2**256 - 1


class Kind(IntEnum):
    """The only message kinds (MessageCodec.PAYMENT_HELD ...)."""

    PAYMENT_HELD = 1
    TRADE_OUTCOME = 2
    PAYMENT_SETTLED = 3


class Outcome(IntEnum):
    """MessageCodec.Outcome: how a trade ended, as the business chain reports it."""

    NONE = 0
    DELIVERED = 1
    EXPIRED = 2
    REJECTED = 3


class SettlementResult(IntEnum):
    """MessageCodec.SettlementResult: what happened to the money."""

    NONE = 0
    PAID = 1
    REFUNDED = 2


BODY_LENGTH: dict[int, int] = {
    Kind.PAYMENT_HELD: 7 * WORD,
    Kind.TRADE_OUTCOME: 7 * WORD,
    Kind.PAYMENT_SETTLED: 4 * WORD,
}

# Per kind, the body words that are not full 256-bit values, with their allowed range
# (checked in this order, as MessageCodec.checkBody does).
_WORD_RULES: dict[int, tuple[tuple[int, int, int], ...]] = {
    # (tradeId, holdId, payer, payee, token, amount, expiry)
    Kind.PAYMENT_HELD: (
        (2, 0, UINT160_MAX),
        (3, 0, UINT160_MAX),
        (4, 0, UINT160_MAX),
        (6, 0, UINT64_MAX),
    ),
    # (tradeId, holdId, outcome, payer, payee, amount, expiry)
    Kind.TRADE_OUTCOME: (
        (2, 1, max(Outcome)),
        (3, 0, UINT160_MAX),
        (4, 0, UINT160_MAX),
        (6, 0, UINT64_MAX),
    ),
    # (tradeId, holdId, result, amount)
    Kind.PAYMENT_SETTLED: ((2, 1, max(SettlementResult)),),
}


class MessageFormatError(ContractError):
    """An encoding the inbox would refuse."""

    name = "MessageFormatError"


class MessageTooShort(MessageFormatError):
    name = "MessageTooShort"


class MessageVersionUnsupported(MessageFormatError):
    name = "MessageVersionUnsupported"


class MessageKindUnknown(MessageFormatError):
    name = "MessageKindUnknown"


class MessageBodyLength(MessageFormatError):
    name = "MessageBodyLength"


class MessageBodyWordInvalid(MessageFormatError):
    name = "MessageBodyWordInvalid"


def _address(value: str | bytes) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        if len(value) != 20:
            raise ValueError(f"an address is 20 bytes, got {len(value)}")
        return _checksummed(bytes(value))
    return _checksummed(value)


@functools.lru_cache(maxsize=4096)  # a relayer sees the same few apps and parties
def _checksummed(value: str | bytes) -> str:
    return str(to_checksum_address(value))


def _bytes32(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != WORD:
        raise ValueError(f"{name} must be 32 bytes")
    return value


def _uint(value: int, maximum: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer in 0..{maximum}, got {value!r}")
    return value


def body_length(kind: int) -> int:
    """The one valid body length of `kind` (raises MessageKindUnknown)."""
    try:
        return BODY_LENGTH[kind]
    except KeyError:
        raise MessageKindUnknown(kind) from None


def check_body(kind: int, body: bytes) -> None:
    """Raise unless `body` is the canonical body of a known kind (MessageCodec.checkBody)."""
    expected = body_length(kind)
    if len(body) != expected:
        raise MessageBodyLength(kind, len(body), expected)
    for word, low, high in _WORD_RULES[kind]:
        raw = body[word * WORD : (word + 1) * WORD]
        value = int.from_bytes(raw, "big")
        if not low <= value <= high:
            raise MessageBodyWordInvalid(kind, word, raw)


def _words(body: bytes) -> list[int]:
    return [int.from_bytes(body[i : i + WORD], "big") for i in range(0, len(body), WORD)]


def _word(value: int) -> bytes:
    return value.to_bytes(WORD, "big")


def _address_word(value: str) -> bytes:
    return _word(int(value, 16))


@dataclass(frozen=True)
class PaymentHeld:
    """payment chain -> business chain: a hold for the trade is in place."""

    KIND: ClassVar[Kind] = Kind.PAYMENT_HELD

    trade_id: bytes
    hold_id: bytes
    payer: str
    payee: str
    token: str
    amount: int
    expiry: int

    def __post_init__(self) -> None:
        _bytes32(self.trade_id, "trade_id")
        _bytes32(self.hold_id, "hold_id")
        for name in ("payer", "payee", "token"):
            object.__setattr__(self, name, _address(getattr(self, name)))
        _uint(self.amount, UINT256_MAX, "amount")
        _uint(self.expiry, UINT64_MAX, "expiry")

    def encode(self) -> bytes:
        """abi.encode(tradeId, holdId, payer, payee, token, amount, expiry)."""
        return b"".join(
            (
                self.trade_id,
                self.hold_id,
                _address_word(self.payer),
                _address_word(self.payee),
                _address_word(self.token),
                _word(self.amount),
                _word(self.expiry),
            )
        )

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Strictly decode a body (raises MessageFormatError)."""
        check_body(cls.KIND, body)
        w = _words(body)
        return cls(
            trade_id=body[0:32],
            hold_id=body[32:64],
            payer=_address(w[2].to_bytes(20, "big")),
            payee=_address(w[3].to_bytes(20, "big")),
            token=_address(w[4].to_bytes(20, "big")),
            amount=w[5],
            expiry=w[6],
        )


@dataclass(frozen=True)
class TradeOutcome:
    """business chain -> payment chain: execute (Delivered) or release the hold."""

    KIND: ClassVar[Kind] = Kind.TRADE_OUTCOME

    trade_id: bytes
    hold_id: bytes
    outcome: Outcome
    payer: str
    payee: str
    amount: int
    expiry: int

    def __post_init__(self) -> None:
        _bytes32(self.trade_id, "trade_id")
        _bytes32(self.hold_id, "hold_id")
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        if self.outcome is Outcome.NONE:
            raise ValueError("a trade outcome cannot be NONE")
        for name in ("payer", "payee"):
            object.__setattr__(self, name, _address(getattr(self, name)))
        _uint(self.amount, UINT256_MAX, "amount")
        _uint(self.expiry, UINT64_MAX, "expiry")

    def encode(self) -> bytes:
        """abi.encode(tradeId, holdId, outcome, payer, payee, amount, expiry)."""
        return b"".join(
            (
                self.trade_id,
                self.hold_id,
                _word(int(self.outcome)),
                _address_word(self.payer),
                _address_word(self.payee),
                _word(self.amount),
                _word(self.expiry),
            )
        )

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Strictly decode a body (raises MessageFormatError)."""
        check_body(cls.KIND, body)
        w = _words(body)
        return cls(
            trade_id=body[0:32],
            hold_id=body[32:64],
            outcome=Outcome(w[2]),
            payer=_address(w[3].to_bytes(20, "big")),
            payee=_address(w[4].to_bytes(20, "big")),
            amount=w[5],
            expiry=w[6],
        )


@dataclass(frozen=True)
class PaymentSettled:
    """payment chain -> business chain: the hold was executed (Paid) or released."""

    KIND: ClassVar[Kind] = Kind.PAYMENT_SETTLED

    trade_id: bytes
    hold_id: bytes
    result: SettlementResult
    amount: int

    def __post_init__(self) -> None:
        _bytes32(self.trade_id, "trade_id")
        _bytes32(self.hold_id, "hold_id")
        object.__setattr__(self, "result", SettlementResult(self.result))
        if self.result is SettlementResult.NONE:
            raise ValueError("a settlement result cannot be NONE")
        _uint(self.amount, UINT256_MAX, "amount")

    def encode(self) -> bytes:
        """abi.encode(tradeId, holdId, result, amount)."""
        return b"".join((self.trade_id, self.hold_id, _word(int(self.result)), _word(self.amount)))

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Strictly decode a body (raises MessageFormatError)."""
        check_body(cls.KIND, body)
        w = _words(body)
        return cls(
            trade_id=body[0:32],
            hold_id=body[32:64],
            result=SettlementResult(w[2]),
            amount=w[3],
        )


Body = PaymentHeld | TradeOutcome | PaymentSettled

_BODY_TYPES: dict[int, type[PaymentHeld] | type[TradeOutcome] | type[PaymentSettled]] = {
    Kind.PAYMENT_HELD: PaymentHeld,
    Kind.TRADE_OUTCOME: TradeOutcome,
    Kind.PAYMENT_SETTLED: PaymentSettled,
}


@dataclass(frozen=True)
class Message:
    """One cross-chain message. The constructor checks each field's range (so that the
    encoding is well defined); `decode` and `validate` check everything the inbox does."""

    source_domain: int
    source_app: str
    destination_domain: int
    destination_app: str
    nonce: int
    kind: int
    body: bytes = field(repr=False)
    version: int = VERSION

    def __post_init__(self) -> None:
        _uint(self.version, UINT8_MAX, "version")
        _uint(self.source_domain, UINT32_MAX, "source_domain")
        _uint(self.destination_domain, UINT32_MAX, "destination_domain")
        _uint(self.nonce, UINT64_MAX, "nonce")
        _uint(self.kind, UINT8_MAX, "kind")
        if self.kind in BODY_LENGTH:
            object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "source_app", _address(self.source_app))
        object.__setattr__(self, "destination_app", _address(self.destination_app))
        if not isinstance(self.body, bytes):
            raise ValueError("body must be bytes")

    @classmethod
    def of(
        cls,
        source_domain: int,
        source_app: str,
        destination_domain: int,
        destination_app: str,
        nonce: int,
        body: Body,
    ) -> Message:
        """A version-1 message carrying a typed body (what an outbox would emit)."""
        return cls(
            source_domain=source_domain,
            source_app=source_app,
            destination_domain=destination_domain,
            destination_app=destination_app,
            nonce=nonce,
            kind=body.KIND,
            body=body.encode(),
        )

    def encode(self) -> bytes:
        """The packed encoding (MessageCodec.encodeMessage): no validation of the body."""
        return b"".join(
            (
                self.version.to_bytes(1, "big"),
                self.source_domain.to_bytes(4, "big"),
                bytes.fromhex(self.source_app[2:]),
                self.destination_domain.to_bytes(4, "big"),
                bytes.fromhex(self.destination_app[2:]),
                self.nonce.to_bytes(8, "big"),
                int(self.kind).to_bytes(1, "big"),
                self.body,
            )
        )

    @property
    def id(self) -> bytes:
        """keccak256 of the encoding."""
        return message_id(self.encode())

    def validate(self) -> None:
        """Raise MessageFormatError if the inbox would refuse this encoding."""
        validate_message(self.encode())

    def decoded_body(self) -> Body:
        """The typed body (strict: raises MessageFormatError)."""
        body_length(self.kind)
        return _BODY_TYPES[self.kind].decode(self.body)

    def is_refund(self) -> bool:
        """MessageCodec.isRefund: a release outcome or a Refunded settlement."""
        body = self.decoded_body()
        if isinstance(body, TradeOutcome):
            return body.outcome in (Outcome.EXPIRED, Outcome.REJECTED)
        if isinstance(body, PaymentSettled):
            return body.result is SettlementResult.REFUNDED
        return False

    @classmethod
    def decode(cls, data: bytes) -> Message:
        """Strictly decode an encoding (MessageCodec.decodeMessage)."""
        validate_message(data)
        return cls(
            version=data[0],
            source_domain=int.from_bytes(data[1:5], "big"),
            source_app=_address(data[5:25]),
            destination_domain=int.from_bytes(data[25:29], "big"),
            destination_app=_address(data[29:49]),
            nonce=int.from_bytes(data[49:57], "big"),
            kind=data[57],
            body=bytes(data[HEADER_LENGTH:]),
        )


def validate_message(data: bytes) -> None:
    """Raise MessageFormatError unless `data` is a valid encoding (MessageCodec.validateMessage)."""
    if len(data) < HEADER_LENGTH:
        raise MessageTooShort(len(data), HEADER_LENGTH)
    if data[0] != VERSION:
        raise MessageVersionUnsupported(data[0], VERSION)
    check_body(data[57], bytes(data[HEADER_LENGTH:]))


def message_id(data: bytes) -> bytes:
    """keccak256 of an encoding."""
    return bytes(keccak(data))


BATCH_LENGTH_BYTES = 2  # each message's length before it in Inbox.deliverBatch


def batch_messages(encodings: Sequence[bytes]) -> bytes:
    """Encodings packed as Inbox.deliverBatch takes them: each preceded by its length as
    2 bytes big-endian, concatenated (no ABI offsets, lengths or padding per message).
    Raises ValueError for an encoding of 65,536 bytes or more."""
    packed = bytearray()
    for encoding in encodings:
        if len(encoding) >= 1 << (8 * BATCH_LENGTH_BYTES):
            raise ValueError(f"a batched message is at most 65,535 bytes, got {len(encoding)}")
        packed += len(encoding).to_bytes(BATCH_LENGTH_BYTES, "big") + encoding
    return bytes(packed)
