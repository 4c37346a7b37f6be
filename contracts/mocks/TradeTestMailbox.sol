// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";
import {IOutbox} from "../interfaces/IOutbox.sol";

/// @title TradeTestMailbox
/// @notice Test-only, single-chain stand-in for the business chain's outbox *and* inbox, used
///         by the trade registry's unit tests until the bridge's MockMailbox is in main. As
///         outbox it records every send and emits `MessageSent`; as inbox it lets a test
///         deliver a message to a recipient (`deliver`), with no signatures and no replay
///         guard — what the real inbox verifies is the bridge's concern. Never deployed by pvd.
/// @dev Roles: anyone sends and delivers (it is a test fixture). The message id is
///      keccak256(abi.encode(version 1, source domain, source app, destination domain,
///      destination app, nonce, kind, body)) in the spirit of docs/messages.md, not the bridge's
///      canonical encoding.
contract TradeTestMailbox is IOutbox {
    uint32 private immutable _localDomain;
    uint64 private _nonce;
    uint64 private _deliveries;
    /// @dev Only the id of each sent message is stored (as a real outbox might, for relayers
    ///      to check state, not just logs); the body is in the event. Keeps gas figures honest.
    mapping(uint64 nonce => bytes32 messageId) private _sentIds;

    /// @notice `sender` sent a message of `kind` to `destinationApp` on `destinationDomain`.
    event MessageSent(
        bytes32 indexed messageId,
        uint64 indexed nonce,
        address indexed sender,
        uint32 destinationDomain,
        address destinationApp,
        uint8 kind,
        bytes body
    );

    /// @notice The test delivered message `messageId` to `recipient`.
    event MessageDelivered(bytes32 indexed messageId, address indexed recipient, uint32 sourceDomain, address sourceApp);

    /// @param localDomain_ the protocol domain id this mailbox reports as its chain's
    constructor(uint32 localDomain_) {
        _localDomain = localDomain_;
    }

    /// @inheritdoc IOutbox
    function send(uint32 destinationDomain, address destinationApp, uint8 kind, bytes calldata body)
        external
        returns (bytes32 messageId, uint64 nonce)
    {
        nonce = _nonce;
        _nonce = nonce + 1;
        messageId = keccak256(
            abi.encode(uint8(1), _localDomain, msg.sender, destinationDomain, destinationApp, nonce, kind, body)
        );
        _sentIds[nonce] = messageId;
        emit MessageSent(messageId, nonce, msg.sender, destinationDomain, destinationApp, kind, body);
    }

    /// @inheritdoc IOutbox
    function localDomain() external view returns (uint32) {
        return _localDomain;
    }

    /// @notice Play the inbox: deliver a message from (`sourceDomain`, `sourceApp`) to
    ///         `recipient`. A revert of the recipient bubbles up unchanged.
    /// @return messageId the id given to the delivered message
    function deliver(address recipient, uint32 sourceDomain, address sourceApp, uint8 kind, bytes calldata body)
        external
        returns (bytes32 messageId)
    {
        uint64 count = _deliveries;
        _deliveries = count + 1;
        messageId = keccak256(
            abi.encode(uint8(1), sourceDomain, sourceApp, _localDomain, recipient, count, kind, body)
        );
        emit MessageDelivered(messageId, recipient, sourceDomain, sourceApp);
        IMessageRecipient(recipient).receiveMessage(sourceDomain, sourceApp, messageId, kind, body);
    }

    /// @notice How many messages were sent through this mailbox.
    function sentCount() external view returns (uint256) {
        return _nonce;
    }

    /// @notice The id of the message sent with `nonce` (zero if none).
    function sentIdAt(uint64 nonce) external view returns (bytes32) {
        return _sentIds[nonce];
    }
}
