// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IMessageRecipient} from "../interfaces/IMessageRecipient.sol";

/// @title NoopRecipient
/// @notice TEST ONLY. A recipient that accepts every message and does nothing, so that a
///         delivery's gas is the inbox's own overhead (scripts/gas/bridge.py). Roles: none.
contract NoopRecipient is IMessageRecipient {
    /// @inheritdoc IMessageRecipient
    function receiveMessage(uint32, address, bytes32, uint8, bytes calldata) external pure {}
}
