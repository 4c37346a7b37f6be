// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

import {IERC5192} from "../interfaces/IERC5192.sol";

/// @title BillOfLading
/// @notice The title document of a pvd trade: an ERC-721 token bound to exactly one trade of
///         the TradeRegistry that deployed it. It is a *straight* (non-negotiable) bill: issued
///         to the buyer, the named consignee, when the seller ships; it cannot be transferred
///         by anyone; it ends when its trade ends — surrendered (burned) on delivery, voided
///         (burned) if the trade expires after shipment. Custody choice: docs/adr/0003.
/// @dev Roles:
///      - registry: the TradeRegistry that deployed this contract (immutable). The only
///        account that issues, surrenders or voids a bill.
///      - holder: the buyer of the trade (the consignee). Holds the token; cannot move it.
///      Token id = uint256(tradeId), so a trade has at most one bill, ever: OpenZeppelin's
///      `_mint` refuses an id that exists, and a burned id is never re-issued because the
///      registry issues only on the trade's single Funded -> Shipped transition.
///      Wallets are told that a bill cannot move: ERC-5192 (`locked` is true for every
///      outstanding bill, `Locked` is emitted at issue, `supportsInterface(0xb45a3c0e)`).
///      Otherwise it is a plain ERC-721 (OpenZeppelin): approvals can be set but any
///      transfer reverts with BillOfLadingNonTransferable.
contract BillOfLading is ERC721, IERC5192 {
    /// @notice The registry that deployed this contract and alone may issue and end bills.
    address private immutable _registry;

    /// @notice The hash of the bill's off-chain document (the carrier's bill of lading), per token.
    mapping(uint256 tokenId => bytes32 documentHash) private _documentHashes;

    /// @notice A bill was issued to `consignee` for trade `tradeId` (token id = uint256(tradeId)).
    event BillIssued(uint256 indexed tokenId, bytes32 indexed tradeId, address indexed consignee, bytes32 documentHash);

    /// @notice The holder surrendered the bill on delivery; the token is burned.
    event BillSurrendered(uint256 indexed tokenId, bytes32 indexed tradeId, address indexed holder);

    /// @notice The trade expired after shipment; the bill is void and the token is burned.
    event BillVoided(uint256 indexed tokenId, bytes32 indexed tradeId, address indexed holder);

    /// @notice Only the registry issues, surrenders or voids bills.
    error BillOfLadingCallerNotRegistry(address caller);

    /// @notice A straight bill cannot change hands: only issue (mint) and end (burn) exist.
    error BillOfLadingNonTransferable(uint256 tokenId, address from, address to);

    /// @notice Every bill refers to its off-chain document; the zero hash is not a document.
    error BillOfLadingDocumentMissing(bytes32 tradeId);

    /// @dev The deployer is the registry; TradeRegistry deploys this contract in its constructor.
    constructor() ERC721("pvd Bill of Lading", "PVD-BL") {
        _registry = msg.sender;
    }

    modifier onlyRegistry() {
        if (msg.sender != _registry) revert BillOfLadingCallerNotRegistry(msg.sender);
        _;
    }

    /// @notice Issue the bill of trade `tradeId` to its consignee. Registry only.
    /// @dev `_mint`, not `_safeMint`: a consignee contract without onERC721Received must not
    ///      be able to block the seller's shipment. Reverts (ERC721InvalidSender) if the bill
    ///      already exists.
    /// @return tokenId uint256(tradeId)
    function issue(bytes32 tradeId, address consignee, bytes32 documentHash)
        external
        onlyRegistry
        returns (uint256 tokenId)
    {
        if (documentHash == bytes32(0)) revert BillOfLadingDocumentMissing(tradeId);
        tokenId = uint256(tradeId);
        _documentHashes[tokenId] = documentHash;
        _mint(consignee, tokenId);
        emit Locked(tokenId);
        emit BillIssued(tokenId, tradeId, consignee, documentHash);
    }

    /// @notice The holder surrendered the bill on delivery: burn it. Registry only.
    function surrender(bytes32 tradeId) external onlyRegistry {
        uint256 tokenId = uint256(tradeId);
        address holder = _requireOwned(tokenId);
        _burn(tokenId);
        emit BillSurrendered(tokenId, tradeId, holder);
    }

    /// @notice The trade expired after shipment: void the bill (burn it). Registry only.
    function void(bytes32 tradeId) external onlyRegistry {
        uint256 tokenId = uint256(tradeId);
        address holder = _requireOwned(tokenId);
        _burn(tokenId);
        emit BillVoided(tokenId, tradeId, holder);
    }

    /// @inheritdoc IERC5192
    /// @dev Always true for an outstanding bill; reverts ERC721NonexistentToken otherwise.
    function locked(uint256 tokenId) external view returns (bool) {
        _requireOwned(tokenId);
        return true;
    }

    /// @notice ERC-165: ERC-721, ERC-721 metadata, ERC-165 and ERC-5192.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IERC5192).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @notice The registry that issues and ends bills.
    function registry() external view returns (address) {
        return _registry;
    }

    /// @notice The document hash recorded when the bill was issued (kept after the bill ends).
    function documentHashOf(uint256 tokenId) external view returns (bytes32) {
        return _documentHashes[tokenId];
    }

    /// @notice The trade a token id belongs to.
    function tradeIdOf(uint256 tokenId) external pure returns (bytes32) {
        return bytes32(tokenId);
    }

    /// @notice The token id of trade `tradeId`'s bill (whether or not it exists).
    function tokenIdOf(bytes32 tradeId) external pure returns (uint256) {
        return uint256(tradeId);
    }

    /// @notice Whether the bill of `tradeId` is currently outstanding (issued and not ended).
    function isOutstanding(bytes32 tradeId) external view returns (bool) {
        return _ownerOf(uint256(tradeId)) != address(0);
    }

    /// @dev Every balance change passes here: allow mint (from 0) and burn (to 0) only. The
    ///      registry alone reaches `_mint`/`_burn`, so transfers and approved transfers by
    ///      anyone, the holder included, revert.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = _ownerOf(tokenId);
        if (from != address(0) && to != address(0)) revert BillOfLadingNonTransferable(tokenId, from, to);
        return super._update(to, tokenId, auth);
    }
}
