// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IOutbox
/// @notice Where a registered local app sends a message to its peer on another domain.
interface IOutbox {
    /// @notice Send a message of a fixed `kind` from msg.sender (a registered app) to
    ///         `destinationApp` on `destinationDomain`. Emits the outbox's message event.
    /// @return messageId keccak256 of the full message encoding
    /// @return nonce     the sending app's nonce for the message (per app: only ever increases)
    function send(uint32 destinationDomain, address destinationApp, uint8 kind, bytes calldata body)
        external
        returns (bytes32 messageId, uint64 nonce);

    /// @notice The protocol domain id of this chain (set at deployment).
    function localDomain() external view returns (uint32);
}
