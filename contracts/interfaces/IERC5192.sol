// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IERC5192
/// @notice Minimal soulbound NFTs (ERC-5192): a wallet learns from `locked` that a token
///         cannot be transferred. Interface id 0xb45a3c0e.
interface IERC5192 {
    /// @notice The token's lock status became locked.
    event Locked(uint256 tokenId);

    /// @notice The token's lock status became unlocked.
    event Unlocked(uint256 tokenId);

    /// @notice Whether the token is locked (reverts for a token that does not exist).
    function locked(uint256 tokenId) external view returns (bool);
}
