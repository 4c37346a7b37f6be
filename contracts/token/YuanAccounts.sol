// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The e-CNY wallet classes. The zero value is the anonymous class IV, the class of
///         every wallet no operator has verified; class I (fully verified) has no caps.
enum WalletClass {
    ClassIV,
    ClassIII,
    ClassII,
    ClassI
}

/// @notice Everything the token keeps per wallet, packed into one storage word:
///
///     bits      field        meaning
///     0..63     balance      the ERC-20 balance, in fen
///     64..127   held         sum of the account's open holds as payer, in fen
///     128..191  spentToday   fen paid on day `spentDay` (tracked only while capped)
///     192..223  spentDay     local calendar day index that `spentToday` belongs to
///     224..231  walletClass  WalletClass
///     232       frozen       set by COMPLIANCE_ROLE
///     233       exempt       a system contract exempted from tier caps by the admin
///
/// One word is a gas choice: a transfer, a hold's placement and its execution read and
/// write one slot per party for all of them, the balance included. 64 bits of fen are
/// 1.8e17 yuan per account; a credit that would not fit reverts (YuanToken._move).
/// The held total needs no more: held <= balance (invariant C2).
type AccountState is uint256;

using AccountStateLib for AccountState global;

/// @title AccountStateLib
/// @notice Getters and copy-with setters of the packed AccountState word.
library AccountStateLib {
    uint256 private constant _FIELD_MASK = type(uint64).max;
    uint256 private constant _HELD_SHIFT = 64;
    uint256 private constant _SPENT_SHIFT = 128;
    uint256 private constant _DAY_SHIFT = 192;
    uint256 private constant _CLASS_SHIFT = 224;
    uint256 private constant _FROZEN_BIT = 1 << 232;
    uint256 private constant _EXEMPT_BIT = 1 << 233;
    uint256 private constant _SPENDING_MASK = ((1 << 96) - 1) << _SPENT_SHIFT; // spentToday and spentDay

    /// @dev The ERC-20 balance, in fen.
    function balance(AccountState state) internal pure returns (uint256) {
        return AccountState.unwrap(state) & _FIELD_MASK;
    }

    /// @dev `state` with `newBalance` as balance; the caller guarantees newBalance < 2**64.
    function withBalance(AccountState state, uint256 newBalance) internal pure returns (AccountState) {
        return AccountState.wrap((AccountState.unwrap(state) & ~_FIELD_MASK) | newBalance);
    }

    /// @dev Sum of open holds (as payer), in fen.
    function held(AccountState state) internal pure returns (uint256) {
        return (AccountState.unwrap(state) >> _HELD_SHIFT) & _FIELD_MASK;
    }

    /// @dev `state` with `newHeld` as held total; the caller guarantees newHeld <= balance,
    ///      hence newHeld < 2**64.
    function withHeld(AccountState state, uint256 newHeld) internal pure returns (AccountState) {
        uint256 word = AccountState.unwrap(state) & ~(_FIELD_MASK << _HELD_SHIFT);
        return AccountState.wrap(word | (newHeld << _HELD_SHIFT));
    }

    /// @dev What was paid on local day `today` (0 if the record is of another day).
    function spentOn(AccountState state, uint32 today) internal pure returns (uint256) {
        uint256 word = AccountState.unwrap(state);
        return uint32(word >> _DAY_SHIFT) == today ? uint64(word >> _SPENT_SHIFT) : 0;
    }

    /// @dev `state` recording `spent` fen paid on day `today`.
    function withSpent(AccountState state, uint32 today, uint64 spent) internal pure returns (AccountState) {
        uint256 word = AccountState.unwrap(state) & ~_SPENDING_MASK;
        return AccountState.wrap(word | (uint256(spent) << _SPENT_SHIFT) | (uint256(today) << _DAY_SHIFT));
    }

    /// @dev The wallet class (class IV unless an operator assigned another).
    function walletClass(AccountState state) internal pure returns (WalletClass) {
        return WalletClass(uint8(AccountState.unwrap(state) >> _CLASS_SHIFT));
    }

    /// @dev `state` in wallet class `newClass`.
    function withWalletClass(AccountState state, WalletClass newClass) internal pure returns (AccountState) {
        uint256 word = AccountState.unwrap(state) & ~(uint256(0xff) << _CLASS_SHIFT);
        return AccountState.wrap(word | (uint256(newClass) << _CLASS_SHIFT));
    }

    /// @dev Whether the account is frozen.
    function frozen(AccountState state) internal pure returns (bool) {
        return AccountState.unwrap(state) & _FROZEN_BIT != 0;
    }

    /// @dev `state` frozen or not.
    function withFrozen(AccountState state, bool isFrozen) internal pure returns (AccountState) {
        uint256 word = AccountState.unwrap(state);
        return AccountState.wrap(isFrozen ? word | _FROZEN_BIT : word & ~_FROZEN_BIT);
    }

    /// @dev Whether the account is exempt from tier caps.
    function exempt(AccountState state) internal pure returns (bool) {
        return AccountState.unwrap(state) & _EXEMPT_BIT != 0;
    }

    /// @dev `state` exempt or not.
    function withExempt(AccountState state, bool isExempt) internal pure returns (AccountState) {
        uint256 word = AccountState.unwrap(state);
        return AccountState.wrap(isExempt ? word | _EXEMPT_BIT : word & ~_EXEMPT_BIT);
    }

    /// @dev Whether tier caps apply: neither exempt nor class I.
    function isCapped(AccountState state) internal pure returns (bool) {
        return !exempt(state) && walletClass(state) != WalletClass.ClassI;
    }
}

/// @title YuanAccounts
/// @notice The roles of the programmable yuan and the one storage word per wallet
///         (AccountState) that every concern reads: the balance (ERC-20), the held total (holds), the day's
///         spending and the wallet class (tiers), the freeze flag (compliance) and the cap
///         exemption (system contracts).
/// @dev Roles (granted with AccessControl; DEFAULT_ADMIN_ROLE is the central bank):
///      - DEFAULT_ADMIN_ROLE — central bank: appoints and removes operators, compliance
///        officers and pausers; sets mint allowances, tier caps, the day offset, exemptions.
///      - OPERATOR_ROLE — bank: issues within its mint allowance, redeems, assigns wallet classes.
///      - COMPLIANCE_ROLE — freezes and unfreezes accounts.
///      - PAUSER_ROLE — pauses and unpauses the token.
abstract contract YuanAccounts {
    /// @notice Banks: issue, redeem, assign wallet classes.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Compliance officers: freeze and unfreeze accounts.
    bytes32 public constant COMPLIANCE_ROLE = keccak256("COMPLIANCE_ROLE");
    /// @notice Pausers: pause and unpause the token.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice The largest balance an account can have, in fen (the width of its field).
    uint256 public constant MAX_ACCOUNT_BALANCE = type(uint64).max;

    mapping(address account => AccountState state) private _accounts;

    /// @notice `account` is frozen: it can neither send, receive, nor be party to a new or
    ///         executed hold.
    error AccountIsFrozen(address account);
    /// @notice `balance + amount` would exceed `MAX_ACCOUNT_BALANCE`, the most an account's
    ///         balance field holds (2**64 − 1 fen).
    error AccountBalanceOverflow(address account, uint256 balance, uint256 amount);

    /// @dev The account's word (one SLOAD).
    function _accountState(address account) internal view returns (AccountState) {
        return _accounts[account];
    }

    /// @dev Store the account's word (one SSTORE).
    function _setAccountState(address account, AccountState state) internal {
        _accounts[account] = state;
    }
}
