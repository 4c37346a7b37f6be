// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Assembly only to re-raise the token's custom error unchanged (_bubble).
// solhint-disable no-inline-assembly

import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IHoldableToken} from "../interfaces/IHoldableToken.sol";
import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";
import {IOutbox} from "../interfaces/IOutbox.sol";
import {MessageCodec} from "../libraries/MessageCodec.sol";

/// @title PvdSettlement
/// @notice The payment chain's half of payment-versus-delivery: the notary of PvD holds and
///         the payment chain's messaging app. It announces holds to the trade registry
///         (PAYMENT_HELD), and on the registry's TRADE_OUTCOME executes the hold (Delivered) or
///         releases it (Expired, Rejected), then reports what happened (PAYMENT_SETTLED).
/// @dev It can never move money except by executing or releasing a hold a payer placed with
///      it as notary: it holds no funds, has no transfer function and no admin.
///      Roles (no admin, nothing to configure after deployment):
///      - anyone: places a hold from the payer's signature and announces it in one call
///        (or, if a front-runner placed that signed hold through the token, announces it).
///      - the payer: announces a hold it placed directly on the token.
///      - the inbox: delivers the registry's outcomes (receiveMessage).
///      The registry (the business chain's peer) is fixed at deployment, so the business
///      chain is deployed first; the registry learns this contract's address in the
///      wiring step (docs/messages.md, "Deployment and wiring").
///      Storage: none. A hold is announced exactly when the token records it as
///      acknowledged by its notary (this contract): in the placing write when this contract
///      places it (placeHoldAndAnnounce), or by acknowledgeHold for a hold placed directly
///      or by a front-runner; the token refuses a second acknowledgement, so no hold is
///      announced twice. Releasing a hold clears it, so the payer can fund the trade again
///      with the same hold id. An outcome carries the hold's fields
///      (MessageCodec.TradeOutcome); the token checks them against its commitment.
///      A Delivered outcome that finds the hold already released (or past its expiry, so no
///      longer executable) is answered Refunded and flagged (DeliveredAfterRefund): the
///      stated residual risk of a relayer outage longer than the liveness window.
///      An outcome that finds no matching hold (none under its id, or one with other fields)
///      was never sent for that hold (the registry answers only announced holds): it is a
///      terminal no-op, flagged (OutcomeWithoutHold), never a failure a later hold could
///      satisfy on retry.
contract PvdSettlement is IMessageRecipient {
    IHoldableToken private immutable _token;
    IOutbox private immutable _outbox;
    address private immutable _inbox;
    uint32 private immutable _registryDomain;
    address private immutable _registry;

    /// @dev The token's HoldMismatch(bytes32) selector: checkHold's answer for a hold placed
    ///      under the id with other fields.
    bytes4 private constant HOLD_MISMATCH = bytes4(keccak256("HoldMismatch(bytes32)"));

    /// @notice A hold was announced to the registry: PAYMENT_HELD message `messageId` (its
    ///         fields are in the token's HoldPlaced event and in the message).
    event HoldAnnounced(bytes32 indexed holdId, bytes32 indexed tradeId, bytes32 indexed messageId);

    /// @notice Outcome message `outcomeId` was settled: the hold was executed (Paid) or
    ///         released (Refunded), and PAYMENT_SETTLED went back (the outbox's MessageSent
    ///         in the same transaction).
    event TradeSettled(
        bytes32 indexed tradeId,
        bytes32 indexed holdId,
        bytes32 indexed outcomeId,
        MessageCodec.Outcome outcome,
        MessageCodec.SettlementResult result
    );

    /// @notice FLAG: a Delivered outcome found the hold released, or past its expiry (then
    ///         released here): the buyer got the money back although the seller delivered.
    event DeliveredAfterRefund(bytes32 indexed tradeId, bytes32 indexed holdId, bytes32 indexed outcomeId);

    /// @notice FLAG: an Expired or Rejected outcome found the hold already executed (the
    ///         registry contradicted itself); nothing moved, Paid was reported.
    event OutcomeAfterPayment(
        bytes32 indexed tradeId, bytes32 indexed holdId, bytes32 indexed outcomeId, MessageCodec.Outcome outcome
    );

    /// @notice FLAG: an outcome named no matching hold (none was placed under its id, or one
    ///         with other fields): nothing moved, nothing was sent back, and the message is
    ///         consumed (a forged or mistaken outcome must not wait for a hold to appear).
    event OutcomeWithoutHold(
        bytes32 indexed tradeId, bytes32 indexed holdId, bytes32 indexed outcomeId, MessageCodec.Outcome outcome
    );

    /// @notice Only the inbox may deliver messages.
    error SettlementNotInbox(address caller);

    /// @notice The message comes from another app than the registry.
    error SettlementUnknownSource(uint32 sourceDomain, address sourceApp);

    /// @notice Only TRADE_OUTCOME is addressed to the settlement.
    error SettlementUnexpectedKind(uint8 kind);

    /// @notice The hold's notary is not this contract.
    error SettlementNotNotary(address notary);

    /// @notice A hold's reference must name a trade (non-zero).
    error SettlementReferenceZero();

    /// @notice The hold is not open (None, Executed or Released).
    error SettlementHoldNotHeld(bytes32 holdId, IHoldableToken.HoldStatus status);

    /// @notice Only the hold's payer announces a hold placed directly on the token.
    error SettlementNotPayer(address caller, address payer);

    /// @notice The hold was announced before.
    error SettlementAlreadyAnnounced(bytes32 holdId);

    /// @notice A constructor argument is the zero address.
    error SettlementZeroAddress(uint256 argument);

    /// @param token_          the holdable token whose holds this contract notarises
    /// @param outbox_         this chain's outbox (this contract must be a registered app)
    /// @param inbox_          this chain's inbox (it must map the registry to this contract)
    /// @param registryDomain_ the business chain's domain id
    /// @param registry_       the trade registry there: where PAYMENT_HELD goes and the only
    ///                        source of outcomes
    constructor(IHoldableToken token_, IOutbox outbox_, address inbox_, uint32 registryDomain_, address registry_) {
        if (address(token_) == address(0)) revert SettlementZeroAddress(0);
        if (address(outbox_) == address(0)) revert SettlementZeroAddress(1);
        if (inbox_ == address(0)) revert SettlementZeroAddress(2);
        if (registry_ == address(0)) revert SettlementZeroAddress(4);
        _token = token_;
        _outbox = outbox_;
        _inbox = inbox_;
        _registryDomain = registryDomain_;
        _registry = registry_;
    }

    /// @notice Place `hold` for its payer, who signed it (EIP-712, the token's PlaceHold
    ///         type) valid before `validBefore`, and announce it to the registry. Anyone may
    ///         submit. `hold.notary` must be this contract and `hold.ref` the trade id.
    ///         Idempotent against a front-run: if someone placed this signed hold through the
    ///         token first, the existing hold is announced (the signature still must be the
    ///         payer's and unexpired); otherwise the token's error is re-raised.
    /// @return holdId    the token's id of the hold
    /// @return messageId the PAYMENT_HELD message's id
    function placeHoldAndAnnounce(IHoldableToken.Hold calldata hold, uint256 validBefore, bytes calldata signature)
        external
        returns (bytes32 holdId, bytes32 messageId)
    {
        _checkHoldShape(hold);
        // The token places the hold (or reverts) and has no callback into this contract;
        // placed by its notary, the hold is acknowledged (announced) in the same write.
        try _token.placeHoldWithAuthorization(hold, validBefore, signature) returns (bytes32 placed) {
            holdId = placed;
        } catch (bytes memory reason) {
            holdId = _frontRunHold(hold, validBefore, signature, reason);
            // Placed by someone else: acknowledge it now (the token refuses a second time).
            _token.acknowledgeHold(hold);
        }
        messageId = _announce(hold, holdId);
    }

    /// @notice Announce a hold its payer placed directly on the token. Only the payer. The
    ///         hold must name this contract as notary, a non-zero reference, be Held with
    ///         exactly these fields (the token checks its commitment), and not be announced.
    /// @return messageId the PAYMENT_HELD message's id
    function announce(IHoldableToken.Hold calldata hold) external returns (bytes32 messageId) {
        if (msg.sender != hold.payer) revert SettlementNotPayer(msg.sender, hold.payer);
        _checkHoldShape(hold);
        (bytes32 holdId, IHoldableToken.HoldStatus status) = _token.checkHold(hold);
        if (status != IHoldableToken.HoldStatus.Held) revert SettlementHoldNotHeld(holdId, status);
        if (_token.isHoldAcknowledged(holdId)) revert SettlementAlreadyAnnounced(holdId);
        // The token checks all of this again and records the acknowledgement (the
        // announced mark) in the hold's own slot.
        _token.acknowledgeHold(hold);
        messageId = _announce(hold, holdId);
    }

    /// @inheritdoc IMessageRecipient
    /// @dev Only TRADE_OUTCOME from the registry, through the inbox. Delivered executes
    ///      the hold, Expired and Rejected release it; then PAYMENT_SETTLED goes back. A
    ///      passing fault in the token (paused, frozen) reverts, so the inbox keeps the
    ///      message as verified-but-failed for a retry.
    function receiveMessage(uint32 sourceDomain, address sourceApp, bytes32 messageId, uint8 kind, bytes calldata body)
        external
    {
        if (msg.sender != _inbox) revert SettlementNotInbox(msg.sender);
        if (sourceDomain != _registryDomain || sourceApp != _registry) {
            revert SettlementUnknownSource(sourceDomain, sourceApp);
        }
        if (kind != MessageCodec.TRADE_OUTCOME) revert SettlementUnexpectedKind(kind);
        MessageCodec.TradeOutcome calldata outcome = MessageCodec.tradeOutcomeCalldata(body);
        IHoldableToken.Hold memory hold = IHoldableToken.Hold({
            payer: outcome.payer,
            payee: outcome.payee,
            notary: address(this),
            amount: outcome.amount,
            expiry: outcome.expiry,
            ref: outcome.tradeId
        });
        // The token moves the money (a release also clears the announced mark), then the
        // outbox records the reply.
        MessageCodec.SettlementResult result = outcome.outcome == MessageCodec.Outcome.Delivered
            ? _settleDelivered(hold, outcome, messageId)
            : _settleRelease(hold, outcome, messageId);
        // No hold: a terminal no-op (flagged in _noHold), nothing to report.
        if (result == MessageCodec.SettlementResult.None) return;
        bytes memory reply = MessageCodec.encodePaymentSettled(
            MessageCodec.PaymentSettled(outcome.tradeId, outcome.holdId, result, outcome.amount)
        );
        // The reply's id and nonce are in the outbox's MessageSent event.
        // slither-disable-next-line unused-return
        _outbox.send(sourceDomain, sourceApp, MessageCodec.PAYMENT_SETTLED, reply);
        emit TradeSettled(outcome.tradeId, outcome.holdId, messageId, outcome.outcome, result);
    }

    // ---------------------------------------------------------------------------- views

    /// @notice The token whose holds this contract notarises.
    function token() external view returns (address) {
        return address(_token);
    }

    /// @notice This chain's outbox.
    function outbox() external view returns (address) {
        return address(_outbox);
    }

    /// @notice This chain's inbox, the only caller of receiveMessage.
    function inbox() external view returns (address) {
        return _inbox;
    }

    /// @notice The business chain's domain id.
    function registryDomain() external view returns (uint32) {
        return _registryDomain;
    }

    /// @notice The trade registry on the business chain.
    function registry() external view returns (address) {
        return _registry;
    }

    /// @notice Whether the hold was announced (and not released since): the token's
    ///         acknowledgement by this contract as its notary.
    function isAnnounced(bytes32 holdId) external view returns (bool) {
        return _token.isHoldAcknowledged(holdId);
    }

    // ------------------------------------------------------------------------- internal

    function _checkHoldShape(IHoldableToken.Hold calldata hold) private view {
        if (hold.notary != address(this)) revert SettlementNotNotary(hold.notary);
        if (hold.ref == bytes32(0)) revert SettlementReferenceZero();
    }

    /// @dev The hold is acknowledged on the token (the announced mark); now the message.
    function _announce(IHoldableToken.Hold calldata hold, bytes32 holdId) private returns (bytes32 messageId) {
        bytes memory body = MessageCodec.encodePaymentHeld(
            MessageCodec.PaymentHeld({
                tradeId: hold.ref,
                holdId: holdId,
                payer: hold.payer,
                payee: hold.payee,
                token: address(_token),
                amount: hold.amount,
                expiry: hold.expiry
            })
        );
        // The nonce is in the message.
        // slither-disable-next-line unused-return
        (messageId,) = _outbox.send(_registryDomain, _registry, MessageCodec.PAYMENT_HELD, body);
        emit HoldAnnounced(holdId, hold.ref, messageId);
    }

    /// @dev Delivered: execute the hold (Paid). If the token refuses, look at the hold: already
    ///      executed -> Paid; released, or still held but past expiry (release it now) ->
    ///      Refunded and flagged; still held before expiry -> a passing fault: re-raise it.
    function _settleDelivered(
        IHoldableToken.Hold memory hold,
        MessageCodec.TradeOutcome calldata outcome,
        bytes32 messageId
    ) private returns (MessageCodec.SettlementResult) {
        try _token.executeHold(hold) {
            return MessageCodec.SettlementResult.Paid;
        } catch (bytes memory reason) {
            IHoldableToken.HoldStatus status = _matchingHoldStatus(hold);
            if (status == IHoldableToken.HoldStatus.None) return _noHold(outcome, messageId);
            if (status == IHoldableToken.HoldStatus.Executed) return MessageCodec.SettlementResult.Paid;
            if (status == IHoldableToken.HoldStatus.Held && block.timestamp >= hold.expiry) {
                _token.releaseHold(hold);
                status = IHoldableToken.HoldStatus.Released;
            }
            if (status != IHoldableToken.HoldStatus.Released) _bubble(reason);
            emit DeliveredAfterRefund(outcome.tradeId, outcome.holdId, messageId);
            return MessageCodec.SettlementResult.Refunded;
        }
    }

    /// @dev Expired or Rejected: release the hold (Refunded). If the token refuses, look at
    ///      the hold: already released -> Refunded; already executed -> Paid and flagged;
    ///      otherwise re-raise the token's error.
    function _settleRelease(
        IHoldableToken.Hold memory hold,
        MessageCodec.TradeOutcome calldata outcome,
        bytes32 messageId
    ) private returns (MessageCodec.SettlementResult) {
        try _token.releaseHold(hold) {
            return MessageCodec.SettlementResult.Refunded;
        } catch (bytes memory reason) {
            IHoldableToken.HoldStatus status = _matchingHoldStatus(hold);
            if (status == IHoldableToken.HoldStatus.None) return _noHold(outcome, messageId);
            if (status == IHoldableToken.HoldStatus.Released) return MessageCodec.SettlementResult.Refunded;
            if (status != IHoldableToken.HoldStatus.Executed) _bubble(reason);
            emit OutcomeAfterPayment(outcome.tradeId, outcome.holdId, messageId, outcome.outcome);
            return MessageCodec.SettlementResult.Paid;
        }
    }

    /// @dev The status of the hold with exactly these fields: None if no hold was placed
    ///      under its id or one with other fields (the token's HoldMismatch). Any other
    ///      failure of the token (out of gas included) is re-raised, never read as "no hold".
    function _matchingHoldStatus(IHoldableToken.Hold memory hold) private view returns (IHoldableToken.HoldStatus) {
        // The id is the outcome's.
        // slither-disable-next-line unused-return
        try _token.checkHold(hold) returns (bytes32, IHoldableToken.HoldStatus status) {
            return status;
        } catch (bytes memory reason) {
            if (reason.length >= 4 && bytes4(reason) == HOLD_MISMATCH) return IHoldableToken.HoldStatus.None;
            _bubble(reason);
        }
    }

    /// @dev An outcome for no matching hold: flag it; None tells the caller to stop there.
    function _noHold(MessageCodec.TradeOutcome calldata outcome, bytes32 messageId)
        private
        returns (MessageCodec.SettlementResult)
    {
        emit OutcomeWithoutHold(outcome.tradeId, outcome.holdId, messageId, outcome.outcome);
        return MessageCodec.SettlementResult.None;
    }

    /// @dev placeHoldWithAuthorization reverted with `reason`. If the same hold is already
    ///      placed and open (a front-runner submitted the payer's signature through the token),
    ///      not acknowledged (announced), and the signature is the payer's and unexpired, return its id to be
    ///      announced; otherwise re-raise `reason`.
    function _frontRunHold(
        IHoldableToken.Hold calldata hold,
        uint256 validBefore,
        bytes calldata signature,
        bytes memory reason
    ) private view returns (bytes32 holdId) {
        IHoldableToken.HoldStatus status = IHoldableToken.HoldStatus.None; // until checkHold answers
        // A hold with other fields under the id (HoldMismatch) is no front-run of this one.
        try _token.checkHold(hold) returns (bytes32 id, IHoldableToken.HoldStatus found) {
            (holdId, status) = (id, found);
        } catch {
            _bubble(reason);
        }
        if (
            status != IHoldableToken.HoldStatus.Held || _token.isHoldAcknowledged(holdId)
                || block.timestamp >= validBefore
                || !SignatureChecker.isValidSignatureNowCalldata(
                    hold.payer, _token.holdAuthorizationDigest(hold, validBefore), signature
                )
        ) _bubble(reason);
    }

    /// @dev Revert with `reason` as received (the token's custom error).
    function _bubble(bytes memory reason) private pure {
        assembly ("memory-safe") {
            revert(add(reason, 0x20), mload(reason))
        }
    }
}
