// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AccountState, WalletClass, YuanAccounts} from "./YuanAccounts.sol";

/// @title YuanTiers
/// @notice Wallet classes modelled on the e-CNY wallet classes I–IV: per class a balance cap,
///         a per-payment cap and a daily cap, in fen. The day is a calendar day of block time
///         shifted by a configurable offset (default UTC+8, China Standard Time).
/// @dev Roles: DEFAULT_ADMIN_ROLE sets the caps of classes II–IV, the day offset and the
///      exemptions of system contracts; OPERATOR_ROLE assigns wallet classes (KYC).
///      What counts against which cap (see docs/token.md):
///      - a payment (transfer, transferFrom, ERC-3009 transfer, hold placement) is charged to
///        the payer's per-payment and daily caps and checked against the payee's balance cap;
///      - issuance is checked against the recipient's balance cap only;
///      - redemption and hold release count against no cap, and a hold's execution is not
///        checked again (it was charged when placed).
///      Class I wallets and exempt accounts are never capped.
///      YuanTiers derives from Pausable only to place `_dayOffset` in the slot of Pausable's
///      `_paused` flag: a capped payment reads both, and one cold slot costs 2,100 gas less.
abstract contract YuanTiers is YuanAccounts, ERC20, AccessControl, Pausable {
    /// @notice A class's three caps, in fen; `NO_CAP` disables one.
    struct TierCaps {
        uint64 balanceCap;
        uint64 paymentCap;
        uint64 dailyCap;
    }

    /// @notice The value of a cap that does not limit.
    uint64 public constant NO_CAP = type(uint64).max;
    /// @notice The largest day offset from UTC, either way (UTC−14 h … UTC+14 h).
    int32 public constant MAX_DAY_OFFSET = 14 hours;

    /// @dev Declared first so that it shares a slot with Pausable's `_paused` flag, which a
    ///      capped payment reads anyway (tests/contracts/unit/token/test_storage_layout.py).
    int32 private _dayOffset;
    mapping(WalletClass walletClass => TierCaps caps) private _tierCaps;

    /// @notice An operator set `account`'s wallet class.
    event WalletClassSet(address indexed account, WalletClass previous, WalletClass walletClass, address indexed operator);
    /// @notice The admin set the caps of `walletClass` (fen; `NO_CAP` = none).
    event TierCapsSet(WalletClass indexed walletClass, uint64 balanceCap, uint64 paymentCap, uint64 dailyCap);
    /// @notice The admin set the offset from UTC that defines the calendar day of the daily caps.
    event DayOffsetSet(int32 previous, int32 offset);
    /// @notice The admin exempted (or stopped exempting) a system contract from tier caps.
    event CapExemptionSet(address indexed account, bool exempt);

    /// @notice `amount` is over the payer's per-payment cap `cap`.
    error PaymentCapExceeded(address account, uint256 cap, uint256 amount);
    /// @notice `spentToday + amount` is over the payer's daily cap `cap`.
    error DailyCapExceeded(address account, uint256 cap, uint256 spentToday, uint256 amount);
    /// @notice `balance + amount` is over the payee's balance cap `cap`.
    error BalanceCapExceeded(address account, uint256 cap, uint256 balance, uint256 amount);
    /// @notice Class I has no caps by definition; only classes II–IV are configurable.
    error TierCapsNotConfigurable(WalletClass walletClass);
    /// @notice The day offset must lie within ±`MAX_DAY_OFFSET` seconds.
    error DayOffsetOutOfRange(int32 offset);
    /// @notice The zero address has no wallet class.
    error WalletAccountInvalid(address account);

    /// @dev The published defaults (docs/token.md gives each figure's source), in fen.
    constructor() {
        _setTierCaps(WalletClass.ClassIV, 10_000_00, 2_000_00, 5_000_00);
        _setTierCaps(WalletClass.ClassIII, 20_000_00, 5_000_00, 10_000_00);
        _setTierCaps(WalletClass.ClassII, 500_000_00, 50_000_00, 100_000_00);
        _setDayOffset(8 hours);
    }

    /// @notice Assign `account` to `walletClass` (after the bank verified it). The day's
    ///         spending so far is kept and counts against the new class's daily cap.
    /// @dev Only OPERATOR_ROLE. Emits WalletClassSet.
    function setWalletClass(address account, WalletClass walletClass) external onlyRole(OPERATOR_ROLE) {
        if (account == address(0)) revert WalletAccountInvalid(account);
        AccountState state = _accountState(account);
        WalletClass previous = state.walletClass();
        _setAccountState(account, state.withWalletClass(walletClass));
        emit WalletClassSet(account, previous, walletClass, _msgSender());
    }

    /// @notice Set the caps of class II, III or IV, in fen (`NO_CAP` for none).
    /// @dev Only DEFAULT_ADMIN_ROLE. Holds already placed keep the checks they passed.
    function setTierCaps(WalletClass walletClass, uint64 balanceCap, uint64 paymentCap, uint64 dailyCap)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (walletClass == WalletClass.ClassI) revert TierCapsNotConfigurable(walletClass);
        _setTierCaps(walletClass, balanceCap, paymentCap, dailyCap);
    }

    /// @notice Set the offset from UTC (seconds) of the calendar day used by the daily caps.
    /// @dev Only DEFAULT_ADMIN_ROLE. Changing it shifts every wallet's day index: a wallet's
    ///      spending recorded under the old day counts only if the new day index is the same.
    function setDayOffset(int32 offset) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDayOffset(offset);
    }

    /// @notice Exempt a system contract (e.g. the settlement contract) from tier caps, or stop.
    /// @dev Only DEFAULT_ADMIN_ROLE. Freeze and pause still apply to exempt accounts.
    function setCapExemption(address account, bool exempt) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (account == address(0)) revert WalletAccountInvalid(account);
        _setAccountState(account, _accountState(account).withExempt(exempt));
        emit CapExemptionSet(account, exempt);
    }

    /// @notice The wallet class of `account` (class IV until an operator assigns one).
    function walletClassOf(address account) external view returns (WalletClass) {
        return _accountState(account).walletClass();
    }

    /// @notice Whether `account` is exempt from tier caps.
    function isCapExempt(address account) external view returns (bool) {
        return _accountState(account).exempt();
    }

    /// @notice Whether tier caps apply to `account` (not exempt and not class I).
    function isCapped(address account) external view returns (bool) {
        return _accountState(account).isCapped();
    }

    /// @notice The caps of `walletClass`, in fen (`NO_CAP` = none; class I: all `NO_CAP`).
    function tierCaps(WalletClass walletClass)
        external
        view
        returns (uint64 balanceCap, uint64 paymentCap, uint64 dailyCap)
    {
        if (walletClass == WalletClass.ClassI) return (NO_CAP, NO_CAP, NO_CAP);
        TierCaps memory caps = _tierCaps[walletClass];
        return (caps.balanceCap, caps.paymentCap, caps.dailyCap);
    }

    /// @notice The offset from UTC, in seconds, of the calendar day used by the daily caps.
    function dayOffset() external view returns (int32) {
        return _dayOffset;
    }

    /// @notice Today's index: whole days since 1970-01-01 in the configured time zone.
    function currentDay() external view returns (uint32) {
        return _today();
    }

    /// @notice What `account` has paid today (local calendar day) while capped, in fen.
    function spentToday(address account) external view returns (uint256) {
        return _accountState(account).spentOn(_today());
    }

    /// @dev Check `amount` against a capped payer's per-payment and daily caps; return its
    ///      state with `amount` added to today's spending (the caller stores it).
    function _chargePayment(address payer, AccountState state, uint256 amount) internal view returns (AccountState) {
        TierCaps memory caps = _tierCaps[state.walletClass()];
        if (amount > caps.paymentCap) revert PaymentCapExceeded(payer, caps.paymentCap, amount);
        uint32 today = _today();
        uint256 spent = state.spentOn(today);
        // No overflow: both terms are below 2**64 here.
        uint256 total = spent + amount;
        if (total > caps.dailyCap) revert DailyCapExceeded(payer, caps.dailyCap, spent, amount);
        // The cast is safe: total <= dailyCap, a uint64.
        return state.withSpent(today, uint64(total));
    }

    /// @dev Check that `amount` more keeps a capped payee (whose word is `state`) within its
    ///      class's balance cap.
    function _checkBalanceCap(address payee, AccountState state, uint256 amount) internal view {
        uint256 cap = _tierCaps[state.walletClass()].balanceCap;
        uint256 balance = state.balance();
        if (balance + amount > cap) revert BalanceCapExceeded(payee, cap, balance, amount);
    }

    /// @dev The local calendar day's index. block.timestamp - 14 h is never negative on a real
    ///      chain (SafeCast reverts if it were), and the day count fits uint32 for 11 million years.
    function _today() internal view returns (uint32) {
        uint256 local = SafeCast.toUint256(int256(block.timestamp) + _dayOffset);
        return uint32(local / 1 days);
    }

    function _setTierCaps(WalletClass walletClass, uint64 balanceCap, uint64 paymentCap, uint64 dailyCap) private {
        _tierCaps[walletClass] = TierCaps(balanceCap, paymentCap, dailyCap);
        emit TierCapsSet(walletClass, balanceCap, paymentCap, dailyCap);
    }

    function _setDayOffset(int32 offset) private {
        if (offset > MAX_DAY_OFFSET || offset < -MAX_DAY_OFFSET) revert DayOffsetOutOfRange(offset);
        int32 previous = _dayOffset;
        _dayOffset = offset;
        emit DayOffsetSet(previous, offset);
    }
}
