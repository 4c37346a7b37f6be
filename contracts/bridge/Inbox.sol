// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Assembly only on the delivery path, each block commented: calldata field reads, the
// recipient call with a bounded revert reason, and re-raising a custom error unchanged.
// solhint-disable no-inline-assembly

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {DelayedGovernance} from "../governance/DelayedGovernance.sol";
import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";
import {MessageAttestation} from "../libraries/MessageAttestation.sol";
import {MessageCodec} from "../libraries/MessageCodec.sol";

/// @title Inbox
/// @notice Accepts a message from another domain when `threshold` distinct current
///         attesters signed it (EIP-712 under this inbox's own domain, whose salt binds the
///         domain id and the deployment id), consumes its id once, and calls the one local recipient
///         registered for its (source domain, source app). Delivery is permissionless.
/// @dev Roles:
///      - default admin (OZ AccessControlDefaultAdminRules: moves in two steps, after a
///        delay): proposes attester-set, threshold, peer and delay changes; cancels
///        proposals; unpauses; closes the setup phase; grants the guardian role; voids a
///        verified-but-failed message (it can then never take effect).
///      - guardian (GUARDIAN_ROLE): pauses every delivery and retry, refunds included
///        (docs/adr/0007-inbox-pause-scope.md): a buyer's money comes back on the token
///        itself, where anyone releases an expired hold.
///      - anyone: delivers, delivers in batches, retries verified-but-failed messages of the
///        current attester set and applies a governance proposal once its delay has passed.
///      Governance cannot quietly forge: every change waits `governanceDelay` seconds after
///      its proposal (an event, readable while pending) — except during the setup phase,
///      which ends at the first delivery or when the admin closes it, whichever is first
///      (docs/adr/0006-inbox-governance.md; the checks are DelayedGovernance's, shared with
///      the Outbox).
///      Delivery lifecycle of an id: None -> Delivered | Failed; Failed -> Delivered (retry,
///      or a delivery with a fresh quorum once the attester set changed) | Voided (admin).
///      Storage: a consumed message is one bit, keyed by its (source domain, source app,
///      nonce): bit nonce % 256 of word (sourceDomain, sourceApp, nonce / 256), so
///      consecutive nonces share a slot. Who delivered it and in which block are only in
///      its MessageDelivered / MessageFailed / MessageRetried event. A Failed or Voided
///      message also has a record (status, epoch) under its id, written only on failure.
///      The key is unique because an app's nonces come from the one outbox it sends
///      through, and pvd's apps are bound to their outbox for life (docs/security.md).
///      A Failed message records the attester-set epoch it was verified under; `retry`
///      refuses it once the set changed, so nothing a replaced (perhaps stolen) set signed
///      takes effect without a fresh quorum of the current set.
contract Inbox is AccessControlDefaultAdminRules, IERC5267 {
    /// @notice May pause every delivery and retry.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice The most attesters a set may have.
    uint256 public constant MAX_ATTESTERS = 32;

    /// @notice The most (source domain, source app) pairs that may have a recipient.
    uint256 public constant MAX_PEERS = 16;

    /// @notice The longest governance delay that may be configured.
    uint64 public constant MAX_GOVERNANCE_DELAY = DelayedGovernance.MAX_DELAY;

    /// @notice Bytes of one signature: r (32) || s (32) || v (1).
    uint256 private constant SIGNATURE_LENGTH = 65;

    /// @notice The most bytes of a recipient's revert reason kept in MessageFailed.
    uint256 private constant MAX_REASON_LENGTH = 256;

    /// @notice Bytes of one attester in the delivery data: its address.
    uint256 private constant MEMBER_LENGTH = 20;

    /// @notice Bytes of one peer in the delivery data: source domain (4), source app (20),
    ///         recipient (20).
    uint256 private constant PEER_LENGTH = 44;

    /// @notice Where a message id is in its life.
    enum DeliveryStatus {
        None,
        Delivered,
        Failed,
        Voided
    }

    /// @notice What a delivery attempt did with one message.
    enum DeliveryResult {
        Delivered, // verified, consumed, the recipient succeeded
        Failed, // verified, consumed, the recipient reverted: stored for retry
        AlreadyConsumed, // the id was consumed before: nothing happened
        Rejected // batch only: the message failed verification; nothing happened
    }

    /// @dev A consumed message that did not take effect: Failed (with the attester-set epoch
    ///      it was verified under) or Voided. Written only when a recipient fails; deleted
    ///      when the message takes effect on a retry or a fresh delivery.
    struct Failure {
        DeliveryStatus status;
        uint32 epoch;
    }

    /// @dev Everything a delivery reads from storage, in one slot, with the address of the
    ///      code that holds the rest (the delivery data: a STOP byte, the current attesters
    ///      ascending, 20 bytes each, then the peers, 44 bytes each: source domain, source
    ///      app, recipient), so a delivery reads the whole set and its peer with one
    ///      EXTCODECOPY instead of one storage slot per signer and one for the peer.
    struct Config {
        uint8 threshold;
        uint8 attesterCount;
        uint32 epoch;
        bool paused;
        bool setupOpen;
        address attesterData;
        uint8 peerCount;
    }

    /// @dev A message's consumed marker while it is being delivered.
    struct Consumed {
        uint256 word;
        uint256 bits;
        uint256 mask;
        bool redelivery; // consumed and Failed under an earlier attester set
    }

    struct PendingAttesterSet {
        address[] attesters;
        uint8 threshold;
        uint64 readyAt;
    }

    struct PendingPeer {
        address recipient;
        uint64 readyAt;
    }

    struct PendingDelay {
        uint64 delay;
        uint64 readyAt;
    }

    uint32 private immutable _localDomain;
    bytes32 private immutable _deploymentId;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    Config private _config;
    uint64 private _governanceDelay;
    address[] private _attesters;
    mapping(address attester => uint32 epoch) private _attesterEpoch;
    mapping(uint32 sourceDomain => mapping(address sourceApp => address recipient)) private _recipients;
    /// @dev The pairs with a recipient, as (sourceDomain << 160 | sourceApp): the delivery
    ///      data's peers, in this order.
    uint256[] private _peerKeys;
    /// @dev Consumed markers: word key (sourceDomain << 224 | sourceApp << 64 | nonce >> 8),
    ///      bit nonce & 255.
    mapping(uint256 word => uint256 bits) private _consumed;
    mapping(bytes32 messageId => Failure failure) private _failures;

    PendingAttesterSet private _pendingAttesters;
    mapping(uint32 sourceDomain => mapping(address sourceApp => PendingPeer pending)) private _pendingPeers;
    PendingDelay private _pendingDelay;

    // ------------------------------------------------------------------ events: delivery

    /// @notice A verified message was consumed and its recipient succeeded.
    event MessageDelivered(
        bytes32 indexed messageId, uint32 indexed sourceDomain, address indexed recipient, address deliverer
    );

    /// @notice A verified message was consumed but its recipient reverted with `reason`
    ///         (at most 256 bytes kept): it is stored as Failed and anyone may `retry` it.
    event MessageFailed(
        bytes32 indexed messageId,
        uint32 indexed sourceDomain,
        address indexed recipient,
        address deliverer,
        bytes reason
    );

    /// @notice A Failed message was retried by `retrier` and its recipient succeeded.
    event MessageRetried(
        bytes32 indexed messageId, uint32 indexed sourceDomain, address indexed recipient, address retrier
    );

    /// @notice A Failed message was voided by the admin: it can never take effect.
    event MessageVoided(bytes32 indexed messageId, address indexed admin);

    /// @notice The id was consumed before: the delivery was a no-op (a relayer treats it as done).
    event MessageAlreadyConsumed(bytes32 indexed messageId, address indexed caller);

    /// @notice In a batch, the message failed verification with `reason` (the custom error);
    ///         nothing about it changed.
    event MessageRejected(bytes32 indexed messageId, address indexed caller, bytes reason);

    // ---------------------------------------------------------------- events: governance

    /// @notice A new attester set and threshold were proposed; effective from `readyAt`.
    event AttesterSetProposed(address[] attesters, uint8 threshold, uint64 readyAt);

    /// @notice The attester set and threshold in force changed (epoch counts the sets).
    event AttesterSetApplied(uint32 indexed epoch, address[] attesters, uint8 threshold);

    /// @notice The pending attester-set proposal was withdrawn.
    event AttesterSetProposalCancelled(address[] attesters, uint8 threshold);

    /// @notice A peer change was proposed: messages from (sourceDomain, sourceApp) go to
    ///         `recipient` (zero: refused) from `readyAt`.
    event PeerProposed(
        uint32 indexed sourceDomain, address indexed sourceApp, address indexed recipient, uint64 readyAt
    );

    /// @notice The recipient of (sourceDomain, sourceApp) changed (zero: no longer accepted).
    event PeerApplied(uint32 indexed sourceDomain, address indexed sourceApp, address indexed recipient);

    /// @notice The pending peer proposal was withdrawn.
    event PeerProposalCancelled(uint32 indexed sourceDomain, address indexed sourceApp, address indexed recipient);

    /// @notice A new governance delay was proposed; effective from `readyAt`.
    event GovernanceDelayProposed(uint64 delay, uint64 readyAt);

    /// @notice The governance delay changed.
    event GovernanceDelayApplied(uint64 delay);

    /// @notice The pending delay proposal was withdrawn.
    event GovernanceDelayProposalCancelled(uint64 delay);

    /// @notice The setup phase ended: from now on every change waits for the delay.
    event SetupClosed(address indexed by);

    /// @notice Every delivery and retry is paused.
    event DeliveriesPaused(address indexed guardian);

    /// @notice Deliveries resumed.
    event DeliveriesUnpaused(address indexed admin);

    // ------------------------------------------------------------------ errors: delivery

    /// @notice The message is for another domain.
    error InboxWrongDestinationDomain(uint32 destinationDomain, uint32 localDomain);

    /// @notice No recipient is registered for (sourceDomain, sourceApp).
    error InboxUnknownSource(uint32 sourceDomain, address sourceApp);

    /// @notice The message names another recipient than the one registered for its source.
    error InboxWrongRecipient(address destinationApp, address registeredRecipient);

    /// @notice Deliveries and retries are paused.
    error InboxPaused(bytes32 messageId);

    /// @notice The signatures are not exactly `threshold` x 65 bytes.
    error InboxSignaturesLength(uint256 length, uint256 expected);

    /// @notice Signature `index` is malformed, malleable (high s) or unrecoverable;
    ///         `reason` is OpenZeppelin's ECDSA.RecoverError (1 signature, 2 length, 3 s).
    error InboxSignatureInvalid(uint256 index, uint8 reason);

    /// @notice Signer `index` is not above the previous one (out of order or duplicated).
    error InboxSignerOutOfOrder(uint256 index, address signer, address previous);

    /// @notice Signer `index` is not a current attester.
    error InboxSignerNotAttester(uint256 index, address signer);

    /// @notice Only a Failed message can be retried.
    error InboxNotRetryable(bytes32 messageId, DeliveryStatus status);

    /// @notice The Failed message was verified under attester set `epoch`, no longer the
    ///         current one (`currentEpoch`): deliver it again with a fresh quorum.
    error InboxRetryStaleEpoch(bytes32 messageId, uint32 epoch, uint32 currentEpoch);

    /// @notice Only a Failed message can be voided; `status` is the id's failure record
    ///         (None: it never failed, or it took effect since; Voided: voided before).
    error InboxNotVoidable(bytes32 messageId, DeliveryStatus status);

    /// @notice The retry's recipient call reverted again with `reason`.
    error InboxRetryFailed(bytes32 messageId, bytes reason);

    /// @notice The recipient ran out of the gas the caller supplied: resubmit with more gas.
    error InboxRecipientOutOfGas(bytes32 messageId);

    /// @notice A batch's signatures cannot be cut into one equal part per message.
    error InboxBatchLengthMismatch(uint256 messages, uint256 signatures);

    /// @notice A batch's packed messages end inside the length or the bytes of the one at
    ///         byte `offset`.
    error InboxBatchMalformed(uint256 offset);

    // ---------------------------------------------------------------- errors: governance

    /// @notice An attester set must have 1..MAX_ATTESTERS members.
    error InboxAttesterSetSize(uint256 size, uint256 max);

    /// @notice Attester `index` is zero, duplicated or not above the previous one.
    error InboxAttesterInvalid(uint256 index, address attester);

    /// @notice The threshold must be in 1..set size.
    error InboxThresholdInvalid(uint256 threshold, uint256 attesterCount);

    /// @notice A peer needs another domain, a non-zero source app and a recipient with code
    ///         (not the inbox itself).
    error InboxPeerInvalid(uint32 sourceDomain, address sourceApp, address recipient);

    /// @notice The delay is above MAX_GOVERNANCE_DELAY.
    error InboxDelayInvalid(uint64 delay, uint64 max);

    /// @notice The setup phase is over.
    error InboxSetupClosed();

    /// @notice The attester set could not be stored as code (out of gas).
    error InboxAttesterDataNotStored();

    /// @notice A new peer would make more than `max` (source domain, source app) pairs with
    ///         a recipient: remove one first.
    error InboxPeerLimit(uint32 sourceDomain, address sourceApp, uint256 max);

    /// @notice The deployment id must be non-zero (a deployment draws a random one).
    error InboxDeploymentIdZero();

    /// @notice Pause or unpause to the state it is already in.
    error InboxPauseUnchanged(bool paused);

    /// @param localDomain_     this chain's protocol domain id
    /// @param deploymentId_    a value unique to this deployment (random, in its manifest),
    ///                         bound into every signature (the EIP-712 salt)
    /// @param admin            the default admin (two-step transfer, `adminDelay`)
    /// @param guardian         the first guardian (zero: none yet)
    /// @param attesters_       the first attester set, strictly ascending
    /// @param threshold_       signatures required, 1..attesters_.length
    /// @param governanceDelay_ seconds between a proposal and its effect after setup
    /// @param adminDelay       OZ AccessControlDefaultAdminRules' admin-transfer delay
    constructor(
        uint32 localDomain_,
        bytes32 deploymentId_,
        address admin,
        address guardian,
        address[] memory attesters_,
        uint8 threshold_,
        uint64 governanceDelay_,
        uint48 adminDelay
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (governanceDelay_ > MAX_GOVERNANCE_DELAY) revert InboxDelayInvalid(governanceDelay_, MAX_GOVERNANCE_DELAY);
        if (deploymentId_ == bytes32(0)) revert InboxDeploymentIdZero();
        _localDomain = localDomain_;
        _deploymentId = deploymentId_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator =
            MessageAttestation.domainSeparator(block.chainid, address(this), localDomain_, deploymentId_);
        _config.setupOpen = true;
        _governanceDelay = governanceDelay_;
        emit GovernanceDelayApplied(governanceDelay_);
        _checkAttesterSet(attesters_, threshold_);
        _applyAttesterSet(attesters_, threshold_);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);
    }

    // ------------------------------------------------------------------------- delivery

    /// @notice Deliver one message: verify it (encoding, destination domain, registered
    ///         source and recipient, pause, `threshold` signatures of distinct current
    ///         attesters in ascending signer order), consume its id and call the recipient.
    ///         An id consumed before is a no-op (MessageAlreadyConsumed, AlreadyConsumed),
    ///         except a Failed message verified under an earlier attester set: with a fresh
    ///         quorum of the current set it is verified and its recipient called again.
    /// @param message    the encoding (docs/messages.md)
    /// @param signatures `threshold` 65-byte signatures, concatenated, signers ascending
    /// @return result    Delivered, Failed (stored for retry) or AlreadyConsumed
    function deliver(bytes calldata message, bytes calldata signatures) external returns (DeliveryResult result) {
        return _deliver(msg.sender, message, signatures, false);
    }

    /// @notice Deliver many messages in one transaction; a message that fails verification
    ///         is skipped (MessageRejected with the error it would have reverted with,
    ///         result Rejected) and does not affect the others.
    /// @dev Calldata packed for gas: no ABI offset, length or padding words per message.
    /// @param messages   the encodings (docs/messages.md), each preceded by its length as
    ///                   2 bytes big-endian, concatenated
    /// @param signatures every message's signatures, concatenated in the order of
    ///                   `messages`, the same number of bytes for each (its `threshold`
    ///                   65-byte signatures, signers ascending)
    /// @return results one DeliveryResult per message, in order
    function deliverBatch(bytes calldata messages, bytes calldata signatures)
        external
        returns (DeliveryResult[] memory results)
    {
        uint256 count = _batchCount(messages);
        if (count == 0 ? signatures.length != 0 : signatures.length % count != 0) {
            revert InboxBatchLengthMismatch(count, signatures.length);
        }
        results = new DeliveryResult[](count);
        uint256 each = count == 0 ? 0 : signatures.length / count;
        uint256 at = 0;
        for (uint256 i = 0; i < count; ++i) {
            // Each message's memory is free again after it, so a batch's memory does not
            // grow with its length (nothing _deliver allocates outlives it but the delivery
            // data, copied once: the message that copies it keeps its memory).
            uint256 free;
            assembly ("memory-safe") {
                free := mload(0x40)
            }
            (results[i], at) = _deliverPacked(messages, at, signatures, i, each);
            assembly ("memory-safe") {
                mstore(0x40, free)
            }
        }
    }

    /// @notice Call the recipient of a verified-but-failed message again. Anyone may; the
    ///         message must be the exact encoding that was verified (same id), verified under
    ///         the current attester set, its source still registered to the same recipient,
    ///         and the inbox not paused. If the recipient reverts again, this reverts and the
    ///         message stays Failed.
    function retry(bytes calldata message) external {
        bytes32 id = keccak256(message);
        Failure memory failure = _failures[id];
        if (failure.status != DeliveryStatus.Failed) {
            revert InboxNotRetryable(id, _statusOf(message, failure));
        }
        Config memory config = _config;
        if (failure.epoch != config.epoch) revert InboxRetryStaleEpoch(id, failure.epoch, config.epoch);
        // A Failed id was fully verified when first delivered, and its keccak256 binds
        // these bytes to it, so the fields below are authentic and well-formed.
        uint32 sourceDomain = MessageCodec.messageSourceDomain(message);
        address sourceApp = MessageCodec.messageSourceApp(message);
        address recipient = MessageCodec.messageDestinationApp(message);
        address registered = _recipients[sourceDomain][sourceApp];
        if (registered == address(0)) revert InboxUnknownSource(sourceDomain, sourceApp);
        if (registered != recipient) revert InboxWrongRecipient(recipient, registered);
        if (config.paused) revert InboxPaused(id);
        // Effects (the failure record goes: its consumed bit says Delivered), then the
        // interaction (checks-effects-interactions); a failed call reverts all of it.
        delete _failures[id];
        (bool ok, bytes memory reason) = _callRecipient(recipient, id, message);
        if (!ok) revert InboxRetryFailed(id, reason);
        emit MessageRetried(id, sourceDomain, recipient, msg.sender);
    }

    /// @notice Void a verified-but-failed message: it can then never take effect (neither
    ///         retried nor delivered again). For a message the operators do not trust, e.g.
    ///         one a stolen quorum signed. Only the admin. Emits MessageVoided.
    function voidMessage(bytes32 messageId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        DeliveryStatus status = _failures[messageId].status;
        if (status != DeliveryStatus.Failed) revert InboxNotVoidable(messageId, status);
        _failures[messageId].status = DeliveryStatus.Voided;
        emit MessageVoided(messageId, msg.sender);
    }

    // ----------------------------------------------------------------------- governance

    /// @notice Propose a new attester set (strictly ascending, 1..MAX_ATTESTERS members) and
    ///         threshold (1..size). Effective after the delay (at once during setup).
    ///         Replaces any pending attester-set proposal. Only the admin.
    function proposeAttesterSet(address[] calldata attesters_, uint8 threshold_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _checkAttesterSet(attesters_, threshold_);
        Config memory config = _config;
        if (config.setupOpen) {
            _applyAttesterSet(attesters_, threshold_);
            return;
        }
        uint64 readyAt = DelayedGovernance.readyAt(_governanceDelay);
        _pendingAttesters.attesters = attesters_;
        _pendingAttesters.threshold = threshold_;
        _pendingAttesters.readyAt = readyAt;
        emit AttesterSetProposed(attesters_, threshold_, readyAt);
    }

    /// @notice Make the pending attester set effective once its delay has passed. Anyone.
    function applyAttesterSet() external {
        PendingAttesterSet memory pending = _pendingAttesters;
        DelayedGovernance.requireReady(pending.readyAt);
        delete _pendingAttesters;
        _applyAttesterSet(pending.attesters, pending.threshold);
    }

    /// @notice Withdraw the pending attester-set proposal. Only the admin.
    function cancelAttesterSet() external onlyRole(DEFAULT_ADMIN_ROLE) {
        PendingAttesterSet memory pending = _pendingAttesters;
        DelayedGovernance.requirePending(pending.readyAt);
        delete _pendingAttesters;
        emit AttesterSetProposalCancelled(pending.attesters, pending.threshold);
    }

    /// @notice Propose that messages from (`sourceDomain`, `sourceApp`) go to `recipient`
    ///         (a contract; zero to stop accepting them). Effective after the delay (at once
    ///         during setup). Replaces a pending proposal for the same source. Only the admin.
    function proposePeer(uint32 sourceDomain, address sourceApp, address recipient)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (
            sourceDomain == _localDomain || sourceApp == address(0) || recipient == address(this)
                || (recipient != address(0) && recipient.code.length == 0)
        ) revert InboxPeerInvalid(sourceDomain, sourceApp, recipient);
        _checkPeerLimit(sourceDomain, sourceApp, recipient);
        Config memory config = _config;
        if (config.setupOpen) {
            _applyPeer(sourceDomain, sourceApp, recipient);
            return;
        }
        uint64 readyAt = DelayedGovernance.readyAt(_governanceDelay);
        _pendingPeers[sourceDomain][sourceApp] = PendingPeer(recipient, readyAt);
        emit PeerProposed(sourceDomain, sourceApp, recipient, readyAt);
    }

    /// @notice Make the pending peer change for (`sourceDomain`, `sourceApp`) effective once
    ///         its delay has passed. Anyone.
    function applyPeer(uint32 sourceDomain, address sourceApp) external {
        PendingPeer memory pending = _pendingPeers[sourceDomain][sourceApp];
        DelayedGovernance.requireReady(pending.readyAt);
        delete _pendingPeers[sourceDomain][sourceApp];
        _applyPeer(sourceDomain, sourceApp, pending.recipient);
    }

    /// @notice Withdraw the pending peer proposal for (`sourceDomain`, `sourceApp`). Only the admin.
    function cancelPeer(uint32 sourceDomain, address sourceApp) external onlyRole(DEFAULT_ADMIN_ROLE) {
        PendingPeer memory pending = _pendingPeers[sourceDomain][sourceApp];
        DelayedGovernance.requirePending(pending.readyAt);
        delete _pendingPeers[sourceDomain][sourceApp];
        emit PeerProposalCancelled(sourceDomain, sourceApp, pending.recipient);
    }

    /// @notice Propose a new governance delay (at most MAX_GOVERNANCE_DELAY). It waits for
    ///         the current delay (at once during setup). Only the admin.
    function proposeGovernanceDelay(uint64 newDelay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newDelay > MAX_GOVERNANCE_DELAY) revert InboxDelayInvalid(newDelay, MAX_GOVERNANCE_DELAY);
        Config memory config = _config;
        if (config.setupOpen) {
            _governanceDelay = newDelay;
            emit GovernanceDelayApplied(newDelay);
            return;
        }
        uint64 readyAt = DelayedGovernance.readyAt(_governanceDelay);
        _pendingDelay = PendingDelay(newDelay, readyAt);
        emit GovernanceDelayProposed(newDelay, readyAt);
    }

    /// @notice Make the pending delay effective once the old delay has passed. Anyone.
    function applyGovernanceDelay() external {
        PendingDelay memory pending = _pendingDelay;
        DelayedGovernance.requireReady(pending.readyAt);
        delete _pendingDelay;
        _governanceDelay = pending.delay;
        emit GovernanceDelayApplied(pending.delay);
    }

    /// @notice Withdraw the pending delay proposal. Only the admin.
    function cancelGovernanceDelay() external onlyRole(DEFAULT_ADMIN_ROLE) {
        PendingDelay memory pending = _pendingDelay;
        DelayedGovernance.requirePending(pending.readyAt);
        delete _pendingDelay;
        emit GovernanceDelayProposalCancelled(pending.delay);
    }

    /// @notice End the setup phase now (the wiring step's last call). Only the admin.
    function closeSetup() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_config.setupOpen) revert InboxSetupClosed();
        _config.setupOpen = false;
        emit SetupClosed(msg.sender);
    }

    /// @notice Pause every delivery and retry, refunds included. Only a guardian.
    function pause() external onlyRole(GUARDIAN_ROLE) {
        if (_config.paused) revert InboxPauseUnchanged(true);
        _config.paused = true;
        emit DeliveriesPaused(msg.sender);
    }

    /// @notice Resume deliveries. Only the admin.
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_config.paused) revert InboxPauseUnchanged(false);
        _config.paused = false;
        emit DeliveriesUnpaused(msg.sender);
    }

    // ---------------------------------------------------------------------------- views

    /// @notice This chain's protocol domain id.
    function localDomain() external view returns (uint32) {
        return _localDomain;
    }

    /// @notice The value unique to this deployment that every signature binds (EIP-712 salt,
    ///         with the domain id).
    function deploymentId() external view returns (bytes32) {
        return _deploymentId;
    }

    /// @notice The EIP-712 domain separator attesters sign under.
    function domainSeparator() public view returns (bytes32) {
        if (block.chainid == _cachedChainId) return _cachedDomainSeparator;
        return MessageAttestation.domainSeparator(block.chainid, address(this), _localDomain, _deploymentId);
    }

    /// @inheritdoc IERC5267
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (
            MessageAttestation.DOMAIN_FIELDS,
            "pvd Inbox",
            "1",
            block.chainid,
            address(this),
            MessageAttestation.salt(_localDomain, _deploymentId),
            new uint256[](0)
        );
    }

    /// @notice The digest attesters sign for `message` at this inbox (the message must be
    ///         a valid encoding).
    function attestationDigest(bytes calldata message) external view returns (bytes32) {
        MessageCodec.validateMessage(message);
        return MessageAttestation.digest(domainSeparator(), message);
    }

    /// @notice The current attester set, ascending.
    function attesters() external view returns (address[] memory) {
        return _attesters;
    }

    /// @notice The contract whose code holds what deliveries read besides the one
    ///         configuration slot: a STOP byte, the current attesters ascending, 20 bytes
    ///         each, then every peer, 44 bytes each (source domain, source app, recipient).
    ///         Written again, as a new contract, on every rotation and peer change.
    function attesterSetData() external view returns (address) {
        return _config.attesterData;
    }

    /// @notice Signatures required per message.
    function threshold() external view returns (uint8) {
        return _config.threshold;
    }

    /// @notice How many attester sets have been in force (the current set's number).
    function attesterEpoch() external view returns (uint32) {
        return _config.epoch;
    }

    /// @notice Whether `account` is in the current attester set.
    function isAttester(address account) external view returns (bool) {
        // Epochs are counters, not balances.
        // slither-disable-next-line incorrect-equality
        return _attesterEpoch[account] == _config.epoch;
    }

    /// @notice The local recipient of messages from (`sourceDomain`, `sourceApp`) (zero: refused).
    function recipientOf(uint32 sourceDomain, address sourceApp) external view returns (address) {
        return _recipients[sourceDomain][sourceApp];
    }

    /// @notice Where `message` (a valid encoding) is in its life: None, Delivered, Failed or
    ///         Voided. Who delivered it and when: its MessageDelivered, MessageFailed or
    ///         MessageRetried event.
    function deliveryStatus(bytes calldata message) external view returns (DeliveryStatus) {
        MessageCodec.validateMessage(message);
        return _statusOf(message, _failures[keccak256(message)]);
    }

    /// @notice Whether the message from (`sourceDomain`, `sourceApp`) with `nonce` was
    ///         consumed (Delivered, Failed or Voided).
    function isConsumed(uint32 sourceDomain, address sourceApp, uint64 nonce) external view returns (bool) {
        return _consumed[_wordKey(sourceDomain, sourceApp, nonce)] & _bit(nonce) != 0;
    }

    /// @notice The failure record of message `messageId`: Failed (with the attester-set
    ///         epoch it was verified under) or Voided; None (epoch 0) if it never failed or
    ///         took effect since.
    function failureOf(bytes32 messageId) external view returns (DeliveryStatus status, uint32 epoch) {
        Failure memory failure = _failures[messageId];
        return (failure.status, failure.epoch);
    }

    /// @notice The attester-set epoch a Failed message was verified under (0 if it is not
    ///         Failed); `retry` needs it to be the current `attesterEpoch()`.
    function failedEpochOf(bytes32 messageId) external view returns (uint32) {
        Failure memory failure = _failures[messageId];
        // slither-disable-next-line incorrect-equality
        return failure.status == DeliveryStatus.Failed ? failure.epoch : 0;
    }

    /// @notice Whether deliveries and retries are paused.
    function paused() external view returns (bool) {
        return _config.paused;
    }

    /// @notice Whether governance changes still take effect at once (before the first delivery).
    function setupOpen() external view returns (bool) {
        return _config.setupOpen;
    }

    /// @notice Seconds between a governance proposal and its effect.
    function governanceDelay() external view returns (uint64) {
        return _governanceDelay;
    }

    /// @notice The pending attester-set proposal (readyAt 0: none).
    function pendingAttesterSet()
        external
        view
        returns (address[] memory pendingAttesters, uint8 pendingThreshold, uint64 readyAt)
    {
        PendingAttesterSet memory pending = _pendingAttesters;
        return (pending.attesters, pending.threshold, pending.readyAt);
    }

    /// @notice The pending peer proposal for (`sourceDomain`, `sourceApp`) (readyAt 0: none;
    ///         recipient 0 with readyAt set: a pending removal).
    function pendingPeer(uint32 sourceDomain, address sourceApp)
        external
        view
        returns (address recipient, uint64 readyAt)
    {
        PendingPeer memory pending = _pendingPeers[sourceDomain][sourceApp];
        return (pending.recipient, pending.readyAt);
    }

    /// @notice The pending delay proposal (readyAt 0: none).
    function pendingGovernanceDelay() external view returns (uint64 delay, uint64 readyAt) {
        PendingDelay memory pending = _pendingDelay;
        return (pending.delay, pending.readyAt);
    }

    // ------------------------------------------------------------------------- internal

    /// @dev One delivery. A verification failure reverts with its custom error, or, in a
    ///      batch, is reported (MessageRejected) and changes nothing.
    function _deliver(address deliverer, bytes calldata message, bytes calldata signatures, bool inBatch)
        private
        returns (DeliveryResult)
    {
        bytes32 id = keccak256(message);
        // The encoding first: the consumed marker is read from its header fields.
        bytes memory failure = MessageCodec.messageError(message);
        address recipient;
        bool setupOpen_;
        Consumed memory consumed;
        if (failure.length == 0) {
            consumed = _consumedOf(message);
            if (consumed.bits & consumed.mask != 0) {
                // Consumed: a no-op, unless Failed under an earlier attester set (then it
                // needs, and may get here, a fresh quorum of the current set). An epoch is a
                // counter, not a balance: equality is the intended test.
                Failure memory previous = _failures[id];
                if (
                    // slither-disable-next-line incorrect-equality
                    previous.status != DeliveryStatus.Failed || previous.epoch == _config.epoch
                ) {
                    emit MessageAlreadyConsumed(id, deliverer);
                    return DeliveryResult.AlreadyConsumed;
                }
                consumed.redelivery = true;
            }
            (recipient, setupOpen_, failure) = _verify(id, message, signatures);
        }
        if (failure.length != 0) {
            if (!inBatch) {
                assembly ("memory-safe") {
                    revert(add(failure, 0x20), mload(failure))
                }
            }
            emit MessageRejected(id, deliverer, failure);
            return DeliveryResult.Rejected;
        }

        return _consume(deliverer, id, recipient, setupOpen_, message, consumed);
    }

    /// @dev How many messages `messages` packs (each a 2-byte big-endian length, then that
    ///      many bytes); reverts InboxBatchMalformed if a length runs past the end.
    function _batchCount(bytes calldata messages) private pure returns (uint256 count) {
        uint256 length = messages.length;
        uint256 at = 0;
        // Safe: offsets and lengths are calldata sizes (far below 2^64): no sum overflows,
        // and at < length before each subtraction.
        unchecked {
            while (at < length) {
                if (length - at < 2) revert InboxBatchMalformed(at);
                uint256 end = at + 2 + _packedLength(messages, at);
                if (end > length) revert InboxBatchMalformed(at);
                at = end;
                ++count;
            }
        }
    }

    /// @dev The 2-byte big-endian length at byte `at` of `messages` (the caller checked
    ///      that both bytes are in it).
    function _packedLength(bytes calldata messages, uint256 at) private pure returns (uint256 length) {
        assembly ("memory-safe") {
            length := shr(240, calldataload(add(messages.offset, at)))
        }
    }

    /// @dev Deliver message `i` of a batch: the packed message at byte `at` of `messages`
    ///      (its 2-byte length, then its bytes), with the `i`th `each` bytes of
    ///      `signatures`; returns where the next message starts. In bounds: _batchCount
    ///      walked the lengths, and signatures.length == count * each.
    function _deliverPacked(
        bytes calldata messages,
        uint256 at,
        bytes calldata signatures,
        uint256 i,
        uint256 each
    ) private returns (DeliveryResult result, uint256 next) {
        uint256 length = _packedLength(messages, at);
        bytes calldata message;
        bytes calldata signed;
        // Calldata slices without the checks the caller's walk already made (an offset and
        // a length each, not a value written twice).
        // slither-disable-start write-after-write
        assembly ("memory-safe") {
            message.offset := add(messages.offset, add(at, 2))
            message.length := length
            signed.offset := add(signatures.offset, mul(i, each))
            signed.length := each
        }
        // slither-disable-end write-after-write
        // Safe: bounded by the batch's calldata size (see _batchCount).
        unchecked {
            next = at + 2 + length;
        }
        result = _deliver(msg.sender, message, signed, true);
    }

    /// @dev A verified message: set its consumed bit (and drop the failure record of a
    ///      Failed message delivered again), then call its recipient.
    function _consume(
        address deliverer,
        bytes32 id,
        address recipient,
        bool setupOpen_,
        bytes calldata message,
        Consumed memory consumed
    ) private returns (DeliveryResult) {
        // Effects: the consumed bit (the word was read in _deliver; nothing ran since).
        _consumed[consumed.word] = consumed.bits | consumed.mask;
        if (consumed.redelivery) delete _failures[id];
        if (setupOpen_) {
            _config.setupOpen = false;
            emit SetupClosed(deliverer);
        }

        // Interaction last (checks-effects-interactions): the id is consumed before the
        // recipient runs, so a re-entrant delivery of the same id is a no-op.
        (bool ok, bytes memory reason) = _callRecipient(recipient, id, message);
        uint32 sourceDomain = MessageCodec.messageSourceDomain(message);
        if (ok) {
            emit MessageDelivered(id, sourceDomain, recipient, deliverer);
            return DeliveryResult.Delivered;
        }
        _failures[id] = Failure(DeliveryStatus.Failed, _config.epoch);
        emit MessageFailed(id, sourceDomain, recipient, deliverer, reason);
        return DeliveryResult.Failed;
    }

    /// @dev Every check of a delivery of a valid encoding (the caller checked it), in order:
    ///      where it is going, where it comes from and to whom, the pause, the quorum.
    ///      Returns the recipient, whether the setup phase is open, and the ABI-encoded custom
    ///      error of the first failed check (empty if all pass).
    function _verify(bytes32 id, bytes calldata message, bytes calldata signatures)
        private
        view
        returns (address recipient, bool setupOpen_, bytes memory failure)
    {
        uint32 destinationDomain = MessageCodec.messageDestinationDomain(message);
        if (destinationDomain != _localDomain) {
            return (
                address(0),
                false,
                abi.encodeWithSelector(InboxWrongDestinationDomain.selector, destinationDomain, _localDomain)
            );
        }
        Config memory config = _config;
        // The attesters and the peers, read in one go from the delivery data's code.
        uint256 data = _deliveryData(config);
        (recipient, failure) = _recipientError(data, config, message);
        if (failure.length != 0) return (address(0), false, failure);
        if (config.paused) return (address(0), false, abi.encodeWithSelector(InboxPaused.selector, id));
        failure = _signatureError(config, data, message, signatures);
        return (recipient, config.setupOpen, failure);
    }

    /// @dev The recipient registered for the message's source, which must be the one it
    ///      names; else zero and the custom error (InboxUnknownSource, InboxWrongRecipient).
    function _recipientError(uint256 data, Config memory config, bytes calldata message)
        private
        pure
        returns (address recipient, bytes memory failure)
    {
        uint32 sourceDomain = MessageCodec.messageSourceDomain(message);
        address sourceApp = MessageCodec.messageSourceApp(message);
        recipient = _peerIn(data, config, sourceDomain, sourceApp);
        if (recipient == address(0)) {
            return (address(0), abi.encodeWithSelector(InboxUnknownSource.selector, sourceDomain, sourceApp));
        }
        address destinationApp = MessageCodec.messageDestinationApp(message);
        if (destinationApp != recipient) {
            return (address(0), abi.encodeWithSelector(InboxWrongRecipient.selector, destinationApp, recipient));
        }
        return (recipient, failure);
    }

    /// @dev Exactly `threshold` signatures over this inbox's digest of `message`, each low-s
    ///      and recoverable (OpenZeppelin ECDSA), signers strictly ascending (so distinct),
    ///      each a current attester. Returns the first failure's custom error, or empty.
    function _signatureError(Config memory config, uint256 set, bytes calldata message, bytes calldata signatures)
        private
        view
        returns (bytes memory failure)
    {
        uint256 required = config.threshold;
        if (signatures.length != required * SIGNATURE_LENGTH) {
            return abi.encodeWithSelector(
                InboxSignaturesLength.selector, signatures.length, required * SIGNATURE_LENGTH
            );
        }
        bytes32 digest = MessageAttestation.digest(domainSeparator(), message);
        // The current set, ascending (at `set`, read with the peers): signers are ascending
        // too, so one forward walk over the set checks every signer's membership.
        uint256 count = config.attesterCount;
        uint256 next = 0; // the first member not yet passed
        address previous = address(0);
        for (uint256 i = 0; i < required;) {
            // In bounds: signatures.length == required * 65 was checked above.
            (address signer, ECDSA.RecoverError error) = _recover(digest, signatures, i);
            if (error != ECDSA.RecoverError.NoError) {
                return abi.encodeWithSelector(InboxSignatureInvalid.selector, i, uint8(error));
            }
            if (signer <= previous) {
                return abi.encodeWithSelector(InboxSignerOutOfOrder.selector, i, signer, previous);
            }
            bool member;
            (member, next) = _walkTo(set, count, next, signer);
            if (!member) return abi.encodeWithSelector(InboxSignerNotAttester.selector, i, signer);
            previous = signer;
            // Safe: i < required <= MAX_ATTESTERS (32).
            unchecked {
                ++i;
            }
        }
        return failure;
    }

    /// @dev The signer of signature `i` of `signatures` (65 bytes each; the caller checked
    ///      the length) over `digest`, with OpenZeppelin's ECDSA error code.
    function _recover(bytes32 digest, bytes calldata signatures, uint256 i)
        private
        pure
        returns (address signer, ECDSA.RecoverError error)
    {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            let at := add(signatures.offset, mul(i, SIGNATURE_LENGTH))
            r := calldataload(at)
            s := calldataload(add(at, 0x20))
            v := byte(0, calldataload(add(at, 0x40)))
        }
        // The third value (the error's argument) is not needed: the error code is reported.
        // slither-disable-next-line unused-return
        (signer, error,) = ECDSA.tryRecover(digest, v, r, s);
    }

    /// @dev The delivery data as deliveries read it, copied from the data contract's code
    ///      (after its STOP byte) to fresh memory: the members ascending, 20 bytes each, then
    ///      the peers, 44 bytes each. Returns where it starts (the first member).
    function _deliveryData(Config memory config) private view returns (uint256 data) {
        uint256 attesterCount = config.attesterCount;
        uint256 peerCount = config.peerCount;
        address code = config.attesterData;
        assembly ("memory-safe") {
            let size := add(mul(attesterCount, MEMBER_LENGTH), mul(peerCount, PEER_LENGTH))
            data := mload(0x40)
            extcodecopy(code, data, 1, size)
            mstore(0x40, add(data, and(add(size, 0x1f), not(0x1f))))
        }
    }

    /// @dev The recipient the delivery data names for (`sourceDomain`, `sourceApp`), zero if
    ///      none: a walk over its peers (at most MAX_PEERS).
    function _peerIn(uint256 data, Config memory config, uint32 sourceDomain, address sourceApp)
        private
        pure
        returns (address recipient)
    {
        uint256 key = _peerKey(sourceDomain, sourceApp);
        uint256 attesterCount = config.attesterCount;
        uint256 peerCount = config.peerCount;
        // A memory walk over at most MAX_PEERS entries of 44 bytes.
        assembly ("memory-safe") {
            let at := add(data, mul(attesterCount, MEMBER_LENGTH))
            let end := add(at, mul(peerCount, PEER_LENGTH))
            for {} lt(at, end) { at := add(at, PEER_LENGTH) } {
                // domain (4) and app (20), then the recipient (20)
                if eq(shr(64, mload(at)), key) {
                    recipient := shr(96, mload(add(at, 24)))
                    break
                }
            }
        }
    }

    /// @dev A pair's key in the peer list: sourceDomain (32 bits) | sourceApp (160 bits).
    function _peerKey(uint32 sourceDomain, address sourceApp) private pure returns (uint256) {
        return (uint256(sourceDomain) << 160) | uint256(uint160(sourceApp));
    }

    /// @dev Walk the ascending set from member `next` past the members below `signer`:
    ///      whether the member reached is `signer`, and the index after it.
    function _walkTo(uint256 set, uint256 count, uint256 next, address signer)
        private
        pure
        returns (bool found, uint256 after_)
    {
        while (next < count) {
            address member;
            assembly ("memory-safe") {
                member := shr(96, mload(add(set, mul(next, 20))))
            }
            ++next;
            if (member == signer) return (true, next);
            if (member > signer) return (false, next);
        }
        return (false, next);
    }

    /// @dev Call recipient.receiveMessage with all remaining gas; on failure keep at most
    ///      MAX_REASON_LENGTH bytes of the revert data. If the recipient used up the gas it
    ///      was given, the caller under-supplied gas: revert rather than record a failure.
    function _callRecipient(address recipient, bytes32 id, bytes calldata message)
        private
        returns (bool ok, bytes memory reason)
    {
        // abi.encodeCall(IMessageRecipient.receiveMessage, (sourceDomain, sourceApp, id,
        // kind, body)), built by hand from the packed message for gas.
        bytes memory data;
        bytes4 selector = IMessageRecipient.receiveMessage.selector;
        assembly ("memory-safe") {
            let at := message.offset
            let bodyLength := sub(message.length, 58)
            let padded := and(add(bodyLength, 0x1f), not(0x1f))
            data := mload(0x40)
            mstore(data, add(0xc4, padded)) // selector + 6 words + the padded body
            let p := add(data, 0x20)
            mstore(p, selector)
            mstore(add(p, 0x04), shr(224, calldataload(add(at, 1)))) // sourceDomain
            mstore(add(p, 0x24), shr(96, calldataload(add(at, 5)))) // sourceApp
            mstore(add(p, 0x44), id)
            mstore(add(p, 0x64), shr(248, calldataload(add(at, 57)))) // kind
            mstore(add(p, 0x84), 0xa0) // offset of body
            mstore(add(p, 0xa4), bodyLength)
            mstore(add(add(p, 0xc4), sub(padded, 0x20)), 0) // zero the padding's last word
            calldatacopy(add(p, 0xc4), add(at, 58), bodyLength)
            mstore(0x40, add(add(p, 0xc4), padded))
        }
        uint256 gasBefore = gasleft();
        assembly ("memory-safe") {
            ok := call(gas(), recipient, 0, add(data, 0x20), mload(data), 0, 0)
        }
        if (ok) return (true, reason);
        if (gasleft() <= gasBefore / 64) revert InboxRecipientOutOfGas(id);
        assembly ("memory-safe") {
            let size := returndatasize()
            if gt(size, MAX_REASON_LENGTH) { size := MAX_REASON_LENGTH }
            reason := mload(0x40)
            mstore(reason, size)
            returndatacopy(add(reason, 0x20), 0, size)
            mstore(0x40, add(add(reason, 0x20), and(add(size, 0x1f), not(0x1f))))
        }
    }

    /// @dev The consumed word of a valid encoding, its current bits and the message's bit.
    function _consumedOf(bytes calldata message) private view returns (Consumed memory consumed) {
        uint64 nonce = MessageCodec.messageNonce(message);
        consumed.word =
            _wordKey(MessageCodec.messageSourceDomain(message), MessageCodec.messageSourceApp(message), nonce);
        consumed.bits = _consumed[consumed.word];
        consumed.mask = _bit(nonce);
    }

    /// @dev The status of `message` given its failure record: the record's status if any,
    ///      else Delivered if it is a valid encoding whose consumed bit is set, else None.
    function _statusOf(bytes calldata message, Failure memory failure) private view returns (DeliveryStatus) {
        if (failure.status != DeliveryStatus.None) return failure.status;
        if (MessageCodec.messageError(message).length != 0) return DeliveryStatus.None;
        Consumed memory consumed = _consumedOf(message);
        return consumed.bits & consumed.mask != 0 ? DeliveryStatus.Delivered : DeliveryStatus.None;
    }

    /// @dev sourceDomain (32 bits) | sourceApp (160 bits) | nonce >> 8 (56 bits).
    function _wordKey(uint32 sourceDomain, address sourceApp, uint64 nonce) private pure returns (uint256) {
        return (uint256(sourceDomain) << 224) | (uint256(uint160(sourceApp)) << 64) | uint256(nonce >> 8);
    }

    /// @dev The bit of `nonce` in its word.
    function _bit(uint64 nonce) private pure returns (uint256) {
        return uint256(1) << (nonce & 0xff);
    }

    function _checkAttesterSet(address[] memory attesters_, uint8 threshold_) private pure {
        uint256 size = attesters_.length;
        if (size == 0 || size > MAX_ATTESTERS) revert InboxAttesterSetSize(size, MAX_ATTESTERS);
        if (threshold_ == 0 || threshold_ > size) revert InboxThresholdInvalid(threshold_, size);
        address previous = address(0);
        for (uint256 i = 0; i < size; ++i) {
            if (attesters_[i] <= previous) revert InboxAttesterInvalid(i, attesters_[i]);
            previous = attesters_[i];
        }
    }

    /// @dev A new epoch: members of earlier sets are no longer current without any clearing.
    function _applyAttesterSet(address[] memory attesters_, uint8 threshold_) private {
        uint32 epoch = _config.epoch + 1;
        for (uint256 i = 0; i < attesters_.length; ++i) {
            _attesterEpoch[attesters_[i]] = epoch;
        }
        _attesters = attesters_;
        _config.attesterData = _storeDeliveryData(attesters_);
        _config.epoch = epoch;
        _config.threshold = threshold_;
        // Safe: _checkAttesterSet bounds the length by MAX_ATTESTERS (32).
        _config.attesterCount = uint8(attesters_.length);
        emit AttesterSetApplied(epoch, attesters_, threshold_);
    }

    /// @dev Deploy the delivery data as code (the SSTORE2 pattern): a STOP byte, then the
    ///      attesters packed ascending, 20 bytes each, then the peers in `_peerKeys` order,
    ///      44 bytes each (source domain, source app, recipient); nothing can call it.
    function _storeDeliveryData(address[] memory attesters_) private returns (address data) {
        uint256 peers = _peerKeys.length;
        // Byte 0 stays zero (STOP); abi.encodePacked would pad each address to 32 bytes.
        bytes memory runtime = new bytes(1 + MEMBER_LENGTH * attesters_.length + PEER_LENGTH * peers);
        for (uint256 i = 0; i < attesters_.length; ++i) {
            bytes20 member = bytes20(attesters_[i]);
            assembly ("memory-safe") {
                mstore(add(add(runtime, 0x21), mul(i, MEMBER_LENGTH)), member)
            }
        }
        uint256 start = 0x21 + MEMBER_LENGTH * attesters_.length;
        for (uint256 j = 0; j < peers; ++j) {
            uint256 key = _peerKeys[j];
            address recipient = _recipients[uint32(key >> 160)][address(uint160(key))];
            // In order, each write's trailing zeros are overwritten by the next one (the last
            // one's fall in the allocation's padding or in free memory).
            assembly ("memory-safe") {
                let at := add(add(runtime, start), mul(j, PEER_LENGTH))
                mstore(at, shl(64, key))
                mstore(add(at, 24), shl(96, recipient))
            }
        }
        // Init code: PUSH2 len, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE,
        // RETURN (copies the runtime that follows it and returns it), then the runtime.
        bytes memory init = abi.encodePacked(hex"61", uint16(runtime.length), hex"80600a3d393df3", runtime);
        assembly ("memory-safe") {
            data := create(0, add(init, 0x20), mload(init))
        }
        if (data == address(0)) revert InboxAttesterDataNotStored();
    }

    /// @dev A new pair beyond MAX_PEERS is refused; changing or removing one never is.
    function _checkPeerLimit(uint32 sourceDomain, address sourceApp, address recipient) private view {
        // The list never grows beyond MAX_PEERS, so "full" is equality.
        bool full = _peerKeys.length == MAX_PEERS;
        if (full && recipient != address(0) && _recipients[sourceDomain][sourceApp] == address(0)) {
            revert InboxPeerLimit(sourceDomain, sourceApp, MAX_PEERS);
        }
    }

    /// @dev Set the pair's recipient (zero: remove it), keep the peer list in step and write
    ///      the delivery data again (a contract's code cannot change: a new data contract).
    function _applyPeer(uint32 sourceDomain, address sourceApp, address recipient) private {
        _checkPeerLimit(sourceDomain, sourceApp, recipient);
        address previous = _recipients[sourceDomain][sourceApp];
        uint256 key = _peerKey(sourceDomain, sourceApp);
        if (previous == address(0) && recipient != address(0)) {
            _peerKeys.push(key);
        } else if (previous != address(0) && recipient == address(0)) {
            _removePeerKey(key);
        }
        _recipients[sourceDomain][sourceApp] = recipient;
        // Safe: _checkPeerLimit bounds the list by MAX_PEERS (16).
        _config.peerCount = uint8(_peerKeys.length);
        _config.attesterData = _storeDeliveryData(_attesters);
        emit PeerApplied(sourceDomain, sourceApp, recipient);
    }

    /// @dev Take `key` out of the peer list (the last key takes its place).
    function _removePeerKey(uint256 key) private {
        uint256 length = _peerKeys.length;
        for (uint256 i = 0; i < length; ++i) {
            if (_peerKeys[i] == key) {
                _peerKeys[i] = _peerKeys[length - 1];
                _peerKeys.pop();
                return;
            }
        }
    }
}
