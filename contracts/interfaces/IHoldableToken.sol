// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IHoldableToken
/// @notice Conditional payments inside the money (the ERC-1996 model), as the settlement
///         contract and off-chain code use them. A hold earmarks `amount` of the payer's
///         balance for `payee`; the funds stay in the payer's balance but cannot be spent.
///         The token stores one commitment per hold; callers pass the whole `Hold` back to
///         execute or release it, and the token checks it against the commitment.
/// @dev Windows never overlap: the notary executes only while `block.timestamp < expiry`;
///      the notary releases at any time; anyone releases once `block.timestamp >= expiry`.
interface IHoldableToken {
    enum HoldStatus {
        None,
        Held,
        Executed,
        Released
    }

    /// @notice Everything that defines a hold; its id is `holdId(payer, notary, ref)`.
    struct Hold {
        address payer;
        address payee;
        address notary;
        uint256 amount;
        uint64 expiry;
        bytes32 ref;
    }

    /// @notice A hold was placed; the event carries every field (storage keeps a commitment).
    event HoldPlaced(
        bytes32 indexed holdId,
        address indexed payer,
        address indexed payee,
        address notary,
        uint256 amount,
        uint64 expiry,
        bytes32 ref
    );

    /// @notice The notary executed the hold: `amount` moved from payer to payee.
    event HoldExecuted(bytes32 indexed holdId, address indexed payer, address indexed payee, uint256 amount);

    /// @notice The hold was released back to its payer by `releasedBy`.
    event HoldReleased(bytes32 indexed holdId, address indexed payer, address releasedBy, uint256 amount);

    /// @notice The notary acknowledged an open hold it did not place itself (a hold its
    ///         notary placed is acknowledged from its placement).
    event HoldAcknowledged(bytes32 indexed holdId, address indexed notary);

    /// @notice Place a hold as the payer (msg.sender).
    function placeHold(bytes32 ref, address payee, address notary, uint256 amount, uint64 expiry)
        external
        returns (bytes32 id);

    /// @notice Place a hold for `hold.payer`, who signed it as EIP-712 typed data
    ///         (see the token's docs for the type); valid until `validBefore`.
    function placeHoldWithAuthorization(Hold calldata hold, uint256 validBefore, bytes calldata signature)
        external
        returns (bytes32 id);

    /// @notice Pay the payee the whole held amount. Only the notary, only before expiry.
    function executeHold(Hold calldata hold) external;

    /// @notice Return the held amount to the payer. The notary at any time; anyone from expiry on.
    function releaseHold(Hold calldata hold) external;

    /// @notice Mark an open hold as acknowledged by its notary, once. Only the notary; the
    ///         fields are checked against the commitment. A hold placed by its notary is
    ///         acknowledged from its placement; releasing a hold clears it.
    function acknowledgeHold(Hold calldata hold) external;

    /// @notice Whether the hold's notary acknowledged it (placed it, or acknowledgeHold),
    ///         and it was not released since.
    function isHoldAcknowledged(bytes32 id) external view returns (bool);

    /// @notice The id of the hold that `payer` places with `notary` under `ref`.
    function holdId(address payer, address notary, bytes32 ref) external pure returns (bytes32);

    /// @notice The id and status of `hold`, its fields checked against the stored commitment:
    ///         status None if no hold was placed under its id; reverts if one was placed
    ///         there with other fields. Lets a notary trust the payee, amount and expiry it
    ///         is handed.
    function checkHold(Hold calldata hold) external view returns (bytes32 id, HoldStatus status);

    /// @notice The EIP-712 digest the payer signs to authorize `hold` until `validBefore`
    ///         (the token's PlaceHold type).
    function holdAuthorizationDigest(Hold calldata hold, uint256 validBefore) external view returns (bytes32);

    /// @notice Where a hold is in its life.
    function holdStatus(bytes32 id) external view returns (HoldStatus);

    /// @notice The sum of `account`'s open holds.
    function heldBalanceOf(address account) external view returns (uint256);

    /// @notice `balanceOf(account) - heldBalanceOf(account)`.
    function spendableBalanceOf(address account) external view returns (uint256);
}
