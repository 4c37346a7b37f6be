// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";
import {IOutbox} from "../interfaces/IOutbox.sol";

/// @title MockApp
/// @notice TEST ONLY. A messaging app: it sends through an outbox and receives from its
///         inbox, records what it receives, and can be told to revert (a stand-in for a
///         paused token or a frozen payee) or to burn all the gas it is given.
///         Roles: none; only its inbox may call receiveMessage.
contract MockApp is IMessageRecipient {
    address private immutable _inbox;
    bool private _failing;
    bool private _burning;
    uint256 private _received;
    bytes32 private _lastMessageId;

    /// @notice A message arrived from the inbox.
    event MessageReceived(
        bytes32 indexed messageId, uint32 indexed sourceDomain, address indexed sourceApp, uint8 kind, bytes body
    );

    /// @notice Whether the app now reverts was switched.
    event FailingSet(bool failing);

    /// @notice Whether the app now burns all its gas was switched.
    event BurningSet(bool burning);

    /// @notice The app was told to fail (a passing fault).
    error MockAppFailing(bytes32 messageId);

    /// @notice Only the inbox may deliver.
    error MockAppNotInbox(address caller);

    /// @param inbox_ the only address allowed to call receiveMessage
    constructor(address inbox_) {
        _inbox = inbox_;
    }

    /// @notice Make receiveMessage revert (true) or succeed (false).
    function setFailing(bool failing_) external {
        _failing = failing_;
        emit FailingSet(failing_);
    }

    /// @notice Make receiveMessage loop until it runs out of gas (true) or not (false).
    function setBurning(bool burning_) external {
        _burning = burning_;
        emit BurningSet(burning_);
    }

    /// @notice Send a message through `outbox` as this app.
    function sendVia(IOutbox outbox, uint32 destinationDomain, address destinationApp, uint8 kind, bytes calldata body)
        external
        returns (bytes32 messageId, uint64 nonce)
    {
        return outbox.send(destinationDomain, destinationApp, kind, body);
    }

    /// @inheritdoc IMessageRecipient
    function receiveMessage(uint32 sourceDomain, address sourceApp, bytes32 messageId, uint8 kind, bytes calldata body)
        external
    {
        if (msg.sender != _inbox) revert MockAppNotInbox(msg.sender);
        if (_failing) revert MockAppFailing(messageId);
        if (_burning) {
            uint256 spin = 0;
            while (true) {
                ++spin;
            }
        }
        ++_received;
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
