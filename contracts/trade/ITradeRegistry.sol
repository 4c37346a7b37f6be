// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MessageCodec} from "../libraries/MessageCodec.sol";

/// @title ITradeRegistry
/// @notice Types, events and errors of the business chain's trade registry (TradeRegistry).
///         Events are the relayer's API: see docs/trade.md; never change one silently.
interface ITradeRegistry {
    /// @notice Where a trade is in its life. Persisted: values are only ever appended.
    ///         Delivered, Expired and Cancelled are terminal.
    enum Status {
        None,
        Proposed,
        Accepted,
        Funded,
        Shipped,
        Delivered,
        Cancelled,
        Expired,
        Disputed
    }

    /// @notice Why a PAYMENT_HELD message was answered with a Rejected outcome.
    enum RejectReason {
        None,
        UnknownTrade,
        NotAccepted,
        TermsMismatch,
        DeadlinePassed
    }

    /// @notice Why a PAYMENT_SETTLED message was consumed without effect.
    enum SettledIgnoredReason {
        None,
        UnknownTrade,
        HoldMismatch,
        AlreadySettled,
        InvalidResult
    }

    /// @notice What the buyer fixes at proposal. `payer`/`payee` are the buyer's and the
    ///         seller's addresses on the payment chain; `token` is the token there.
    ///         `carrier` and `arbiter` are optional (zero = none); without an arbiter,
    ///         `arbitrationDeadline` must be 0.
    struct Terms {
        address seller;
        address payer;
        address payee;
        address carrier;
        address arbiter;
        address token;
        uint256 price;
        bytes32 termsHash;
        uint64 deadline;
        uint64 holdExpiry;
        uint64 arbitrationDeadline;
    }

    /// @notice One trade record. Times are the business chain's block timestamps (seconds).
    struct Trade {
        // slot 0
        address buyer;
        uint64 deadline;
        uint32 paymentDomain;
        // slot 1
        address seller;
        uint64 holdExpiry;
        Status status;
        MessageCodec.SettlementResult settlement;
        // slot 2
        address payer;
        uint64 arbitrationDeadline;
        // slot 3
        address payee;
        uint64 shippedAt;
        // slot 4..6
        address carrier;
        address arbiter;
        address token;
        // slot 7..10
        uint256 price;
        bytes32 termsHash;
        bytes32 holdId;
        bytes32 proofOfDelivery;
    }

    /// @notice The admin wired the registry to its messaging (once; the admin has no power after).
    event RegistryWired(
        address indexed inbox, address indexed outbox, uint32 businessDomain, uint32 paymentDomain, address settlementApp
    );

    /// @notice The buyer proposed trade `tradeId` (the buyer's `nonce`-th proposal).
    event TradeProposed(
        bytes32 indexed tradeId,
        address indexed buyer,
        address indexed seller,
        uint256 nonce,
        uint256 price,
        uint64 deadline,
        uint64 holdExpiry
    );

    /// @notice The seller accepted the trade.
    event TradeAccepted(bytes32 indexed tradeId, address indexed seller);

    /// @notice A matching PAYMENT_HELD arrived: the trade is Funded by hold `holdId`.
    event TradeFunded(bytes32 indexed tradeId, bytes32 indexed holdId, bytes32 messageId);

    /// @notice The seller shipped; the bill of lading `billTokenId` was issued to the buyer.
    event TradeShipped(bytes32 indexed tradeId, uint256 indexed billTokenId, bytes32 documentHash);

    /// @notice The trade is Delivered: by the buyer, the carrier (with `proofOfDelivery`) or the arbiter.
    event TradeDelivered(bytes32 indexed tradeId, address indexed confirmedBy, bytes32 proofOfDelivery);

    /// @notice A party cancelled the trade before it was funded.
    event TradeCancelled(bytes32 indexed tradeId, address indexed cancelledBy);

    /// @notice The trade is Expired (after its deadline, or by the arbiter's ruling).
    event TradeExpired(bytes32 indexed tradeId, address indexed expiredBy);

    /// @notice A party opened a dispute; `previous` is Funded or Shipped.
    event TradeDisputed(bytes32 indexed tradeId, address indexed openedBy, Status previous);

    /// @notice The arbiter ruled on the dispute (Delivered or Expired).
    event DisputeResolved(bytes32 indexed tradeId, address indexed arbiter, MessageCodec.Outcome ruling);

    /// @notice A TRADE_OUTCOME for hold `holdId` went out through the outbox.
    event OutcomeSent(
        bytes32 indexed tradeId, bytes32 indexed holdId, MessageCodec.Outcome outcome, bytes32 messageId, uint64 nonce
    );

    /// @notice A PAYMENT_HELD was consumed and answered Rejected (its hold is to be released).
    event PaymentHeldRejected(
        bytes32 indexed tradeId, bytes32 indexed holdId, bytes32 messageId, RejectReason reason, Status status
    );

    /// @notice The outbox refused the trade's outcome (`reason`, its revert data): the trade
    ///         is terminal here, and anyone may `resendOutcome` once the outbox takes it.
    event OutcomeNotSent(bytes32 indexed tradeId, bytes32 indexed holdId, MessageCodec.Outcome outcome, bytes reason);

    /// @notice A PAYMENT_HELD announced the hold the trade is already funded by again:
    ///         consumed without effect and not answered (a Rejected would release the live hold).
    event PaymentHeldDuplicate(bytes32 indexed tradeId, bytes32 indexed holdId, bytes32 messageId);

