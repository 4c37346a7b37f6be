// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {IOutbox} from "../interfaces/IOutbox.sol";
import {MessageCodec} from "../libraries/MessageCodec.sol";

/// @title Outbox
/// @notice Where this chain's registered apps send messages to their peers on other
///         domains. It numbers each message with its own nonce (starts at 0, only ever
///         increases), encodes it (MessageCodec, docs/messages.md) and emits MessageSent,
///         which carries everything a relayer needs: the full encoding and its id.
/// @dev Roles:
///      - owner (two-step, Ownable2Step): registers and unregisters the apps that may send.
///        It cannot forge anything: a message's source app is always msg.sender, and the
///        destination inbox accepts only the (domain, app) pairs registered there.
///      - registered app: may `send`.
///      Only the fixed kinds with canonical bodies can be sent (MessageCodec.checkBody);
///      no message can name a call target or calldata.
contract Outbox is IOutbox, Ownable2Step {
    uint32 private immutable _localDomain;
    uint64 private _nextNonce;
    mapping(address app => bool registered) private _registered;

    /// @notice A message left this chain. `message` is the full encoding (source app and
    ///         nonce included), `messageId` its keccak256; the relayer needs nothing else.
    /// @param messageId         keccak256(message)
    /// @param destinationDomain the domain the message is for
    /// @param destinationApp    the recipient on that domain
    /// @param message           the encoding, as the inbox takes it
    event MessageSent(
        bytes32 indexed messageId, uint32 indexed destinationDomain, address indexed destinationApp, bytes message
    );

    /// @notice `app` may now send.
    event AppRegistered(address indexed app);

    /// @notice `app` may no longer send.
    event AppUnregistered(address indexed app);

    /// @notice The caller is not a registered app.
    error OutboxAppNotRegistered(address app);

    /// @notice A message to this outbox's own domain.
    error OutboxDestinationIsLocal(uint32 domain);

    /// @notice The destination app is the zero address.
    error OutboxDestinationAppZero(uint32 destinationDomain);

    /// @notice The app to register is the zero address or has no code.
    error OutboxAppInvalid(address app);

    /// @notice The app is already in the requested registration state.
    error OutboxAppUnchanged(address app, bool registered);

    /// @param localDomain_ this chain's protocol domain id
    /// @param owner_       who registers apps (moves in two steps)
    constructor(uint32 localDomain_, address owner_) Ownable(owner_) {
        _localDomain = localDomain_;
    }

    /// @notice Let `app` (a contract) send messages. Only the owner.
    function registerApp(address app) external onlyOwner {
        if (app.code.length == 0) revert OutboxAppInvalid(app);
        if (_registered[app]) revert OutboxAppUnchanged(app, true);
        _registered[app] = true;
        emit AppRegistered(app);
    }

    /// @notice Stop `app` from sending. Only the owner.
    function unregisterApp(address app) external onlyOwner {
        if (!_registered[app]) revert OutboxAppUnchanged(app, false);
        _registered[app] = false;
        emit AppUnregistered(app);
    }

    /// @inheritdoc IOutbox
    /// @dev Reverts unless msg.sender is registered, the destination is another domain and
    ///      a non-zero app, and `body` is the canonical body of a known kind.
    function send(uint32 destinationDomain, address destinationApp, uint8 kind, bytes calldata body)
        external
        returns (bytes32 messageId, uint64 nonce)
    {
        if (!_registered[msg.sender]) revert OutboxAppNotRegistered(msg.sender);
        if (destinationDomain == _localDomain) revert OutboxDestinationIsLocal(destinationDomain);
        if (destinationApp == address(0)) revert OutboxDestinationAppZero(destinationDomain);
        MessageCodec.checkBody(kind, body);
        nonce = _nextNonce++;
        bytes memory message =
            MessageCodec.formatMessage(_localDomain, msg.sender, destinationDomain, destinationApp, nonce, kind, body);
        messageId = keccak256(message);
        emit MessageSent(messageId, destinationDomain, destinationApp, message);
    }

    /// @inheritdoc IOutbox
    function localDomain() external view returns (uint32) {
        return _localDomain;
    }

    /// @notice The nonce the next message will carry (= the number of messages sent).
    function nextNonce() external view returns (uint64) {
        return _nextNonce;
    }

    /// @notice Whether `app` may send.
    function isRegisteredApp(address app) external view returns (bool) {
        return _registered[app];
    }
}
