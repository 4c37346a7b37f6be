// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {MessageAttestation} from "../libraries/MessageAttestation.sol";
import {MessageCodec} from "../libraries/MessageCodec.sol";

/// @title MessageCodecHarness
/// @notice TEST ONLY. Exposes MessageCodec and MessageAttestation as external functions so
///         that tests and scripts/golden_messages.py can compare them with pvd/protocol/messages.py
///         and pvd/protocol/attestation.py byte for byte. Roles: none; it holds no state.
contract MessageCodecHarness {
    /// @notice MessageCodec.encodeMessage (packed, no validation).
    function encodeMessage(MessageCodec.Message calldata m) external pure returns (bytes memory) {
        return MessageCodec.encodeMessage(m);
    }

    /// @notice MessageCodec.formatMessage (what an outbox emits).
    function formatMessage(
        uint32 sourceDomain,
        address sourceApp,
        uint32 destinationDomain,
        address destinationApp,
        uint64 nonce,
        uint8 kind,
        bytes calldata body
    ) external pure returns (bytes memory) {
        return MessageCodec.formatMessage(
            sourceDomain, sourceApp, destinationDomain, destinationApp, nonce, kind, body
        );
    }

    /// @notice MessageCodec.decodeMessage (strict).
    function decodeMessage(bytes calldata message) external pure returns (MessageCodec.Message memory) {
        return MessageCodec.decodeMessage(message);
    }

    /// @notice MessageCodec.validateMessage: returns true or reverts with the codec's error.
    function validateMessage(bytes calldata message) external pure returns (bool) {
        MessageCodec.validateMessage(message);
        return true;
    }

    /// @notice MessageCodec.checkBody: returns true or reverts with the codec's error.
    function checkBody(uint8 kind, bytes calldata body) external pure returns (bool) {
        MessageCodec.checkBody(kind, body);
        return true;
    }

    /// @notice keccak256 of the encoding.
    function messageId(bytes calldata message) external pure returns (bytes32) {
        return MessageCodec.messageId(message);
    }

    /// @notice MessageCodec.isRefund of a message that passes validation.
    function isRefund(bytes calldata message) external pure returns (bool) {
        MessageCodec.validateMessage(message);
        return MessageCodec.isRefund(message);
    }

    /// @notice MessageAttestation.domainSeparator.
    function domainSeparator(uint256 chainId, address inbox, uint32 domain, bytes32 deploymentId)
        external
        pure
        returns (bytes32)
    {
        return MessageAttestation.domainSeparator(chainId, inbox, domain, deploymentId);
    }

    /// @notice MessageAttestation.structHash of a valid message.
    function structHash(bytes calldata message) external pure returns (bytes32) {
        MessageCodec.validateMessage(message);
        return MessageAttestation.structHash(message);
    }

    /// @notice The digest attesters sign for the inbox at (`chainId`, `inbox`, `domain`) of
    ///         deployment `deploymentId`.
    function attestationDigest(
        uint256 chainId,
        address inbox,
        uint32 domain,
        bytes32 deploymentId,
        bytes calldata message
    ) external pure returns (bytes32) {
        MessageCodec.validateMessage(message);
        return MessageAttestation.digest(
            MessageAttestation.domainSeparator(chainId, inbox, domain, deploymentId), message
        );
    }

    /// @notice OpenZeppelin ECDSA.tryRecover, as the Inbox applies it to each signature:
    ///         the signer (zero on failure) and the RecoverError code (0 = none,
    ///         1 = invalid signature, 2 = invalid length, 3 = high s).
    function recoverSigner(bytes32 digest, bytes calldata signature) external pure returns (address, uint8) {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(digest, signature);
        return (signer, uint8(error));
    }

    /// @notice MessageCodec.encodePaymentHeld.
    function encodePaymentHeld(MessageCodec.PaymentHeld calldata m) external pure returns (bytes memory) {
        return MessageCodec.encodePaymentHeld(m);
    }

    /// @notice MessageCodec.encodeTradeOutcome.
    function encodeTradeOutcome(MessageCodec.TradeOutcome calldata m) external pure returns (bytes memory) {
        return MessageCodec.encodeTradeOutcome(m);
    }

    /// @notice MessageCodec.encodePaymentSettled.
    function encodePaymentSettled(MessageCodec.PaymentSettled calldata m) external pure returns (bytes memory) {
        return MessageCodec.encodePaymentSettled(m);
    }
}
