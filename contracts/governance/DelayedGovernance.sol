// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title DelayedGovernance
/// @notice The one implementation of pvd's propose / wait / apply governance, shared by the
///         Inbox (attester set, threshold, peers, delay) and the Outbox (app registrations):
///         a change is proposed by its governor, becomes applicable `delay` seconds later
///         (readable while pending, an event each step), is applied by anyone once ready,
///         and may be cancelled by the governor before. During a contract's setup phase
///         (before it carried its first message, or until its governor closes it) a proposal
///         takes effect at once (docs/adr/0006-inbox-governance.md).
/// @dev A pending proposal is marked by a non-zero `readyAt`; callers keep their own
///      pending values next to it and call these checks.
library DelayedGovernance {
    /// @notice The longest governance delay that may be configured.
    uint64 internal constant MAX_DELAY = 60 days;

    /// @notice There is no such pending proposal.
    error GovernanceNoProposal();

    /// @notice The proposal's delay has not passed.
    error GovernanceProposalNotReady(uint64 readyAt, uint64 now_);

    /// @notice When a proposal made now under `delay` becomes applicable.
    function readyAt(uint64 delay) internal view returns (uint64) {
        return uint64(block.timestamp) + delay;
    }

    /// @notice Revert unless a proposal is pending (`readyAt_` non-zero).
    function requirePending(uint64 readyAt_) internal pure {
        // 0 means "no proposal", not a balance.
        // slither-disable-next-line incorrect-equality
        if (readyAt_ == 0) revert GovernanceNoProposal();
    }

    /// @notice Revert unless a proposal is pending and its delay has passed.
    function requireReady(uint64 readyAt_) internal view {
        requirePending(readyAt_);
        if (block.timestamp < readyAt_) revert GovernanceProposalNotReady(readyAt_, uint64(block.timestamp));
    }
}
