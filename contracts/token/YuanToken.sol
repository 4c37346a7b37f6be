// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {YuanIssuance} from "./YuanIssuance.sol";
import {YuanCompliance} from "./YuanCompliance.sol";
import {YuanHolds} from "./YuanHolds.sol";
import {AccountState} from "./YuanAccounts.sol";

/// @title YuanToken — the programmable yuan of the payment chain
/// @notice ERC-20 with 2 decimals (1 unit = 1 fen), issued in two tiers, capped per e-CNY
///         wallet class, freezable and pausable, with EIP-2612 permit, EIP-3009 signed
///         transfers and ERC-1996-style holds. See docs/token.md.
/// @dev Roles (OpenZeppelin AccessControlDefaultAdminRules: the admin moves in two steps,
///      after `defaultAdminDelay`):
///      - DEFAULT_ADMIN_ROLE — the central bank: grants and revokes OPERATOR_ROLE,
///        COMPLIANCE_ROLE and PAUSER_ROLE; sets mint allowances, tier caps, the day offset,
///        cap exemptions of system contracts.
///      - OPERATOR_ROLE — a bank: issues within its mint allowance, redeems at a wallet's
///        request, assigns wallet classes.
///      - COMPLIANCE_ROLE — freezes and unfreezes accounts.
///      - PAUSER_ROLE — pauses and unpauses the token.
///      Every balance change passes `_move` below, where pause, freeze, held balance and
///      tier caps are enforced.
///      EIP-712 domain: name = "<name> (domain <domainId>)", version "1", chainId, this
///      address (docs/adr/0002-token-eip712-domain.md). The protocol domain id thus separates
///      the permit, ERC-3009 and hold signatures of two deployments that share a chain id
///      and an address.
contract YuanToken is
    ERC20Permit,
    ERC3009,
    AccessControlDefaultAdminRules,
    YuanIssuance,
    YuanCompliance,
    YuanHolds
{
    uint32 private immutable _domainId;
    /// @dev The ERC-20 total supply (OpenZeppelin's own is private to the ERC20._update this
    ///      contract replaces).
    uint256 private _supply;

    /// @param name_ ERC-20 name (the EIP-712 name adds the domain id to it).
    /// @param symbol_ ERC-20 symbol.
    /// @param domainId_ The protocol domain id of this chain (docs/design.md).
    /// @param admin The central bank: the initial DEFAULT_ADMIN_ROLE holder.
    /// @param adminTransferDelay Seconds between starting and accepting an admin transfer.
    constructor(string memory name_, string memory symbol_, uint32 domainId_, address admin, uint48 adminTransferDelay)
        ERC20(name_, symbol_)
        ERC20Permit(string.concat(name_, " (domain ", Strings.toString(domainId_), ")"))
        AccessControlDefaultAdminRules(adminTransferDelay, admin)
    {
        _domainId = domainId_;
    }

    /// @notice Amounts are in fen: 100 units make one yuan.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice The protocol domain id of the chain this token was deployed for; part of the
    ///         EIP-712 name of every signature the token accepts.
    function domainId() external view returns (uint32) {
        return _domainId;
    }

    /// @notice The balance of `account`, in fen (its account word's balance field).
    function balanceOf(address account) public view override returns (uint256) {
        return _accountState(account).balance();
    }

    /// @notice The total supply, in fen: everything issued and not redeemed.
    function totalSupply() public view override returns (uint256) {
        return _supply;
    }

    /// @dev OpenZeppelin's path of every balance change but a hold's execution (transfer,
    ///      transferFrom, ERC-3009 transfers, issue, redeem), replaced by `_move`.
    function _update(address from, address to, uint256 value) internal override {
        _move(from, to, value, false);
    }

    /// @dev A hold's execution: `_update`'s path, with the amount taken off the payer's held
    ///      total and no cap charged or checked (the placement did both).
    function _moveHeld(address payer, address payee, uint256 amount) internal override {
        _move(payer, payee, amount, true);
    }

    /// @dev The one path of every balance change: `_update`, or a hold's execution if
    ///      `executingHold`. It replaces OpenZeppelin's ERC20._update, whose balances and
    ///      total supply are private to it: the balance lives in the account's word
    ///      (AccountState), so each party's word is read and written once. In order: pause;
    ///      the sender is not frozen and keeps its held funds (balance − held ≥ value; a
    ///      hold's execution spends held funds, so it takes `value` off the held total
    ///      instead); a payment (neither issuance nor redemption nor a hold's execution) is
    ///      charged to a capped payer's per-payment and daily caps; the receiver is not frozen
    ///      and, when capped, stays within its balance cap (not re-checked on a hold's
    ///      execution, checked when it was placed); then OpenZeppelin's own bookkeeping and
    ///      errors (the supply's overflow check on issuance, ERC20InsufficientBalance), the
    ///      receiver's balance within its 64-bit field (AccountBalanceOverflow), and Transfer.
    ///      Unchecked arithmetic, each safe: held − value (an open hold's amount is in the
    ///      held total, C4); fromBalance − value (checked just before); supply − value
    ///      (value <= fromBalance <= supply); toBalance + value (checked against the field
    ///      just before; toBalance <= MAX_ACCOUNT_BALANCE, so the check cannot underflow).
    function _move(address from, address to, uint256 value, bool executingHold) private {
        _requireNotPaused();
        AccountState payer = AccountState.wrap(0); // set below if from != 0, only then read
        if (from != address(0)) {
            payer = _accountState(from);
            if (payer.frozen()) revert AccountIsFrozen(from);
            uint256 held = payer.held();
            if (executingHold) {
                // No underflow: value is an open hold's amount, in `held` since placed (C4).
                unchecked {
                    payer = payer.withHeld(held - value);
                }
            } else {
                if (held != 0) {
                    uint256 spendable = payer.balance() - held; // held <= balance (C2)
                    if (value > spendable) revert InsufficientSpendableBalance(from, spendable, value);
                }
                if (to != address(0) && payer.isCapped()) payer = _chargePayment(from, payer, value);
            }
        }
        AccountState payee = AccountState.wrap(0); // set below if to != 0, only then read
        if (to != address(0)) {
            payee = _accountState(to);
            if (payee.frozen()) revert AccountIsFrozen(to);
            if (payee.isCapped() && !executingHold) _checkBalanceCap(to, payee, value);
        }
        // OpenZeppelin's ERC20._update, on the account words (unchecked: see @dev).
        if (from == address(0)) {
            _supply += value; // checked, as OpenZeppelin's
        } else {
            uint256 fromBalance = payer.balance();
            if (fromBalance < value) revert ERC20InsufficientBalance(from, fromBalance, value);
            unchecked {
                payer = payer.withBalance(fromBalance - value);
            }
            _setAccountState(from, payer);
            if (to == from) payee = payer; // a transfer to oneself credits the word just written
        }
        if (to == address(0)) {
            unchecked {
                _supply -= value;
            }
        } else {
            uint256 toBalance = payee.balance();
            // Compared without adding: an issued value may be near 2**256.
            if (value > MAX_ACCOUNT_BALANCE - toBalance) revert AccountBalanceOverflow(to, toBalance, value);
            unchecked {
                _setAccountState(to, payee.withBalance(toBalance + value));
            }
        }
        emit Transfer(from, to, value);
    }

    /// @dev Removing an operator also zeroes its mint allowance.
    function _revokeRole(bytes32 role, address account)
        internal
        override(AccessControl, AccessControlDefaultAdminRules)
        returns (bool revoked)
    {
        revoked = super._revokeRole(role, account);
        if (revoked && role == OPERATOR_ROLE) _clearMintAllowance(account);
    }

    // The overrides below only resolve the multiple inheritance of OpenZeppelin's bases.

    /// @inheritdoc AccessControlDefaultAdminRules
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(AccessControl, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    /// @inheritdoc AccessControlDefaultAdminRules
    function grantRole(bytes32 role, address account) public override(AccessControl, AccessControlDefaultAdminRules) {
        super.grantRole(role, account);
    }

    /// @inheritdoc AccessControlDefaultAdminRules
    function revokeRole(bytes32 role, address account) public override(AccessControl, AccessControlDefaultAdminRules) {
        super.revokeRole(role, account);
    }

    /// @inheritdoc AccessControlDefaultAdminRules
    function renounceRole(bytes32 role, address account)
        public
        override(AccessControl, AccessControlDefaultAdminRules)
    {
        super.renounceRole(role, account);
    }

    function _grantRole(bytes32 role, address account)
        internal
        override(AccessControl, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return super._grantRole(role, account);
    }

    function _setRoleAdmin(bytes32 role, bytes32 adminRole)
        internal
        override(AccessControl, AccessControlDefaultAdminRules)
    {
        super._setRoleAdmin(role, adminRole);
    }
}
