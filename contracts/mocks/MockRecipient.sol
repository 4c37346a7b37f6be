// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";

/// @title MockRecipient
/// @notice TEST ONLY. A message recipient that records what it receives and can be told to
///         revert (a stand-in for a paused token or a frozen payee), or to burn gas.
///         Roles: none; only its inbox may call receiveMessage.
contract MockRecipient is IMessageRecipient {
    address private immutable _inbox;
    bool private _failing;
    uint256 private _received;
    bytes32 private _lastMessageId;

    /// @notice A message arrived from the inbox.
    event MessageReceived(
        bytes32 indexed messageId, uint32 indexed sourceDomain, address indexed sourceApp, uint8 kind, bytes body
    );

    /// @notice Whether the recipient now reverts was switched.
    event FailingSet(bool failing);

    /// @notice The recipient was told to fail (a passing fault).
    error MockRecipientFailing(bytes32 messageId);

    /// @notice Only the inbox may deliver.
    error MockRecipientNotInbox(address caller);

    /// @param inbox_ the only address allowed to call receiveMessage
    constructor(address inbox_) {
        _inbox = inbox_;
    }

    /// @notice Make receiveMessage revert (true) or succeed (false).
    function setFailing(bool failing) external {
        _failing = failing;
        emit FailingSet(failing);
    }

    /// @inheritdoc IMessageRecipient
    function receiveMessage(uint32 sourceDomain, address sourceApp, bytes32 messageId, uint8 kind, bytes calldata body)
        external
    {
        if (msg.sender != _inbox) revert MockRecipientNotInbox(msg.sender);
        if (_failing) revert MockRecipientFailing(messageId);
        _received += 1;
        _lastMessageId = messageId;
        emit MessageReceived(messageId, sourceDomain, sourceApp, kind, body);
    }

    /// @notice How many messages arrived.
    function received() external view returns (uint256) {
        return _received;
    }

    /// @notice The id of the last message that arrived.
    function lastMessageId() external view returns (bytes32) {
        return _lastMessageId;
    }

    /// @notice Whether receiveMessage reverts.
    function failing() external view returns (bool) {
        return _failing;
    }
}
