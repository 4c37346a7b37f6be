// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IHoldableToken} from "../interfaces/IHoldableToken.sol";

/// @title IHoldVerifier
/// @notice The one view the settlement needs beyond IHoldableToken: a hold's status with its
///         fields checked against the token's stored commitment, so that a permissionless
///         announce cannot claim another payee, amount or expiry than the payer placed.
///         YuanToken implements it (YuanHolds.checkHold).
/// @dev Proposed for IHoldableToken itself (a shared interface): until then the settlement
///      declares it here.
interface IHoldVerifier {
    /// @notice The id and status of `hold`; status None if no hold was placed under its id;
    ///         reverts if one was placed there with other fields.
    function checkHold(IHoldableToken.Hold calldata hold)
        external
        view
        returns (bytes32 id, IHoldableToken.HoldStatus status);
}
