// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IHoldableToken} from "../interfaces/IHoldableToken.sol";
import {YuanTiers} from "./YuanTiers.sol";
import {AccountState} from "./YuanAccounts.sol";

/// @title YuanHolds
/// @notice Conditional payments inside the money (the ERC-1996 model). A payer earmarks
///         `amount` for a payee under a notary until `expiry`; the funds stay in the payer's
///         balance but cannot be spent, burned or held twice. The notary executes (pays the
///         payee the whole amount) only while `now < expiry` and may release (back to the
///         payer) at any time; anyone may release once `now >= expiry`.
/// @dev Roles: none. The payer places (or signs for a relayer to place); the hold's notary
///      executes and releases; anyone releases after expiry.
///      Storage per hold is one slot: bits 255..8 are the top 248 bits of
///      keccak256(abi.encode(hold)) (a commitment to every field), bit 7 the notary's
///      acknowledgement, bits 6..0 the HoldStatus. A hold placed by its notary is
///      acknowledged in the placing write; otherwise the notary acknowledges it once
///      (acknowledgeHold). Releasing clears the acknowledgement (the id may be placed again).
///      The fields themselves are in the HoldPlaced event; execute and release take the
///      Hold back and check it against the commitment.
///      A hold is a payment: placing it charges the payer's per-payment and daily caps and
///      checks the payee's balance cap, so execution is not checked against caps again.
abstract contract YuanHolds is IHoldableToken, YuanTiers, EIP712 {
    /// @notice EIP-712 type of a hold authorization signed by its payer.
    bytes32 public constant PLACE_HOLD_TYPEHASH = keccak256(
        "PlaceHold(address payer,address payee,address notary,uint256 amount,uint64 expiry,bytes32 ref,uint256 validBefore)"
    );
    /// @notice The latest expiry a new hold may have, counted from its placement.
    uint256 public constant MAX_HOLD_DURATION = 365 days;

    /// @dev The record's low byte: everything but the commitment.
    uint256 private constant _LOW_BYTE = 0xff;
    /// @dev The status bits of the low byte.
    uint256 private constant _STATUS_MASK = 0x7f;
    /// @dev The notary has acknowledged the hold (e.g. announced it to a counterparty).
    uint256 private constant _ACKNOWLEDGED = 0x80;

    mapping(bytes32 holdId => uint256 record) private _holds;

    /// @notice The payee is the zero address or the payer itself.
    error HoldPayeeInvalid(address payee);
    /// @notice The notary is the zero address.
    error HoldNotaryInvalid(address notary);
    /// @notice A hold of nothing is refused.
    error HoldAmountZero();
    /// @notice `expiry` must lie in [earliest, latest] (after now, within MAX_HOLD_DURATION).
    error HoldExpiryOutOfRange(uint64 expiry, uint256 earliest, uint256 latest);
    /// @notice A hold with this id is open or was executed (only a released hold's id can be
    ///         placed again).
    error HoldAlreadyExists(bytes32 holdId, HoldStatus status);
    /// @notice The payer's spendable balance (balance − held) is below `needed`.
    error InsufficientSpendableBalance(address account, uint256 spendable, uint256 needed);
    /// @notice No hold was placed under this id (a wrong payer, notary or ref gives another id).
    error HoldNotFound(bytes32 holdId);
    /// @notice The hold given differs from the one placed under this id (payee, amount or expiry).
    error HoldMismatch(bytes32 holdId);
    /// @notice The hold already reached its terminal state `status`.
    error HoldNotOpen(bytes32 holdId, HoldStatus status);
    /// @notice Only the hold's notary may execute it (or release it before expiry).
    error HoldCallerNotNotary(bytes32 holdId, address caller);
    /// @notice The hold expired at `expiry`: it can no longer be executed, only released.
    error HoldExpired(bytes32 holdId, uint64 expiry);
    /// @notice Before `expiry` only the notary may release the hold.
    error HoldReleaseTooEarly(bytes32 holdId, address caller, uint64 expiry);
    /// @notice The notary acknowledged this hold before.
    error HoldAlreadyAcknowledged(bytes32 holdId);
    /// @notice The payer's authorization was valid only before `validBefore`.
    error HoldAuthorizationExpired(uint256 validBefore, uint256 currentTime);
    /// @notice The signature is not the payer's over this hold and validity.
    error HoldAuthorizationInvalid(address payer);

    /// @inheritdoc IHoldableToken
    /// @dev Checks (pause, parties, amount, expiry, uniqueness, freeze, spendable balance,
    ///      caps), then records the hold. No external call. Emits HoldPlaced.
    function placeHold(bytes32 ref, address payee, address notary, uint256 amount, uint64 expiry)
        external
        returns (bytes32)
    {
        return _placeHold(Hold(_msgSender(), payee, notary, amount, expiry, ref));
    }

    /// @inheritdoc IHoldableToken
    /// @dev The payer signs EIP-712 `PlaceHold(address payer,address payee,address notary,
    ///      uint256 amount,uint64 expiry,bytes32 ref,uint256 validBefore)` under this token's
    ///      domain (see eip712Domain()). A contract payer is checked with ERC-1271. Anyone may
    ///      submit it. While the hold is open or executed the signature cannot be used again;
    ///      once the hold is released it can be, until `validBefore` (placing the same hold
    ///      again, which the payer signed for).
    function placeHoldWithAuthorization(Hold calldata hold, uint256 validBefore, bytes calldata signature)
        external
        returns (bytes32)
    {
        if (block.timestamp >= validBefore) revert HoldAuthorizationExpired(validBefore, block.timestamp);
        // Interaction before effects is safe here: for a contract payer SignatureChecker makes
        // a staticcall (ERC-1271), which cannot change state.
        if (!SignatureChecker.isValidSignatureNowCalldata(hold.payer, holdAuthorizationDigest(hold, validBefore), signature)) {
            revert HoldAuthorizationInvalid(hold.payer);
        }
        return _placeHold(hold);
    }

    /// @inheritdoc IHoldableToken
    /// @dev Checks (commitment, open, notary, before expiry), effects (terminal state), then
    ///      the balance move (`_moveHeld`), where pause and freeze of payer and payee apply
    ///      and which takes the amount off the payer's held total in the same write as its
    ///      balance. No external call. Emits Transfer and HoldExecuted.
    function executeHold(Hold calldata hold) external {
        (bytes32 id, uint256 record) = _openHold(hold);
        (address payer, address payee, uint256 amount, uint64 expiry) =
            (hold.payer, hold.payee, hold.amount, hold.expiry);
        if (_msgSender() != hold.notary) revert HoldCallerNotNotary(id, _msgSender());
        if (block.timestamp >= expiry) revert HoldExpired(id, expiry);
        // The acknowledgement stays with an executed hold.
        _holds[id] = (record & ~_STATUS_MASK) | uint256(HoldStatus.Executed);
        _moveHeld(payer, payee, amount);
        emit HoldExecuted(id, payer, payee, amount);
    }

    /// @inheritdoc IHoldableToken
    /// @dev Never blocked by pause or freeze: the funds never leave the payer's balance.
    ///      No external call. Emits HoldReleased.
    function releaseHold(Hold calldata hold) external {
        (bytes32 id, uint256 record) = _openHold(hold);
        if (_msgSender() != hold.notary && block.timestamp < hold.expiry) {
            revert HoldReleaseTooEarly(id, _msgSender(), hold.expiry);
        }
        // Released: the acknowledgement is cleared with the status in one write, so a hold
        // placed again under the id starts unacknowledged.
        _holds[id] = (record & ~_LOW_BYTE) | uint256(HoldStatus.Released);
        _releaseHeld(hold.payer, hold.amount);
        emit HoldReleased(id, hold.payer, _msgSender(), hold.amount);
    }

    /// @inheritdoc IHoldableToken
    /// @dev Checks (commitment, open, notary, not acknowledged), then sets the bit in the
    ///      hold's slot. Not blocked by pause or freeze: nothing moves. No external call.
    ///      Emits HoldAcknowledged.
    function acknowledgeHold(Hold calldata hold) external {
        (bytes32 id, uint256 record) = _openHold(hold);
        if (_msgSender() != hold.notary) revert HoldCallerNotNotary(id, _msgSender());
        if (record & _ACKNOWLEDGED != 0) revert HoldAlreadyAcknowledged(id);
        _holds[id] = record | _ACKNOWLEDGED;
        emit HoldAcknowledged(id, hold.notary);
    }

    /// @inheritdoc IHoldableToken
    function isHoldAcknowledged(bytes32 id) external view returns (bool) {
        return _holds[id] & _ACKNOWLEDGED != 0;
    }

    /// @inheritdoc IHoldableToken
    function holdId(address payer, address notary, bytes32 ref) public pure returns (bytes32) {
        return keccak256(abi.encode(payer, notary, ref));
    }

    /// @inheritdoc IHoldableToken
    function holdStatus(bytes32 id) external view returns (HoldStatus) {
        return HoldStatus(uint8(_holds[id] & _STATUS_MASK));
    }

    /// @notice The id and status of `hold`, its fields checked against the stored commitment.
    /// @dev Returns status None if no hold was placed under the id; reverts HoldMismatch if
    ///      one was, with other fields. Lets the notary (e.g. the settlement contract) trust
    ///      the payee, amount and expiry it is handed.
    function checkHold(Hold calldata hold) external view returns (bytes32 id, HoldStatus status) {
        id = holdId(hold.payer, hold.notary, hold.ref);
        uint256 record = _holds[id];
        if (record == 0) return (id, HoldStatus.None);
        if (record & ~_LOW_BYTE != _commitmentCalldata(hold)) revert HoldMismatch(id);
        return (id, HoldStatus(uint8(record & _STATUS_MASK)));
    }

    /// @notice The EIP-712 digest the payer signs to authorize `hold` until `validBefore`.
    function holdAuthorizationDigest(Hold calldata hold, uint256 validBefore) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    PLACE_HOLD_TYPEHASH,
                    hold.payer,
                    hold.payee,
                    hold.notary,
                    hold.amount,
                    hold.expiry,
                    hold.ref,
                    validBefore
                )
            )
        );
    }

    /// @inheritdoc IHoldableToken
    function heldBalanceOf(address account) external view returns (uint256) {
        return _accountState(account).held();
    }

    /// @inheritdoc IHoldableToken
    function spendableBalanceOf(address account) external view returns (uint256) {
        AccountState state = _accountState(account);
        // No underflow: held <= balance (invariant C2).
        return state.balance() - state.held();
    }

    /// @dev Pay a hold being executed: move `amount` from `payer` (non-zero: it placed or
    ///      signed the hold) to `payee` (checked non-zero at placement) and take it off the
    ///      payer's held total, without charging the caps again (they were charged when the
    ///      hold was placed). YuanToken implements it on the same path as every balance
    ///      change (pause, freeze, Transfer).
    function _moveHeld(address payer, address payee, uint256 amount) internal virtual;

    function _placeHold(Hold memory hold) private returns (bytes32 id) {
        _requireNotPaused();
        if (hold.payee == address(0) || hold.payee == hold.payer) revert HoldPayeeInvalid(hold.payee);
        if (hold.notary == address(0)) revert HoldNotaryInvalid(hold.notary);
        if (hold.amount == 0) revert HoldAmountZero();
        if (hold.expiry <= block.timestamp || hold.expiry > block.timestamp + MAX_HOLD_DURATION) {
            revert HoldExpiryOutOfRange(hold.expiry, block.timestamp + 1, block.timestamp + MAX_HOLD_DURATION);
        }
        id = holdId(hold.payer, hold.notary, hold.ref);
        uint256 existing = _holds[id];
        // A released hold's id may be placed again: a payer whose first attempt was refused
        // (released) can still fund the same reference. Held and Executed ids are final.
        if (existing != 0 && HoldStatus(uint8(existing & _STATUS_MASK)) != HoldStatus.Released) {
            revert HoldAlreadyExists(id, HoldStatus(uint8(existing & _STATUS_MASK)));
        }

        AccountState payer = _accountState(hold.payer);
        if (payer.frozen()) revert AccountIsFrozen(hold.payer);
        uint256 held = payer.held();
        // No underflow: held <= balance (invariant C2).
        uint256 spendable = payer.balance() - held;
        if (hold.amount > spendable) revert InsufficientSpendableBalance(hold.payer, spendable, hold.amount);
        AccountState payee = _accountState(hold.payee);
        if (payee.frozen()) revert AccountIsFrozen(hold.payee);
        if (payee.isCapped()) _checkBalanceCap(hold.payee, payee, hold.amount);
        if (payer.isCapped()) payer = _chargePayment(hold.payer, payer, hold.amount);

        // No overflow, and the sum fits the 64-bit held field: held + amount <= balance < 2**64
        // (amount <= spendable was checked above).
        _setAccountState(hold.payer, payer.withHeld(held + hold.amount));
        // Placed by its notary (e.g. a settlement contract submitting the payer's
        // signature): acknowledged in this same write.
        uint256 acknowledged = _msgSender() == hold.notary ? _ACKNOWLEDGED : 0;
        _holds[id] = _commitment(hold) | acknowledged | uint256(HoldStatus.Held);
        emit HoldPlaced(id, hold.payer, hold.payee, hold.notary, hold.amount, hold.expiry, hold.ref);
    }

    /// @dev The id and record of an open hold matching `hold` field by field.
    function _openHold(Hold calldata hold) private view returns (bytes32 id, uint256 record) {
        id = holdId(hold.payer, hold.notary, hold.ref);
        record = _holds[id];
        if (record == 0) revert HoldNotFound(id);
        if (record & ~_LOW_BYTE != _commitmentCalldata(hold)) revert HoldMismatch(id);
        HoldStatus status = HoldStatus(uint8(record & _STATUS_MASK));
        if (status != HoldStatus.Held) revert HoldNotOpen(id, status);
    }

    /// @dev Take a closed hold's amount off its payer's held total.
    function _releaseHeld(address payer, uint256 amount) private {
        AccountState state = _accountState(payer);
        // No underflow: the open hold's amount was added to `held` when it was placed and has
        // not been taken off since (invariant C4), so amount <= held.
        unchecked {
            _setAccountState(payer, state.withHeld(state.held() - amount));
        }
    }

    /// @dev Top 248 bits of the hash of every field; the low byte is left for the status
    ///      and the acknowledgement.
    ///      Equal to keccak256(abi.encode(hold)) masked.
    function _commitment(Hold memory hold) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(hold))) & ~_LOW_BYTE;
    }

    /// @dev `_commitment` of a calldata Hold. A Hold is six static words, so its calldata
    ///      encoding is abi.encode(hold): hash it in place. A field with dirty high bits
    ///      hashes differently from the clean value committed at placement, so it can only
    ///      make the check fail (HoldMismatch), never pass.
    function _commitmentCalldata(Hold calldata hold) private pure returns (uint256 commitment) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, hold, 0xc0)
            commitment := and(keccak256(ptr, 0xc0), not(0xff))
        }
    }
}
