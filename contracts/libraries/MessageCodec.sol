// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Assembly reads fixed offsets of a calldata encoding (one calldataload per field) and
// re-raises an ABI-encoded custom error unchanged; each block is commented.
// solhint-disable no-inline-assembly

/// @title MessageCodec
/// @notice The fixed message kinds of pvd, their bodies, and the envelope that carries a
///         body from one domain to another. Every body is the ABI encoding of a fixed tuple
///         of static types, so each kind has exactly one valid length; a truncated or padded
///         body is rejected. Byte layouts: docs/messages.md.
/// @dev Only these kinds exist. No body can name a call target or calldata.
///
/// The envelope is packed (like Circle CCTP's Message.sol): a 58-byte header, then the
/// kind's body. A message's id is keccak256 of the whole encoding.
///
///     offset | bytes | field             | type
///     -------+-------+-------------------+-----------------------------------------------
///          0 |     1 | version           | uint8, = VERSION (1)
///          1 |     4 | sourceDomain      | uint32, protocol domain id of the sending chain
///          5 |    20 | sourceApp         | address, the app that called its outbox
///         25 |     4 | destinationDomain | uint32, protocol domain id of the receiving chain
///         29 |    20 | destinationApp    | address, the recipient on that chain
///         49 |     8 | nonce             | uint64, the source outbox's nonce
///         57 |     1 | kind              | uint8, PAYMENT_HELD | TRADE_OUTCOME | PAYMENT_SETTLED
///         58 |     n | body              | n = 224 | 224 | 128 bytes, fixed by the kind
///
/// Strict decoding (`validateMessage`): the encoding is exactly 58 + n bytes, the version is
/// 1, the kind is known, and every body word is canonical for its type (addresses and uint64
/// fields have clean high bits; an outcome or result is one of its named, non-None values).
/// So every message has exactly one encoding, and so exactly one id.
library MessageCodec {
    uint8 internal constant PAYMENT_HELD = 1;
    uint8 internal constant TRADE_OUTCOME = 2;
    uint8 internal constant PAYMENT_SETTLED = 3;

    /// @notice Outcome of a trade, as the business chain reports it.
    enum Outcome {
        None,
        Delivered,
        Expired,
        Rejected
    }

    /// @notice What happened to the money, as the payment chain reports it.
    enum SettlementResult {
        None,
        Paid,
        Refunded
    }

    /// @notice payment chain -> business chain: a hold for the trade is in place.
    struct PaymentHeld {
        bytes32 tradeId;
        bytes32 holdId;
        address payer;
        address payee;
        address token;
        uint256 amount;
        uint64 expiry;
    }

    /// @notice business chain -> payment chain: execute (Delivered) or release (Expired,
    ///         Rejected) the hold. It carries the hold's fields so the settlement contract
    ///         needs no storage of its own: the token checks them against its commitment.
    struct TradeOutcome {
        bytes32 tradeId;
        bytes32 holdId;
        Outcome outcome;
        address payer;
        address payee;
        uint256 amount;
        uint64 expiry;
    }

    /// @notice payment chain -> business chain: the hold was executed or released.
    struct PaymentSettled {
        bytes32 tradeId;
        bytes32 holdId;
        SettlementResult result;
        uint256 amount;
    }

    uint256 internal constant PAYMENT_HELD_LENGTH = 7 * 32;
    uint256 internal constant TRADE_OUTCOME_LENGTH = 7 * 32;
    uint256 internal constant PAYMENT_SETTLED_LENGTH = 4 * 32;

    /// @notice A body's length does not match its kind.
    error MessageBodyLength(uint8 kind, uint256 length, uint256 expected);

    function encodePaymentHeld(PaymentHeld memory m) internal pure returns (bytes memory) {
        return abi.encode(m.tradeId, m.holdId, m.payer, m.payee, m.token, m.amount, m.expiry);
    }

    function decodePaymentHeld(bytes calldata body) internal pure returns (PaymentHeld memory m) {
        _checkLength(PAYMENT_HELD, body.length, PAYMENT_HELD_LENGTH);
        (m.tradeId, m.holdId, m.payer, m.payee, m.token, m.amount, m.expiry) =
            abi.decode(body, (bytes32, bytes32, address, address, address, uint256, uint64));
    }

    function encodeTradeOutcome(TradeOutcome memory m) internal pure returns (bytes memory) {
        return abi.encode(m.tradeId, m.holdId, m.outcome, m.payer, m.payee, m.amount, m.expiry);
    }

    function decodeTradeOutcome(bytes calldata body) internal pure returns (TradeOutcome memory m) {
        _checkLength(TRADE_OUTCOME, body.length, TRADE_OUTCOME_LENGTH);
        (m.tradeId, m.holdId, m.outcome, m.payer, m.payee, m.amount, m.expiry) =
            abi.decode(body, (bytes32, bytes32, Outcome, address, address, uint256, uint64));
    }

    /// @notice A TRADE_OUTCOME body read in place, without copying it to memory: its length
    ///         is checked here, and each field when it is read (the compiler's checks of a
    ///         calldata value: an address or enum word out of range reverts).
    function tradeOutcomeCalldata(bytes calldata body) internal pure returns (TradeOutcome calldata m) {
        _checkLength(TRADE_OUTCOME, body.length, TRADE_OUTCOME_LENGTH);
        // A TradeOutcome is seven static words: its calldata encoding is the body itself.
        assembly ("memory-safe") {
            m := body.offset
        }
    }

    function encodePaymentSettled(PaymentSettled memory m) internal pure returns (bytes memory) {
        return abi.encode(m.tradeId, m.holdId, m.result, m.amount);
    }

    function decodePaymentSettled(bytes calldata body) internal pure returns (PaymentSettled memory m) {
        _checkLength(PAYMENT_SETTLED, body.length, PAYMENT_SETTLED_LENGTH);
        (m.tradeId, m.holdId, m.result, m.amount) = abi.decode(body, (bytes32, bytes32, SettlementResult, uint256));
    }

    function _checkLength(uint8 kind, uint256 length, uint256 expected) private pure {
        if (length != expected) revert MessageBodyLength(kind, length, expected);
    }

    // ------------------------------------------------------------------------------------
    // The envelope
    // ------------------------------------------------------------------------------------

    /// @notice The only envelope version.
    uint8 internal constant VERSION = 1;

    /// @notice Bytes before the body: 1 + 4 + 20 + 4 + 20 + 8 + 1.
    uint256 internal constant HEADER_LENGTH = 58;

    /// @notice A message, field by field (off-chain tools and tests; contracts read the
    ///         calldata encoding through the accessors below).
    struct Message {
        uint8 version;
        uint32 sourceDomain;
        address sourceApp;
        uint32 destinationDomain;
        address destinationApp;
        uint64 nonce;
        uint8 kind;
        bytes body;
    }

    /// @notice The encoding is shorter than the header.
    error MessageTooShort(uint256 length, uint256 minimum);

    /// @notice The envelope's version is not VERSION.
    error MessageVersionUnsupported(uint8 version, uint8 expected);

    /// @notice The kind is none of PAYMENT_HELD, TRADE_OUTCOME, PAYMENT_SETTLED.
    error MessageKindUnknown(uint8 kind);

    /// @notice Body word `word` (0-based) is not a canonical value of its field's type.
    error MessageBodyWordInvalid(uint8 kind, uint256 word, bytes32 value);

    /// @notice The one valid body length of `kind`.
    function bodyLength(uint8 kind) internal pure returns (uint256) {
        if (kind == PAYMENT_HELD) return PAYMENT_HELD_LENGTH;
        if (kind == TRADE_OUTCOME) return TRADE_OUTCOME_LENGTH;
        if (kind == PAYMENT_SETTLED) return PAYMENT_SETTLED_LENGTH;
        revert MessageKindUnknown(kind);
    }

    /// @notice Revert unless `body` is the canonical body of a known `kind`: its one valid
    ///         length, addresses and uint64 fields with clean high bits, and an outcome or
    ///         result that is one of its named values other than None.
    function checkBody(uint8 kind, bytes calldata body) internal pure {
        _revertIf(bodyError(kind, body));
    }

    /// @notice Revert unless `message` is a valid encoding (see the table above).
    function validateMessage(bytes calldata message) internal pure {
        _revertIf(messageError(message));
    }

    /// @notice What `checkBody` would revert with (the ABI-encoded custom error), or empty
    ///         if the body is valid. For callers that must not revert (batch delivery).
    function bodyError(uint8 kind, bytes calldata body) internal pure returns (bytes memory error) {
        // One pass for a valid body (every message an outbox sent); the checks below, in
        // their order, only to name the first failure.
        if (_isCanonicalBody(kind, body)) return error;
        uint256 expected;
        if (kind == PAYMENT_HELD) expected = PAYMENT_HELD_LENGTH;
        else if (kind == TRADE_OUTCOME) expected = TRADE_OUTCOME_LENGTH;
        else if (kind == PAYMENT_SETTLED) expected = PAYMENT_SETTLED_LENGTH;
        else return abi.encodeWithSelector(MessageKindUnknown.selector, kind);
        if (body.length != expected) {
            return abi.encodeWithSelector(MessageBodyLength.selector, kind, body.length, expected);
        }
        // Words that are not full 256-bit values, checked in order; the first bad one is reported.
        if (kind == PAYMENT_SETTLED) {
            // (tradeId, holdId, result, amount)
            return _enumWordError(kind, body, 2, uint256(type(SettlementResult).max));
        }
        if (kind == PAYMENT_HELD) {
            // (tradeId, holdId, payer, payee, token, amount, expiry)
            error = _wordError(kind, body, 2, type(uint160).max);
        } else {
            // (tradeId, holdId, outcome, payer, payee, amount, expiry)
            error = _enumWordError(kind, body, 2, uint256(type(Outcome).max));
        }
        if (error.length == 0) error = _wordError(kind, body, 3, type(uint160).max);
        if (error.length == 0) error = _wordError(kind, body, 4, type(uint160).max);
        if (error.length == 0) error = _wordError(kind, body, 6, type(uint64).max);
        return error;
    }

    /// @notice What `validateMessage` would revert with (the ABI-encoded custom error), or
    ///         empty if the encoding is valid. For callers that must not revert.
    function messageError(bytes calldata message) internal pure returns (bytes memory) {
        if (message.length < HEADER_LENGTH) {
            return abi.encodeWithSelector(MessageTooShort.selector, message.length, HEADER_LENGTH);
        }
        uint8 version = messageVersion(message);
        if (version != VERSION) return abi.encodeWithSelector(MessageVersionUnsupported.selector, version, VERSION);
        bytes calldata body;
        // message[HEADER_LENGTH:] without the slice's checks: the length was checked above
        // (an offset and a length, not a value written twice).
        // slither-disable-start write-after-write
        assembly ("memory-safe") {
            body.offset := add(message.offset, HEADER_LENGTH)
            body.length := sub(message.length, HEADER_LENGTH)
        }
        // slither-disable-end write-after-write
        return bodyError(messageKind(message), body);
    }

    /// @notice The encoding of a message with VERSION (what an outbox emits). The caller
    ///         checks the body (`checkBody`) before sending it.
    function formatMessage(
        uint32 sourceDomain,
        address sourceApp,
        uint32 destinationDomain,
        address destinationApp,
        uint64 nonce,
        uint8 kind,
        bytes calldata body
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(VERSION, sourceDomain, sourceApp, destinationDomain, destinationApp, nonce, kind, body);
    }

    /// @notice The packed encoding of `m`, field by field, without validation.
    function encodeMessage(Message memory m) internal pure returns (bytes memory) {
        return abi.encodePacked(
            m.version, m.sourceDomain, m.sourceApp, m.destinationDomain, m.destinationApp, m.nonce, m.kind, m.body
        );
    }

    /// @notice Strictly decode an encoding (reverts as `validateMessage` does).
    function decodeMessage(bytes calldata message) internal pure returns (Message memory m) {
        validateMessage(message);
        m.version = messageVersion(message);
        m.sourceDomain = messageSourceDomain(message);
        m.sourceApp = messageSourceApp(message);
        m.destinationDomain = messageDestinationDomain(message);
        m.destinationApp = messageDestinationApp(message);
        m.nonce = messageNonce(message);
        m.kind = messageKind(message);
        m.body = message[HEADER_LENGTH:];
    }

    /// @notice A message's id: keccak256 of its whole encoding.
    function messageId(bytes memory message) internal pure returns (bytes32) {
        return keccak256(message);
    }

    /// @notice Whether a valid message returns money to the payer (or records that it was):
    ///         a trade outcome Expired or Rejected, or a payment settled as Refunded. The
    ///         inbox lets these through while paused (docs/adr/0007-inbox-pause-scope.md).
    function isRefund(bytes calldata message) internal pure returns (bool) {
        uint8 kind = messageKind(message);
        if (kind == TRADE_OUTCOME) {
            uint256 outcome = _bodyWord(message, 2);
            return outcome == uint256(Outcome.Expired) || outcome == uint256(Outcome.Rejected);
        }
        if (kind == PAYMENT_SETTLED) return _bodyWord(message, 2) == uint256(SettlementResult.Refunded);
        return false;
    }

    // Field accessors. They read fixed offsets of a calldata encoding and assume it is at
    // least HEADER_LENGTH bytes long: call `validateMessage` first (on a shorter encoding
    // they would read whatever calldata follows it).

    function messageVersion(bytes calldata message) internal pure returns (uint8 v) {
        assembly ("memory-safe") {
            v := shr(248, calldataload(message.offset))
        }
    }

    function messageSourceDomain(bytes calldata message) internal pure returns (uint32 d) {
        assembly ("memory-safe") {
            d := shr(224, calldataload(add(message.offset, 1)))
        }
    }

    function messageSourceApp(bytes calldata message) internal pure returns (address a) {
        assembly ("memory-safe") {
            a := shr(96, calldataload(add(message.offset, 5)))
        }
    }

    function messageDestinationDomain(bytes calldata message) internal pure returns (uint32 d) {
        assembly ("memory-safe") {
            d := shr(224, calldataload(add(message.offset, 25)))
        }
    }

    function messageDestinationApp(bytes calldata message) internal pure returns (address a) {
        assembly ("memory-safe") {
            a := shr(96, calldataload(add(message.offset, 29)))
        }
    }

    function messageNonce(bytes calldata message) internal pure returns (uint64 n) {
        assembly ("memory-safe") {
            n := shr(192, calldataload(add(message.offset, 49)))
        }
    }

    function messageKind(bytes calldata message) internal pure returns (uint8 k) {
        assembly ("memory-safe") {
            k := shr(248, calldataload(add(message.offset, 57)))
        }
    }

    function messageBody(bytes calldata message) internal pure returns (bytes calldata) {
        return message[HEADER_LENGTH:];
    }

    /// @dev Word `word` of the body of a validated message.
    function _bodyWord(bytes calldata message, uint256 word) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := calldataload(add(add(message.offset, 58), mul(word, 32)))
        }
    }

    /// @dev The error for body word `word` above `max` (empty if it is not). The caller
    ///      checked the length.
    function _wordError(uint8 kind, bytes calldata body, uint256 word, uint256 max)
        private
        pure
        returns (bytes memory error)
    {
        uint256 value;
        assembly ("memory-safe") {
            value := calldataload(add(body.offset, mul(word, 32)))
        }
        if (value > max) error = abi.encodeWithSelector(MessageBodyWordInvalid.selector, kind, word, bytes32(value));
    }

    /// @dev The error for body word `word` outside 1..max (None is not allowed), or empty.
    function _enumWordError(uint8 kind, bytes calldata body, uint256 word, uint256 max)
        private
        pure
        returns (bytes memory error)
    {
        uint256 value;
        assembly ("memory-safe") {
            value := calldataload(add(body.offset, mul(word, 32)))
        }
        if (value == 0 || value > max) {
            error = abi.encodeWithSelector(MessageBodyWordInvalid.selector, kind, word, bytes32(value));
        }
    }

    /// @dev Whether `body` is a valid body of `kind` (bodyError's checks all at once, no
    ///      error built): its kind's exact length, address words below 2^160, the expiry
    ///      below 2^64, an outcome in 1..3, a result in 1..2. A word read past a body of
    ///      the wrong length does not matter: the length check fails.
    function _isCanonicalBody(uint8 kind, bytes calldata body) private pure returns (bool valid) {
        uint256 outcomeMax = uint256(type(Outcome).max);
        uint256 resultMax = uint256(type(SettlementResult).max);
        assembly ("memory-safe") {
            let at := body.offset
            let length := body.length
            // value - 1 < max: 1..max (0 wraps around to the largest value).
            switch kind
            case 1 {
                // PAYMENT_HELD (tradeId, holdId, payer, payee, token, amount, expiry)
                valid :=
                    and(
                        eq(length, PAYMENT_HELD_LENGTH),
                        iszero(
                            or(
                                or(shr(160, calldataload(add(at, 0x40))), shr(160, calldataload(add(at, 0x60)))),
                                or(shr(160, calldataload(add(at, 0x80))), shr(64, calldataload(add(at, 0xc0))))
                            )
                        )
                    )
            }
            case 2 {
                // TRADE_OUTCOME (tradeId, holdId, outcome, payer, payee, amount, expiry)
                valid :=
                    and(
                        and(eq(length, TRADE_OUTCOME_LENGTH), lt(sub(calldataload(add(at, 0x40)), 1), outcomeMax)),
                        iszero(
                            or(
                                or(shr(160, calldataload(add(at, 0x60))), shr(160, calldataload(add(at, 0x80)))),
                                shr(64, calldataload(add(at, 0xc0)))
                            )
                        )
                    )
            }
            case 3 {
                // PAYMENT_SETTLED (tradeId, holdId, result, amount)
                valid := and(eq(length, PAYMENT_SETTLED_LENGTH), lt(sub(calldataload(add(at, 0x40)), 1), resultMax))
            }
        }
    }

    /// @dev Revert with `error` (an ABI-encoded custom error) unless it is empty.
    function _revertIf(bytes memory error) private pure {
        if (error.length != 0) {
            assembly ("memory-safe") {
                revert(add(error, 0x20), mload(error))
            }
        }
    }
}
