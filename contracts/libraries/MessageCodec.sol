// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title MessageCodec
/// @notice The fixed message kinds of pvd and their bodies. Every body is the ABI encoding
///         of a fixed tuple of static types, so each kind has exactly one valid length;
///         a truncated or padded body is rejected. Byte layouts: docs/messages.md.
/// @dev Only these kinds exist. No body can name a call target or calldata.
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
}
