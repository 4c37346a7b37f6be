// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IMessageRecipient
/// @notice What every pvd contract app implements to receive a verified cross-chain
///         message. Only the local inbox (or, in single-chain tests, a mock delivery) may
///         call it. There is no generic call: the app acts on the message `kind` alone.
interface IMessageRecipient {
    /// @notice Act on a verified message. Reverting makes the inbox record the message as
    ///         verified-but-failed, retryable later; it must not revert for a message that
    ///         is merely unexpected (answer it instead, e.g. with a Rejected outcome).
    /// @param sourceDomain the protocol domain id of the sending chain
    /// @param sourceApp    the sending contract on that chain
    /// @param messageId    keccak256 of the message's encoding (see docs/messages.md)
    /// @param kind         one of the fixed kinds in MessageCodec
    /// @param body         the kind's fixed-layout body
    function receiveMessage(uint32 sourceDomain, address sourceApp, bytes32 messageId, uint8 kind, bytes calldata body)
        external;
}
