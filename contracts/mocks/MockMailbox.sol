// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";
import {IOutbox} from "../interfaces/IOutbox.sol";
import {MessageCodec} from "../libraries/MessageCodec.sol";

/// @title MockMailbox
/// @notice TEST ONLY. An outbox and a signature-free inbox in one contract, for single-chain
///         tests of the apps (modelled on Hyperlane's MockMailbox). Deploy two on one chain
///         with different domain ids, link them with `addRemoteMailbox`, and every `send` is
///         queued at the remote mailbox; `processNextInboundMessage()` (or `deliverNext()`)
///         calls the next queued message's recipient, exactly as the real Inbox does.
/// @dev Messages use the real envelope (MessageCodec), so ids match the real Outbox's.
///      Unlike the real Inbox it checks no attestation and no peer, anyone may queue an
///      inbound message (`addInboundMessage`, to test how an app treats a forged source),
///      and a recipient's revert bubbles up instead of being stored as failed.
///      Roles: none (every function is open). Never deploy it outside tests.
contract MockMailbox is IOutbox {
    uint32 private immutable _localDomain;
    uint64 private _nextNonce;
    mapping(uint32 domain => MockMailbox mailbox) private _remotes;
    bytes[] private _inbound;
    uint256 private _nextInbound;
    bytes[] private _sent;
    mapping(bytes32 messageId => bool delivered) private _delivered;

    /// @notice Same as Outbox.MessageSent: `message` is the full encoding, id its keccak256.
    event MessageSent(
        bytes32 indexed messageId, uint32 indexed destinationDomain, address indexed destinationApp, bytes message
    );

    /// @notice `remote` now receives what this mailbox sends to `domain`.
    event RemoteMailboxAdded(uint32 indexed domain, address indexed remote);

    /// @notice A message was queued here for delivery.
    event InboundMessageQueued(bytes32 indexed messageId, uint256 index);

    /// @notice A queued message was delivered to its recipient.
    event MessageDelivered(bytes32 indexed messageId, uint32 indexed sourceDomain, address indexed recipient);

    /// @notice A queued message had been delivered before: skipped, as the real Inbox
    ///         treats a replay (a clean no-op).
    event MessageAlreadyConsumed(bytes32 indexed messageId, address indexed caller);

    /// @notice The inbound queue holds nothing left to deliver.
    error MockMailboxQueueEmpty();

    /// @notice The message is for another domain than this mailbox's.
    error MockMailboxWrongDestination(uint32 destinationDomain, uint32 localDomain);


    /// @notice A message to the mailbox's own domain (use two mailboxes).
    error MockMailboxDestinationIsLocal(uint32 domain);

    /// @param localDomain_ the protocol domain id this mailbox stands for
    constructor(uint32 localDomain_) {
        _localDomain = localDomain_;
    }

    /// @notice Route what this mailbox sends to `domain` into `remote`'s inbound queue.
    function addRemoteMailbox(uint32 domain, MockMailbox remote) external {
        _remotes[domain] = remote;
        emit RemoteMailboxAdded(domain, address(remote));
    }

    /// @inheritdoc IOutbox
    /// @dev Validates the body as the real Outbox does; any sender is accepted. If a remote
    ///      mailbox is linked for the destination, the message is queued there.
    function send(uint32 destinationDomain, address destinationApp, uint8 kind, bytes calldata body)
        external
        returns (bytes32 messageId, uint64 nonce)
    {
        if (destinationDomain == _localDomain) revert MockMailboxDestinationIsLocal(destinationDomain);
        MessageCodec.checkBody(kind, body);
        nonce = _nextNonce++;
        bytes memory message =
            MessageCodec.formatMessage(_localDomain, msg.sender, destinationDomain, destinationApp, nonce, kind, body);
        messageId = keccak256(message);
        _sent.push(message);
        emit MessageSent(messageId, destinationDomain, destinationApp, message);
        MockMailbox remote = _remotes[destinationDomain];
        // Interaction last: the remote mock only appends to its queue.
        if (address(remote) != address(0)) remote.addInboundMessage(message);
    }

    /// @notice Queue an encoded message for delivery here. Open to anyone: tests use it to
    ///         present messages from sources the app must refuse.
    function addInboundMessage(bytes calldata message) external {
        MessageCodec.validateMessage(message);
        uint32 destination = MessageCodec.messageDestinationDomain(message);
        if (destination != _localDomain) revert MockMailboxWrongDestination(destination, _localDomain);
        _inbound.push(message);
        emit InboundMessageQueued(keccak256(message), _inbound.length - 1);
    }

    /// @notice Deliver the oldest queued message to its recipient; a revert in the recipient
    ///         bubbles up (and leaves the message queued). A message delivered before is
    ///         skipped with MessageAlreadyConsumed, as the real Inbox treats a replay.
    /// @return messageId the id of the processed message
    function processNextInboundMessage() public returns (bytes32 messageId) {
        uint256 index = _nextInbound;
        if (index >= _inbound.length) revert MockMailboxQueueEmpty();
        bytes memory message = _inbound[index];
        messageId = keccak256(message);
        _nextInbound = index + 1;
        if (_delivered[messageId]) {
            emit MessageAlreadyConsumed(messageId, msg.sender);
            return messageId;
        }
        _delivered[messageId] = true;
        (uint32 sourceDomain, address sourceApp, address recipient, uint8 kind, bytes memory body) =
            this.unpack(message);
        emit MessageDelivered(messageId, sourceDomain, recipient);
        // Interaction last (checks-effects-interactions): queue position and the delivered
        // flag are written first; a revert undoes them with the rest.
        IMessageRecipient(recipient).receiveMessage(sourceDomain, sourceApp, messageId, kind, body);
    }

    /// @notice Alias of processNextInboundMessage().
    function deliverNext() external returns (bytes32 messageId) {
        return processNextInboundMessage();
    }

    /// @notice Split an encoding into what receiveMessage needs (external so that the
    ///         calldata accessors of MessageCodec apply).
    function unpack(bytes calldata message)
        external
        pure
        returns (uint32 sourceDomain, address sourceApp, address recipient, uint8 kind, bytes memory body)
    {
        MessageCodec.validateMessage(message);
        return (
            MessageCodec.messageSourceDomain(message),
            MessageCodec.messageSourceApp(message),
            MessageCodec.messageDestinationApp(message),
            MessageCodec.messageKind(message),
            MessageCodec.messageBody(message)
        );
    }

    /// @inheritdoc IOutbox
    function localDomain() external view returns (uint32) {
        return _localDomain;
    }

    /// @notice The nonce the next `send` will use.
    function nextNonce() external view returns (uint64) {
        return _nextNonce;
    }

    /// @notice The mailbox that receives what is sent to `domain` (zero if none).
    function remoteMailbox(uint32 domain) external view returns (address) {
        return address(_remotes[domain]);
    }

    /// @notice How many messages were ever queued here.
    function inboundCount() external view returns (uint256) {
        return _inbound.length;
    }

    /// @notice How many queued messages wait for delivery.
    function pendingInboundCount() external view returns (uint256) {
        return _inbound.length - _nextInbound;
    }

    /// @notice The `index`-th message queued here.
    function inboundMessage(uint256 index) external view returns (bytes memory) {
        return _inbound[index];
    }

    /// @notice How many messages this mailbox sent.
    function sentCount() external view returns (uint256) {
        return _sent.length;
    }

    /// @notice The `index`-th message this mailbox sent.
    function sentMessage(uint256 index) external view returns (bytes memory) {
        return _sent[index];
    }

    /// @notice Whether the message was delivered here.
    function delivered(bytes32 messageId) external view returns (bool) {
        return _delivered[messageId];
    }
}
