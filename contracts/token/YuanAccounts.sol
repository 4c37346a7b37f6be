// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title YuanAccounts
/// @notice The roles of the programmable yuan and the one storage slot per wallet that every
///         concern reads: the held total (holds), the day's spending and the wallet class
///         (tiers), the freeze flag (compliance) and the cap exemption (system contracts).
/// @dev Roles (granted with AccessControl; DEFAULT_ADMIN_ROLE is the central bank):
///      - DEFAULT_ADMIN_ROLE — central bank: appoints and removes operators, compliance
///        officers and pausers; sets mint allowances, tier caps, the day offset, exemptions.
///      - OPERATOR_ROLE — bank: issues within its mint allowance, redeems, assigns wallet classes.
///      - COMPLIANCE_ROLE — freezes and unfreezes accounts.
///      - PAUSER_ROLE — pauses and unpauses the token.
///      Keeping every per-wallet field in one slot is a gas choice: a transfer reads two
///      slots of its own (payer, payee) whatever the wallets' classes.
abstract contract YuanAccounts {
    /// @notice Banks: issue, redeem, assign wallet classes.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Compliance officers: freeze and unfreeze accounts.
    bytes32 public constant COMPLIANCE_ROLE = keccak256("COMPLIANCE_ROLE");
    /// @notice Pausers: pause and unpause the token.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice The e-CNY wallet classes. The zero value is the anonymous class IV, the class
    ///         of every wallet no operator has verified; class I (fully verified) has no caps.
    enum WalletClass {
        ClassIV,
        ClassIII,
        ClassII,
        ClassI
    }

    /// @dev One slot: 128 + 64 + 32 + 8 + 8 + 8 = 248 bits.
    struct Account {
        uint128 held; // sum of this account's open holds (as payer), in fen
        uint64 spentToday; // fen paid on day `spentDay` (only tracked while capped)
        uint32 spentDay; // day index (local calendar day) that `spentToday` belongs to
        WalletClass walletClass;
        bool frozen;
        bool exempt; // a system contract the admin exempted from tier caps
    }

    mapping(address account => Account state) private _accounts;

    /// @notice `account` is frozen: it can neither send, receive, nor be party to a new or
    ///         executed hold.
    error AccountIsFrozen(address account);

    /// @dev The account's slot, decoded once.
    function _account(address account) internal view returns (Account memory) {
        return _accounts[account];
    }

    /// @dev The account's slot, for writing single fields.
    function _accountSlot(address account) internal view returns (Account storage) {
        return _accounts[account];
    }

    /// @dev Whether tier caps apply to the account: neither exempt nor class I.
    function _isCapped(Account memory state) internal pure returns (bool) {
        return !state.exempt && state.walletClass != WalletClass.ClassI;
    }
}
