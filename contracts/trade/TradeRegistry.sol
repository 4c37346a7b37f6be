// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";
import {IOutbox} from "../interfaces/IOutbox.sol";
import {MessageCodec} from "../libraries/MessageCodec.sol";
import {BillOfLading} from "./BillOfLading.sol";
import {ITradeRegistry} from "./ITradeRegistry.sol";

/// @title TradeRegistry
/// @notice The business chain's record of pvd trades (docs/design.md, docs/trade.md). One
///         record per trade with two separate fields: `status` (the trade, owned here) and
///         `settlement` (the money, reported by the payment chain, set once).
///
///         Proposed -> Accepted -> Funded -> Shipped -> Delivered, or Cancelled (a party,
///         before funding), Expired (anyone, once now > deadline, unless a dispute is open),
///         Disputed (a party, from Funded or Shipped up to the deadline; the arbiter rules
///         Delivered or Expired up to the arbitration deadline; anyone expires it after).
///         Delivered, Expired and Cancelled are terminal; Delivered and Expired exclusive.
///
/// @dev Roles:
///      - admin: wires inbox, outbox, payment domain and settlement app once; no power after.
///      - buyer: proposes (is msg.sender), cancels before funding, confirms receipt
///        (surrendering the bill of lading), opens a dispute.
///      - seller: accepts, cancels before funding, ships (the bill is issued), opens a dispute.
///      - carrier (optional, per trade): confirms delivery with a proof-of-delivery hash.
///      - arbiter (optional, per trade): rules on an open dispute.
///      - inbox: the business chain's inbox, the only caller of `receiveMessage`.
///      - anyone: expires a trade whose window has passed.
///
///      Trade id = keccak256(abi.encode(block.chainid, businessDomain, address(this), buyer,
///      nonce)), nonce = the buyer's count of earlier proposals here: unique across chains,
///      protocol domains, deployments and buyers. The payment-chain hold for a trade uses
///      reference = trade id and notary = the settlement app, so its hold id is the token's
///      holdId(payer, settlementApp, tradeId); the registry stores the hold id the
///      authenticated PAYMENT_HELD reports and never recomputes it.
contract TradeRegistry is ITradeRegistry, IMessageRecipient {
    address private immutable _admin;
    BillOfLading private immutable _billOfLading;
    /// @notice Minimum gap between the delivery deadline and the hold expiry, and between the
    ///         arbitration deadline and the hold expiry (the timing rule, docs/design.md).
    uint64 private immutable _safetyWindow;
    /// @notice A proposal's deadline is at most this many seconds ahead.
    uint64 private immutable _maxHorizon;

    address private _inbox;
    IOutbox private _outbox;
    uint32 private _businessDomain;
    uint32 private _paymentDomain;
    address private _settlementApp;
    bool private _wired;

    mapping(bytes32 tradeId => Trade) private _trades;
    mapping(address buyer => uint256 count) private _nonces;
    /// @dev Set only when the outbox refused a trade's Delivered or Expired outcome.
    mapping(bytes32 tradeId => bool unsent) private _outcomeUnsent;

    /// @param admin        who wires the registry once (see `wire`)
    /// @param safetyWindow seconds, > 0: see `_safetyWindow`
    /// @param maxHorizon   seconds, > 0: see `_maxHorizon`
    constructor(address admin, uint64 safetyWindow, uint64 maxHorizon) {
        if (admin == address(0) || safetyWindow == 0 || maxHorizon == 0) {
            revert RegistryInvalidConfig(admin, safetyWindow, maxHorizon);
        }
        _admin = admin;
        _safetyWindow = safetyWindow;
        _maxHorizon = maxHorizon;
        // Deployed here so that the bill's registry is this contract, with no wiring step;
        // its creation code lives only in this constructor's init code.
        _billOfLading = new BillOfLading();
    }

    // ---------------------------------------------------------------- wiring (admin, once)

    /// @notice Connect the registry to the messaging layer. Admin only, exactly once.
    /// @param inbox         the business chain's inbox (sole caller of receiveMessage)
    /// @param outbox        the business chain's outbox (its localDomain() is this chain's domain)
    /// @param paymentDomain the payment chain's protocol domain id
    /// @param settlementApp the settlement contract on the payment chain: the peer answered
    ///                      and the only accepted message source
    function wire(address inbox, IOutbox outbox, uint32 paymentDomain, address settlementApp) external {
        if (msg.sender != _admin) revert RegistryCallerNotAdmin(msg.sender);
        if (_wired) revert RegistryAlreadyWired();
        if (inbox == address(0) || address(outbox) == address(0) || settlementApp == address(0)) {
            revert RegistryInvalidWiring(inbox, address(outbox), settlementApp);
        }
        uint32 businessDomain = outbox.localDomain();
        _inbox = inbox;
        _outbox = outbox;
        _businessDomain = businessDomain;
        _paymentDomain = paymentDomain;
        _settlementApp = settlementApp;
        _wired = true;
        emit RegistryWired(inbox, address(outbox), businessDomain, paymentDomain, settlementApp);
    }

    // ---------------------------------------------------------------- the parties

    /// @notice Propose a trade as its buyer (msg.sender). Checks the timing rule (docs/design.md):
    ///         now < deadline <= now + maxHorizon; holdExpiry >= deadline + safetyWindow;
    ///         with an arbiter, deadline <= arbitrationDeadline <= holdExpiry - safetyWindow,
    ///         without one, arbitrationDeadline == 0.
    /// @return tradeId see the contract's @dev; `nextTradeId(buyer)` tells it in advance
    function propose(Terms calldata terms) external returns (bytes32 tradeId) {
        if (!_wired) revert RegistryNotWired();
        _checkTerms(msg.sender, terms);

        uint256 nonce = _nonces[msg.sender];
        tradeId = _tradeId(msg.sender, nonce);
        // A nonce never repeats, so the id is fresh: no existence check needed.
        _nonces[msg.sender] = nonce + 1;

        Trade storage t = _trades[tradeId];
        t.buyer = msg.sender;
        t.deadline = terms.deadline;
        t.paymentDomain = _paymentDomain;
        t.seller = terms.seller;
        t.holdExpiry = terms.holdExpiry;
        t.status = Status.Proposed;
        t.payer = terms.payer;
        t.arbitrationDeadline = terms.arbitrationDeadline;
        t.payee = terms.payee;
        if (terms.carrier != address(0)) t.carrier = terms.carrier;
        if (terms.arbiter != address(0)) t.arbiter = terms.arbiter;
        t.token = terms.token;
        t.price = terms.price;
        if (terms.termsHash != bytes32(0)) t.termsHash = terms.termsHash;

        emit TradeProposed(tradeId, msg.sender, terms.seller, nonce, terms.price, terms.deadline, terms.holdExpiry);
    }

    /// @notice Accept a proposed trade as its seller, up to the delivery deadline.
    function accept(bytes32 tradeId) external {
        Trade storage t = _existing(tradeId);
        if (msg.sender != t.seller) revert TradeCallerNotSeller(tradeId, msg.sender);
        _requireStatus(tradeId, t.status, Status.Proposed);
        _requireNotAfterDeadline(tradeId, t.deadline);
        t.status = Status.Accepted;
        emit TradeAccepted(tradeId, msg.sender);
    }

    /// @notice Cancel a trade that is not funded yet (Proposed or Accepted). Buyer or seller.
    /// @dev A PAYMENT_HELD that arrives later is answered Rejected, so its hold is released.
    function cancel(bytes32 tradeId) external {
        Trade storage t = _existing(tradeId);
        if (msg.sender != t.buyer && msg.sender != t.seller) revert TradeCallerNotParty(tradeId, msg.sender);
        Status status = t.status;
        if (status != Status.Proposed && status != Status.Accepted) revert TradeWrongStatus(tradeId, status);
        t.status = Status.Cancelled;
        emit TradeCancelled(tradeId, msg.sender);
    }

    /// @notice Ship a funded trade as its seller, up to the delivery deadline: the bill of
    ///         lading (token id uint256(tradeId)) is issued to the buyer.
    /// @param documentHash hash of the carrier's bill-of-lading document (non-zero)
    function ship(bytes32 tradeId, bytes32 documentHash) external {
        Trade storage t = _existing(tradeId);
        if (msg.sender != t.seller) revert TradeCallerNotSeller(tradeId, msg.sender);
        _requireStatus(tradeId, t.status, Status.Funded);
        _requireNotAfterDeadline(tradeId, t.deadline);
        t.status = Status.Shipped;
        t.shippedAt = uint64(block.timestamp);
        // Interaction with our own BillOfLading (deployed by this contract, no callbacks:
        // `_mint`, not `_safeMint`), after the effects.
        uint256 tokenId = _billOfLading.issue(tradeId, t.buyer, documentHash);
        emit TradeShipped(tradeId, tokenId, documentHash);
    }

    /// @notice The buyer confirms receipt, surrendering the bill of lading, while
    ///         now <= deadline. The trade is Delivered and the Delivered outcome is sent.
    function confirmDelivery(bytes32 tradeId) external {
        Trade storage t = _existing(tradeId);
        if (msg.sender != t.buyer) revert TradeCallerNotBuyer(tradeId, msg.sender);
        _requireStatus(tradeId, t.status, Status.Shipped);
        _requireNotAfterDeadline(tradeId, t.deadline);
        _deliver(tradeId, t, bytes32(0));
    }

    /// @notice The named carrier records delivery with a proof-of-delivery hash while
    ///         now <= deadline; the bill is surrendered. The Delivered outcome is sent.
    function confirmDeliveryByCarrier(bytes32 tradeId, bytes32 proofOfDelivery) external {
        Trade storage t = _existing(tradeId);
        // msg.sender is never zero, so a trade without a carrier (zero) admits nobody.
        if (msg.sender != t.carrier) revert TradeCallerNotCarrier(tradeId, msg.sender);
        _requireStatus(tradeId, t.status, Status.Shipped);
        _requireNotAfterDeadline(tradeId, t.deadline);
        if (proofOfDelivery == bytes32(0)) revert TradeProofOfDeliveryMissing(tradeId);
        t.proofOfDelivery = proofOfDelivery;
        _deliver(tradeId, t, proofOfDelivery);
    }

    /// @notice Open a dispute on a Funded or Shipped trade, up to the deadline. Buyer or
    ///         seller; the trade must name an arbiter. Freezes expiry until the arbitration
    ///         deadline has passed.
    function openDispute(bytes32 tradeId) external {
        Trade storage t = _existing(tradeId);
        if (msg.sender != t.buyer && msg.sender != t.seller) revert TradeCallerNotParty(tradeId, msg.sender);
        Status previous = t.status;
        if (previous != Status.Funded && previous != Status.Shipped) revert TradeWrongStatus(tradeId, previous);
        _requireNotAfterDeadline(tradeId, t.deadline);
        if (t.arbiter == address(0)) revert TradeHasNoArbiter(tradeId);
        t.status = Status.Disputed;
        emit TradeDisputed(tradeId, msg.sender, previous);
    }

    /// @notice The arbiter rules on an open dispute, while now <= arbitration deadline:
    ///         Delivered or Expired. The outcome is sent.
    function resolveDispute(bytes32 tradeId, MessageCodec.Outcome ruling) external {
        Trade storage t = _existing(tradeId);
        if (msg.sender != t.arbiter) revert TradeCallerNotArbiter(tradeId, msg.sender);
        _requireStatus(tradeId, t.status, Status.Disputed);
        if (block.timestamp > t.arbitrationDeadline) {
            revert TradeArbitrationDeadlinePassed(tradeId, t.arbitrationDeadline, block.timestamp);
        }
        if (ruling == MessageCodec.Outcome.Delivered) {
            _deliver(tradeId, t, bytes32(0));
        } else if (ruling == MessageCodec.Outcome.Expired) {
            _expire(tradeId, t);
        } else {
            revert TradeInvalidRuling(tradeId, ruling);
        }
        emit DisputeResolved(tradeId, msg.sender, ruling);
    }

    /// @notice Expire a trade, by anyone: any open status once now > deadline; a Disputed
    ///         trade only once now > arbitration deadline. A funded trade's Expired outcome
    ///         is sent (the hold is released to the payer); a shipped trade's bill is voided.
    function expire(bytes32 tradeId) external {
        Trade storage t = _existing(tradeId);
        Status status = t.status;
        if (status == Status.Disputed) {
            if (block.timestamp <= t.arbitrationDeadline) {
                revert TradeArbitrationDeadlineNotPassed(tradeId, t.arbitrationDeadline, block.timestamp);
            }
        } else if (
            status == Status.Proposed || status == Status.Accepted || status == Status.Funded
                || status == Status.Shipped
        ) {
            if (block.timestamp <= t.deadline) revert TradeDeadlineNotPassed(tradeId, t.deadline, block.timestamp);
        } else {
            revert TradeWrongStatus(tradeId, status);
        }
        _expire(tradeId, t);
    }

    /// @notice Send again the Delivered or Expired outcome of a trade whose outcome the
    ///         outbox refused (OutcomeNotSent), e.g. while the registry's registration there
    ///         was being changed. Anyone. Reverts with the outbox's error if it refuses again.
    function resendOutcome(bytes32 tradeId) external {
        if (!_outcomeUnsent[tradeId]) revert TradeOutcomeNotPending(tradeId);
        Trade storage t = _trades[tradeId];
        MessageCodec.Outcome outcome =
            t.status == Status.Delivered ? MessageCodec.Outcome.Delivered : MessageCodec.Outcome.Expired;
        delete _outcomeUnsent[tradeId];
        _sendOutcome(tradeId, t.holdId, outcome, t.payer, t.payee, t.price, t.holdExpiry);
    }

    // ---------------------------------------------------------------- messages in

    /// @notice Act on a verified message from the settlement app: PAYMENT_HELD funds an
    ///         Accepted trade whose terms it matches, and is answered Rejected otherwise;
    ///         PAYMENT_SETTLED sets the settlement once. Inbox only.
    /// @dev Reverts only for a wrong caller, an unregistered source, a kind this app never
    ///      receives or a malformed body (MessageCodec.MessageBodyLength): protocol faults,
    ///      kept by the inbox as verified-but-failed. A merely unexpected message is consumed.
    function receiveMessage(uint32 sourceDomain, address sourceApp, bytes32 messageId, uint8 kind, bytes calldata body)
        external
    {
        if (!_wired) revert RegistryNotWired();
        if (msg.sender != _inbox) revert RegistryCallerNotInbox(msg.sender);
        if (sourceDomain != _paymentDomain || sourceApp != _settlementApp) {
            revert RegistryUnknownSource(sourceDomain, sourceApp);
        }
        if (kind == MessageCodec.PAYMENT_HELD) {
            _onPaymentHeld(messageId, MessageCodec.decodePaymentHeld(body));
        } else if (kind == MessageCodec.PAYMENT_SETTLED) {
            _onPaymentSettled(messageId, MessageCodec.decodePaymentSettled(body));
        } else {
            revert RegistryUnexpectedKind(kind);
        }
    }

    function _onPaymentHeld(bytes32 messageId, MessageCodec.PaymentHeld memory m) private {
        Trade storage t = _trades[m.tradeId];
        Status status = t.status;
        // The hold this trade is already funded by, announced again: answering Rejected
        // would release a live hold (or race the Delivered outcome). Consume it silently.
        // An Expired trade's hold was released by its Expired outcome: the same id announced
        // again is a new placement (the token lets a released id be placed again) and is
        // answered Rejected below, so that it is released too.
        if (t.holdId != bytes32(0) && t.holdId == m.holdId && status != Status.Expired) {
            emit PaymentHeldDuplicate(m.tradeId, m.holdId, messageId);
            return;
        }
        RejectReason reason = RejectReason.None;
        if (status == Status.None) {
            reason = RejectReason.UnknownTrade;
        } else if (status != Status.Accepted) {
            reason = RejectReason.NotAccepted;
        } else if (
            m.payer != t.payer || m.payee != t.payee || m.amount != t.price || m.token != t.token
                || m.expiry != t.holdExpiry
        ) {
            reason = RejectReason.TermsMismatch;
        } else if (block.timestamp > t.deadline) {
            reason = RejectReason.DeadlinePassed;
        }
        if (reason != RejectReason.None) {
            emit PaymentHeldRejected(m.tradeId, m.holdId, messageId, reason, status);
            // Answer with the message's own hold fields so the settlement app can release
            // exactly that hold (the token checks them against its commitment).
            _sendOutcome(m.tradeId, m.holdId, MessageCodec.Outcome.Rejected, m.payer, m.payee, m.amount, m.expiry);
            return;
        }
        t.status = Status.Funded;
        t.holdId = m.holdId;
        emit TradeFunded(m.tradeId, m.holdId, messageId);
    }

    function _onPaymentSettled(bytes32 messageId, MessageCodec.PaymentSettled memory m) private {
        Trade storage t = _trades[m.tradeId];
        SettledIgnoredReason reason = SettledIgnoredReason.None;
        if (t.status == Status.None) {
            reason = SettledIgnoredReason.UnknownTrade;
        } else if (t.holdId == bytes32(0) || m.holdId != t.holdId || m.amount != t.price) {
            // Settlements of rejected holds land here: they never funded this trade.
            reason = SettledIgnoredReason.HoldMismatch;
        } else if (t.settlement != MessageCodec.SettlementResult.None) {
            reason = SettledIgnoredReason.AlreadySettled;
        } else if (m.result == MessageCodec.SettlementResult.None) {
            reason = SettledIgnoredReason.InvalidResult;
        }
        if (reason != SettledIgnoredReason.None) {
            emit PaymentSettledIgnored(m.tradeId, m.holdId, messageId, reason);
            return;
        }
        t.settlement = m.result;
        emit TradeSettled(m.tradeId, m.holdId, m.result, t.status);
    }

    // ---------------------------------------------------------------- views

    /// @notice The whole record of `tradeId` (all zero if unknown).
    function getTrade(bytes32 tradeId) external view returns (Trade memory) {
        return _trades[tradeId];
    }

    /// @notice The trade's status (None if unknown).
    function statusOf(bytes32 tradeId) external view returns (Status) {
        return _trades[tradeId].status;
    }

    /// @notice The trade's settlement as the payment chain reported it (None until then).
    function settlementOf(bytes32 tradeId) external view returns (MessageCodec.SettlementResult) {
        return _trades[tradeId].settlement;
    }

    /// @notice The hold that funded the trade (zero before funding).
    function holdIdOf(bytes32 tradeId) external view returns (bytes32) {
        return _trades[tradeId].holdId;
    }

    /// @notice How many trades `buyer` has proposed here (the nonce of its next proposal).
    function nonceOf(address buyer) external view returns (uint256) {
        return _nonces[buyer];
    }

    /// @notice The id `buyer`'s next proposal will get (needs the wiring: it uses the domain).
    function nextTradeId(address buyer) external view returns (bytes32) {
        if (!_wired) revert RegistryNotWired();
        return _tradeId(buyer, _nonces[buyer]);
    }

    /// @notice The id of `buyer`'s `nonce`-th proposal here.
    function tradeIdFor(address buyer, uint256 nonce) external view returns (bytes32) {
        if (!_wired) revert RegistryNotWired();
        return _tradeId(buyer, nonce);
    }

    /// @notice Whether the trade's outcome was refused by the outbox and waits for `resendOutcome`.
    function outcomeUnsent(bytes32 tradeId) external view returns (bool) {
        return _outcomeUnsent[tradeId];
    }

    /// @notice The bill-of-lading contract this registry issues bills on.
    function billOfLading() external view returns (BillOfLading) {
        return _billOfLading;
    }

    /// @notice The admin that wires the registry.
    function admin() external view returns (address) {
        return _admin;
    }

    /// @notice The timing parameters: safety window and maximum deadline horizon (seconds).
    function timing() external view returns (uint64 safetyWindow, uint64 maxHorizon) {
        return (_safetyWindow, _maxHorizon);
    }

    /// @notice The wiring (all zero and `wired` false before `wire`).
    function wiring()
        external
        view
        returns (
            bool wired,
            address inbox,
            address outbox,
            uint32 businessDomain,
            uint32 paymentDomain,
            address settlementApp
        )
    {
        return (_wired, _inbox, address(_outbox), _businessDomain, _paymentDomain, _settlementApp);
    }

    // ---------------------------------------------------------------- internals

    function _checkTerms(address buyer, Terms calldata terms) private view {
        if (
            terms.seller == address(0) || terms.payer == address(0) || terms.payee == address(0)
                || terms.token == address(0)
        ) revert TradeZeroAddress(terms.seller, terms.payer, terms.payee, terms.token);
        if (terms.seller == buyer) revert TradeBuyerIsSeller(buyer);
        if (terms.price == 0) revert TradeZeroPrice();
        if (terms.carrier != address(0) && terms.carrier == terms.seller) revert TradeCarrierIsSeller(terms.carrier);
        if (terms.arbiter != address(0) && (terms.arbiter == buyer || terms.arbiter == terms.seller)) {
            revert TradeArbiterIsParty(terms.arbiter);
        }
        // Sums in uint256 from uint64 operands: no overflow.
        if (terms.deadline <= block.timestamp) revert TradeDeadlineNotInFuture(terms.deadline, block.timestamp);
        uint256 latest = block.timestamp + _maxHorizon;
        if (terms.deadline > latest) revert TradeDeadlineTooFar(terms.deadline, latest);
        uint256 earliestExpiry = uint256(terms.deadline) + _safetyWindow;
        if (terms.holdExpiry < earliestExpiry) revert TradeHoldExpiryTooEarly(terms.holdExpiry, earliestExpiry);
        if (terms.arbiter == address(0)) {
            if (terms.arbitrationDeadline != 0) revert TradeArbitrationDeadlineWithoutArbiter(terms.arbitrationDeadline);
        } else {
            if (terms.arbitrationDeadline < terms.deadline) {
                revert TradeArbitrationDeadlineTooEarly(terms.arbitrationDeadline, terms.deadline);
            }
            // holdExpiry >= deadline + safetyWindow was checked: no underflow.
            uint256 latestRuling = uint256(terms.holdExpiry) - _safetyWindow;
            if (terms.arbitrationDeadline > latestRuling) {
                revert TradeArbitrationDeadlineTooLate(terms.arbitrationDeadline, latestRuling);
            }
        }
    }

    function _tradeId(address buyer, uint256 nonce) private view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, _businessDomain, address(this), buyer, nonce));
    }

    function _existing(bytes32 tradeId) private view returns (Trade storage t) {
        t = _trades[tradeId];
        if (t.status == Status.None) revert TradeNotFound(tradeId);
    }

    function _requireStatus(bytes32 tradeId, Status actual, Status wanted) private pure {
        if (actual != wanted) revert TradeWrongStatus(tradeId, actual);
    }

    function _requireNotAfterDeadline(bytes32 tradeId, uint64 deadline) private view {
        if (block.timestamp > deadline) revert TradeDeadlinePassed(tradeId, deadline, block.timestamp);
    }

    /// @dev Effects, then interactions: status first, then the bill (our own contract) and the
    ///      outbox (configured, trusted). A Disputed trade that was never shipped has no bill.
    function _deliver(bytes32 tradeId, Trade storage t, bytes32 proofOfDelivery) private {
        t.status = Status.Delivered;
        emit TradeDelivered(tradeId, msg.sender, proofOfDelivery);
        if (t.shippedAt != 0) _billOfLading.surrender(tradeId);
        _trySendOutcome(tradeId, t, MessageCodec.Outcome.Delivered);
    }

    /// @dev Effects, then interactions (as `_deliver`). Only a funded trade has a hold to
    ///      release: an unfunded one (Proposed, Accepted) sends no outcome.
    function _expire(bytes32 tradeId, Trade storage t) private {
        t.status = Status.Expired;
        emit TradeExpired(tradeId, msg.sender);
        if (t.shippedAt != 0) _billOfLading.void(tradeId);
        if (t.holdId != bytes32(0)) _trySendOutcome(tradeId, t, MessageCodec.Outcome.Expired);
    }

    /// @dev A terminal trade's outcome. If the outbox refuses it, the trade's change stands
    ///      (a seller who delivered keeps Delivered) and the outcome waits for
    ///      `resendOutcome`: an outbox change can delay an outcome, never erase it.
    function _trySendOutcome(bytes32 tradeId, Trade storage t, MessageCodec.Outcome outcome) private {
        bytes memory body = MessageCodec.encodeTradeOutcome(
            MessageCodec.TradeOutcome({
                tradeId: tradeId,
                holdId: t.holdId,
                outcome: outcome,
                payer: t.payer,
                payee: t.payee,
                amount: t.price,
                expiry: t.holdExpiry
            })
        );
        try _outbox.send(_paymentDomain, _settlementApp, MessageCodec.TRADE_OUTCOME, body) returns (
            bytes32 messageId, uint64 nonce
        ) {
            emit OutcomeSent(tradeId, t.holdId, outcome, messageId, nonce);
        } catch (bytes memory reason) {
            _outcomeUnsent[tradeId] = true;
            emit OutcomeNotSent(tradeId, t.holdId, outcome, reason);
        }
    }

    /// @dev The last step of every caller (interaction with the configured outbox).
    function _sendOutcome(
        bytes32 tradeId,
        bytes32 holdId,
        MessageCodec.Outcome outcome,
        address payer,
        address payee,
        uint256 amount,
        uint64 expiry
    ) private {
        bytes memory body = MessageCodec.encodeTradeOutcome(
            MessageCodec.TradeOutcome({
                tradeId: tradeId,
                holdId: holdId,
                outcome: outcome,
                payer: payer,
                payee: payee,
                amount: amount,
                expiry: expiry
            })
        );
        (bytes32 messageId, uint64 nonce) = _outbox.send(_paymentDomain, _settlementApp, MessageCodec.TRADE_OUTCOME, body);
        emit OutcomeSent(tradeId, holdId, outcome, messageId, nonce);
    }
}
