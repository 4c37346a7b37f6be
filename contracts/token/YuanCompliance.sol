// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {AccountState, YuanAccounts} from "./YuanAccounts.sol";

/// @title YuanCompliance
/// @notice Freeze an account (COMPLIANCE_ROLE) and pause the whole token (PAUSER_ROLE).
/// @dev Roles: COMPLIANCE_ROLE freezes/unfreezes; PAUSER_ROLE pauses/unpauses.
///      What they block (enforced in YuanToken._move and YuanHolds, listed in docs/token.md):
///      - pause: every balance change (transfer, transferFrom, ERC-3009 transfers, issuance,
///        redemption, hold execution) and placing holds;
///      - freeze: any balance change of the frozen account, as sender or receiver, and placing
///        or executing a hold whose payer or payee is frozen.
///      Neither blocks releasing a hold back to its payer, approvals, permits, cancelling an
///      ERC-3009 authorization, or administration.
abstract contract YuanCompliance is YuanAccounts, AccessControl, Pausable {
    /// @notice A compliance officer froze `account`.
    event AccountFrozen(address indexed account, address indexed officer);
    /// @notice A compliance officer unfroze `account`.
    event AccountUnfrozen(address indexed account, address indexed officer);

    /// @notice `account` is already frozen.
    error AccountAlreadyFrozen(address account);
    /// @notice `account` is not frozen.
    error AccountNotFrozen(address account);

    /// @notice Freeze `account`: it can no longer send or receive, nor be party to a new or
    ///         executed hold. Its open holds can still be released back to it.
    /// @dev Only COMPLIANCE_ROLE. Emits AccountFrozen.
    function freeze(address account) external onlyRole(COMPLIANCE_ROLE) {
        AccountState state = _accountState(account);
        if (state.frozen()) revert AccountAlreadyFrozen(account);
        _setAccountState(account, state.withFrozen(true));
        emit AccountFrozen(account, _msgSender());
    }

    /// @notice Unfreeze `account`.
    /// @dev Only COMPLIANCE_ROLE. Emits AccountUnfrozen.
    function unfreeze(address account) external onlyRole(COMPLIANCE_ROLE) {
        AccountState state = _accountState(account);
        if (!state.frozen()) revert AccountNotFrozen(account);
        _setAccountState(account, state.withFrozen(false));
        emit AccountUnfrozen(account, _msgSender());
    }

    /// @notice Whether `account` is frozen.
    function isFrozen(address account) external view returns (bool) {
        return _accountState(account).frozen();
    }

    /// @notice Pause every balance change and new holds (releases still work).
    /// @dev Only PAUSER_ROLE. Emits Paused; reverts EnforcedPause if already paused.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lift the pause.
    /// @dev Only PAUSER_ROLE. Emits Unpaused; reverts ExpectedPause if not paused.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }
}