    /// @notice PAYMENT_SETTLED recorded the trade's settlement (once). `status` is the trade's
    ///         status then; Delivered with Refunded is the residual-risk case (docs/design.md, timing rule).
    event TradeSettled(
        bytes32 indexed tradeId, bytes32 indexed holdId, MessageCodec.SettlementResult result, Status status
    );

    /// @notice A PAYMENT_SETTLED was consumed without effect (see docs/trade.md).
    event PaymentSettledIgnored(
        bytes32 indexed tradeId, bytes32 indexed holdId, bytes32 messageId, SettledIgnoredReason reason
    );

    /// @notice Only the admin wires the registry.
    error RegistryCallerNotAdmin(address caller);
    /// @notice The registry is wired once.
    error RegistryAlreadyWired();
    /// @notice Trades and messages need the wiring first.
    error RegistryNotWired();
    /// @notice Wiring needs non-zero inbox, outbox and settlement app.
    error RegistryInvalidWiring(address inbox, address outbox, address settlementApp);
    /// @notice The admin must be non-zero; the safety window and the horizon must be non-zero.
    error RegistryInvalidConfig(address admin, uint64 safetyWindow, uint64 maxHorizon);
    /// @notice Only the business chain's inbox delivers messages.
    error RegistryCallerNotInbox(address caller);
    /// @notice Messages are accepted only from the settlement app on the payment domain.
    error RegistryUnknownSource(uint32 sourceDomain, address sourceApp);
    /// @notice The registry receives only PAYMENT_HELD and PAYMENT_SETTLED.
    error RegistryUnexpectedKind(uint8 kind);

    /// @notice seller, payer, payee and token must be non-zero (the values as given).
    error TradeZeroAddress(address seller, address payer, address payee, address token);
    /// @notice The buyer cannot trade with itself.
    error TradeBuyerIsSeller(address account);
    /// @notice The price must be positive.
    error TradeZeroPrice();
    /// @notice The seller cannot be the carrier (it could confirm its own delivery).
    error TradeCarrierIsSeller(address carrier);
    /// @notice The arbiter cannot be the buyer or the seller.
    error TradeArbiterIsParty(address arbiter);
    /// @notice The delivery deadline must be after `now`.
    error TradeDeadlineNotInFuture(uint64 deadline, uint256 now_);
    /// @notice The delivery deadline must be at most `latest` = now + the maximum horizon.
    error TradeDeadlineTooFar(uint64 deadline, uint256 latest);
    /// @notice The hold expiry must be at least `earliest` = deadline + the safety window.
    error TradeHoldExpiryTooEarly(uint64 holdExpiry, uint256 earliest);
    /// @notice The arbitration deadline must be at most `latest` = hold expiry - the safety window.
    error TradeArbitrationDeadlineTooLate(uint64 arbitrationDeadline, uint256 latest);
    /// @notice With an arbiter, the arbitration deadline must be at least the delivery deadline.
    error TradeArbitrationDeadlineTooEarly(uint64 arbitrationDeadline, uint64 deadline);
    /// @notice Without an arbiter there is no arbitration: its deadline must be 0.
    error TradeArbitrationDeadlineWithoutArbiter(uint64 arbitrationDeadline);

    /// @notice No trade has this id.
    error TradeNotFound(bytes32 tradeId);
    /// @notice The trade's status does not allow the call.
    error TradeWrongStatus(bytes32 tradeId, Status status);
    /// @notice Only the trade's buyer may call.
    error TradeCallerNotBuyer(bytes32 tradeId, address caller);
    /// @notice Only the trade's seller may call.
    error TradeCallerNotSeller(bytes32 tradeId, address caller);
    /// @notice Only the trade's buyer or seller may call.
    error TradeCallerNotParty(bytes32 tradeId, address caller);
    /// @notice Only the trade's named carrier may call.
    error TradeCallerNotCarrier(bytes32 tradeId, address caller);
    /// @notice Only the trade's named arbiter may call.
    error TradeCallerNotArbiter(bytes32 tradeId, address caller);
    /// @notice The delivery deadline has passed (`now_ > deadline`).
    error TradeDeadlinePassed(bytes32 tradeId, uint64 deadline, uint256 now_);
    /// @notice The delivery deadline has not passed yet (`now_ <= deadline`).
    error TradeDeadlineNotPassed(bytes32 tradeId, uint64 deadline, uint256 now_);
    /// @notice The arbitration deadline has passed (`now_ > arbitrationDeadline`).
    error TradeArbitrationDeadlinePassed(bytes32 tradeId, uint64 arbitrationDeadline, uint256 now_);
    /// @notice The arbitration deadline has not passed yet (`now_ <= arbitrationDeadline`).
    error TradeArbitrationDeadlineNotPassed(bytes32 tradeId, uint64 arbitrationDeadline, uint256 now_);
    /// @notice The trade names no arbiter, so no dispute can be opened.
    error TradeHasNoArbiter(bytes32 tradeId);
    /// @notice The arbiter rules Delivered or Expired, nothing else.
    error TradeInvalidRuling(bytes32 tradeId, MessageCodec.Outcome ruling);
    /// @notice The carrier's proof of delivery must be a non-zero hash.
    error TradeProofOfDeliveryMissing(bytes32 tradeId);
    /// @notice The trade has no outcome waiting to be sent again.
    error TradeOutcomeNotPending(bytes32 tradeId);
}
