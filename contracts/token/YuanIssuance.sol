// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {YuanAccounts} from "./YuanAccounts.sol";

/// @title YuanIssuance
/// @notice Two-tier issuance: the central bank (DEFAULT_ADMIN_ROLE) appoints operators (banks)
///         with `grantRole(OPERATOR_ROLE, bank)`, removes them with `revokeRole`, and sets each
///         one's mint allowance. An operator issues to wallets within its allowance, which
///         decreases as it issues, and redeems (burns) what a wallet asks it to.
/// @dev Roles: DEFAULT_ADMIN_ROLE sets mint allowances; OPERATOR_ROLE issues and redeems.
///      A wallet asks for redemption by approving its bank for the amount (approve or permit);
///      `redeem` spends that allowance. Redemption does not restore the mint allowance.
///      Removing an operator zeroes its mint allowance (YuanToken._revokeRole).
abstract contract YuanIssuance is YuanAccounts, ERC20, AccessControl {
    mapping(address operator => uint256 allowance) private _mintAllowances;

    /// @notice The admin set `operator`'s mint allowance from `previous` to `allowance`.
    event MintAllowanceSet(address indexed operator, uint256 previous, uint256 allowance);
    /// @notice `operator` issued `amount` to `to`; `allowanceLeft` remains to issue.
    event Issued(address indexed operator, address indexed to, uint256 amount, uint256 allowanceLeft);
    /// @notice `operator` redeemed (burned) `amount` from `from` at its request.
    event Redeemed(address indexed operator, address indexed from, uint256 amount);

    /// @notice `account` is not an operator, so it cannot have a mint allowance.
    error IssuanceNotAnOperator(address account);
    /// @notice `amount` is over `operator`'s remaining mint allowance.
    error MintAllowanceExceeded(address operator, uint256 allowance, uint256 amount);
    /// @notice Issuing or redeeming nothing is refused.
    error IssuanceAmountZero();

    /// @notice Set `operator`'s mint allowance (replaces what is left of the previous one).
    /// @dev Only DEFAULT_ADMIN_ROLE; `operator` must hold OPERATOR_ROLE. Emits MintAllowanceSet.
    function setMintAllowance(address operator, uint256 allowance) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!hasRole(OPERATOR_ROLE, operator)) revert IssuanceNotAnOperator(operator);
        _setMintAllowance(operator, allowance);
    }

    /// @notice What `operator` may still issue.
    function mintAllowance(address operator) external view returns (uint256) {
        return _mintAllowances[operator];
    }

    /// @notice Issue `amount` fen to `to`, within the caller's mint allowance.
    /// @dev Only OPERATOR_ROLE. Checked against `to`'s balance cap, freeze and pause in
    ///      `_update`. Emits Transfer(0, to, amount) and Issued.
    function issue(address to, uint256 amount) external onlyRole(OPERATOR_ROLE) {
        if (amount == 0) revert IssuanceAmountZero();
        address operator = _msgSender();
        uint256 allowance = _mintAllowances[operator];
        if (amount > allowance) revert MintAllowanceExceeded(operator, allowance, amount);
        uint256 left;
        unchecked {
            // No underflow: amount <= allowance was checked above.
            left = allowance - amount;
        }
        _mintAllowances[operator] = left;
        _mint(to, amount);
        emit Issued(operator, to, amount, left);
    }

    /// @notice Redeem (burn) `amount` fen from `from`, which asked for it by approving the
    ///         caller for at least `amount`.
    /// @dev Only OPERATOR_ROLE. Spends the allowance `from` gave the caller (without an
    ///      Approval event, as ERC20._spendAllowance); only spendable (not held) funds can be
    ///      burned; freeze and pause apply. Emits Transfer(from, 0, amount) and Redeemed.
    function redeem(address from, uint256 amount) external onlyRole(OPERATOR_ROLE) {
        if (amount == 0) revert IssuanceAmountZero();
        address operator = _msgSender();
        _spendAllowance(from, operator, amount);
        _burn(from, amount);
        emit Redeemed(operator, from, amount);
    }

    /// @dev Zero a removed operator's allowance (called when OPERATOR_ROLE is revoked).
    function _clearMintAllowance(address operator) internal {
        if (_mintAllowances[operator] != 0) _setMintAllowance(operator, 0);
    }

    function _setMintAllowance(address operator, uint256 allowance) private {
        uint256 previous = _mintAllowances[operator];
        _mintAllowances[operator] = allowance;
        emit MintAllowanceSet(operator, previous, allowance);
    }
}
