// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {DelayedGovernance} from "../governance/DelayedGovernance.sol";
import {IOutbox} from "../interfaces/IOutbox.sol";
import {MessageCodec} from "../libraries/MessageCodec.sol";

/// @title Outbox
/// @notice Where this chain's registered apps send messages to their peers on other
///         domains. It numbers each message with its own nonce (starts at 0, only ever
///         increases), encodes it (MessageCodec, docs/messages.md) and emits MessageSent,
///         which carries everything a relayer needs: the full encoding and its id.
/// @dev Roles:
///      - owner (two-step, Ownable2Step): proposes registering or unregistering an app,
///        cancels a proposal, closes the setup phase. It cannot forge anything: a message's
///        source app is always msg.sender, and the destination inbox accepts only the
///        (domain, app) pairs registered there. It cannot silence an app at once either:
///        after the setup phase every change waits `governanceDelay` seconds after its
///        proposal (an event, readable while pending), the same governance as the Inbox's
///        (DelayedGovernance). The setup phase ends at the first message sent or when the
///        owner closes it.
///      - anyone: applies a proposal once its delay has passed.
///      - registered app: may `send`.
///      Only the fixed kinds with canonical bodies can be sent (MessageCodec.checkBody);
///      no message can name a call target or calldata.
///      Nonces are per app: each app's messages are numbered 0, 1, 2, ... in the same
///      storage slot as its registration, so a send reads and writes one slot. An app
///      that is unregistered keeps its count, so registering it again never reuses a nonce.
contract Outbox is IOutbox, Ownable2Step {
    /// @notice A pending registration change of one app.
    struct PendingApp {
        bool registered;
        uint64 readyAt;
    }

    /// @dev What a send reads and writes, in one slot: whether the app may send and the
    ///      nonce its next message will carry.
    struct App {
        bool registered;
        uint64 nextNonce;
    }

    uint32 private immutable _localDomain;
    uint64 private immutable _governanceDelay;
    bool private _setupOpen;
    mapping(address app => App state) private _apps;
    mapping(address app => PendingApp pending) private _pendingApps;

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

    /// @notice Registering (`registered` true) or unregistering `app` was proposed; it can be
    ///         applied from `readyAt`.
    event AppChangeProposed(address indexed app, bool registered, uint64 readyAt);

    /// @notice The pending change of `app` was withdrawn.
    event AppChangeCancelled(address indexed app, bool registered);

    /// @notice The setup phase ended: from now on every app change waits for the delay.
    event SetupClosed(address indexed by);

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

    /// @notice The delay is above DelayedGovernance.MAX_DELAY.
    error OutboxDelayInvalid(uint64 delay, uint64 max);

    /// @notice The setup phase is over.
    error OutboxSetupClosed();

    /// @param localDomain_     this chain's protocol domain id
    /// @param owner_           who proposes app changes (moves in two steps)
    /// @param governanceDelay_ seconds between a proposal and its effect after setup
    constructor(uint32 localDomain_, address owner_, uint64 governanceDelay_) Ownable(owner_) {
        if (governanceDelay_ > DelayedGovernance.MAX_DELAY) {
            revert OutboxDelayInvalid(governanceDelay_, DelayedGovernance.MAX_DELAY);
        }
        _localDomain = localDomain_;
        _governanceDelay = governanceDelay_;
        _setupOpen = true;
    }

    /// @notice Propose that `app` may send (`registered` true; it must be a contract) or may
    ///         no longer send (false). Effective after the governance delay (at once during
    ///         setup). Replaces a pending proposal for the same app. Only the owner.
    function proposeApp(address app, bool registered) external onlyOwner {
        if (registered && app.code.length == 0) revert OutboxAppInvalid(app);
        if (_apps[app].registered == registered) revert OutboxAppUnchanged(app, registered);
        if (_setupOpen) {
            _applyApp(app, registered);
            return;
        }
        uint64 readyAt = DelayedGovernance.readyAt(_governanceDelay);
        _pendingApps[app] = PendingApp(registered, readyAt);
        emit AppChangeProposed(app, registered, readyAt);
    }

    /// @notice Make the pending change of `app` effective once its delay has passed. Anyone.
    function applyApp(address app) external {
        PendingApp memory pending = _pendingApps[app];
        DelayedGovernance.requireReady(pending.readyAt);
        delete _pendingApps[app];
        if (_apps[app].registered == pending.registered) revert OutboxAppUnchanged(app, pending.registered);
        _applyApp(app, pending.registered);
    }

    /// @notice Withdraw the pending change of `app`. Only the owner.
    function cancelApp(address app) external onlyOwner {
        PendingApp memory pending = _pendingApps[app];
        DelayedGovernance.requirePending(pending.readyAt);
        delete _pendingApps[app];
        emit AppChangeCancelled(app, pending.registered);
    }

    /// @notice End the setup phase now (the wiring step's last call). Only the owner.
    function closeSetup() external onlyOwner {
        if (!_setupOpen) revert OutboxSetupClosed();
        _setupOpen = false;
        emit SetupClosed(msg.sender);
    }

    /// @inheritdoc IOutbox
    /// @dev Reverts unless msg.sender is registered, the destination is another domain and
    ///      a non-zero app, and `body` is the canonical body of a known kind.
    function send(uint32 destinationDomain, address destinationApp, uint8 kind, bytes calldata body)
        external
        returns (bytes32 messageId, uint64 nonce)
    {
        App memory app = _apps[msg.sender];
        if (!app.registered) revert OutboxAppNotRegistered(msg.sender);
        if (destinationDomain == _localDomain) revert OutboxDestinationIsLocal(destinationDomain);
        if (destinationApp == address(0)) revert OutboxDestinationAppZero(destinationDomain);
        MessageCodec.checkBody(kind, body);
        nonce = app.nextNonce;
        // Checked: a uint64 nonce cannot overflow in practice, and if it did the send reverts.
        _apps[msg.sender].nextNonce = nonce + 1;
        // While the setup phase is open no app has sent yet, so only an app's first message
        // (nonce 0) needs to read the flag.
        if (nonce == 0 && _setupOpen) {
            _setupOpen = false;
            emit SetupClosed(msg.sender);
        }
        bytes memory message =
            MessageCodec.formatMessage(_localDomain, msg.sender, destinationDomain, destinationApp, nonce, kind, body);
        messageId = keccak256(message);
        emit MessageSent(messageId, destinationDomain, destinationApp, message);
    }

    /// @inheritdoc IOutbox
    function localDomain() external view returns (uint32) {
        return _localDomain;
    }

    /// @notice The nonce `app`'s next message will carry (= the number of messages it sent).
    function nextNonce(address app) external view returns (uint64) {
        return _apps[app].nextNonce;
    }

    /// @notice Whether `app` may send.
    function isRegisteredApp(address app) external view returns (bool) {
        return _apps[app].registered;
    }

    /// @notice Seconds between a proposal and its effect (after the setup phase).
    function governanceDelay() external view returns (uint64) {
        return _governanceDelay;
    }

    /// @notice Whether app changes still take effect at once (before the first message).
    function setupOpen() external view returns (bool) {
        return _setupOpen;
    }

    /// @notice The pending change of `app` (readyAt 0: none).
    function pendingApp(address app) external view returns (bool registered, uint64 readyAt) {
        PendingApp memory pending = _pendingApps[app];
        return (pending.registered, pending.readyAt);
    }

    function _applyApp(address app, bool registered) private {
        _apps[app].registered = registered;
        if (registered) emit AppRegistered(app);
        else emit AppUnregistered(app);
    }
}
