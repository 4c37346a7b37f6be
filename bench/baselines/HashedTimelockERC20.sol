// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The two ERC-20 calls the escrow makes (kept here so the baseline compiles alone).
interface IERC20Minimal {
    /// @notice Moves `amount` from `from` to `to` using the caller's allowance.
    function transferFrom(address from, address to, uint256 amount) external returns (bool);

    /// @notice Moves `amount` from the caller to `to`.
    function transfer(address to, uint256 amount) external returns (bool);
}

/// @title HashedTimelockERC20
/// @notice A textbook hashed-timelock escrow for ERC-20 tokens, written as the classic
///         HTLC tutorials and libraries do: `lock` pulls the tokens and stores the whole
///         agreement under an id derived from its fields; the receiver `claim`s with the
///         preimage of the hashlock (which is stored, so the other chain's leg can read it);
///         after the timelock the sender `refund`s. It is pvd's gas baseline for one
///         settlement (lock + claim), compiled by the project's pinned compiler by
///         `make bench`; never deployed by pvd.
contract HashedTimelockERC20 {
    /// @notice One escrow.
    struct Lock {
        address sender;
        address receiver;
        address token;
        uint256 amount;
        bytes32 hashlock;
        uint256 timelock;
        bool claimed;
        bool refunded;
        bytes32 preimage;
    }

    mapping(bytes32 lockId => Lock lock) public locks;

    /// @notice Tokens were locked under `lockId`.
    event Locked(
        bytes32 indexed lockId,
        address indexed sender,
        address indexed receiver,
        address token,
        uint256 amount,
        bytes32 hashlock,
        uint256 timelock
    );

    /// @notice The receiver claimed `lockId` by revealing `preimage`.
    event Claimed(bytes32 indexed lockId, bytes32 preimage);

    /// @notice The sender took `lockId` back after its timelock.
    event Refunded(bytes32 indexed lockId);

    /// @notice The amount is zero.
    error HtlcZeroAmount();

    /// @notice The timelock is not in the future.
    error HtlcTimelockPassed(uint256 timelock);

    /// @notice A lock with these fields exists already.
    error HtlcExists(bytes32 lockId);

    /// @notice No lock has this id.
    error HtlcUnknown(bytes32 lockId);

    /// @notice The preimage does not hash to the hashlock.
    error HtlcWrongPreimage(bytes32 lockId);

    /// @notice The lock was claimed or refunded already.
    error HtlcClosed(bytes32 lockId);

    /// @notice Only the receiver claims.
    error HtlcNotReceiver(address caller);

    /// @notice Only the sender refunds, and only after the timelock.
    error HtlcNotRefundable(bytes32 lockId);

    /// @notice The token refused a transfer.
    error HtlcTransferFailed();

    /// @notice Lock `amount` of `token` for `receiver` until `timelock`, claimable with the
    ///         preimage of `hashlock` (sha256). The caller must have approved this contract.
    function lock(address receiver, bytes32 hashlock, uint256 timelock, address token, uint256 amount)
        external
        returns (bytes32 lockId)
    {
        if (amount == 0) revert HtlcZeroAmount();
        if (timelock <= block.timestamp) revert HtlcTimelockPassed(timelock);
        lockId = sha256(abi.encodePacked(msg.sender, receiver, token, amount, hashlock, timelock));
        if (locks[lockId].sender != address(0)) revert HtlcExists(lockId);
        locks[lockId] = Lock(msg.sender, receiver, token, amount, hashlock, timelock, false, false, 0);
        emit Locked(lockId, msg.sender, receiver, token, amount, hashlock, timelock);
        if (!IERC20Minimal(token).transferFrom(msg.sender, address(this), amount)) revert HtlcTransferFailed();
    }

    /// @notice Pay lock `lockId` to its receiver, revealing `preimage`.
    function claim(bytes32 lockId, bytes32 preimage) external {
        Lock storage escrow = locks[lockId];
        if (escrow.sender == address(0)) revert HtlcUnknown(lockId);
        if (escrow.hashlock != sha256(abi.encodePacked(preimage))) revert HtlcWrongPreimage(lockId);
        if (escrow.claimed || escrow.refunded) revert HtlcClosed(lockId);
        if (msg.sender != escrow.receiver) revert HtlcNotReceiver(msg.sender);
        escrow.preimage = preimage;
        escrow.claimed = true;
        emit Claimed(lockId, preimage);
        if (!IERC20Minimal(escrow.token).transfer(escrow.receiver, escrow.amount)) revert HtlcTransferFailed();
    }

    /// @notice Return lock `lockId` to its sender after its timelock.
    function refund(bytes32 lockId) external {
        Lock storage escrow = locks[lockId];
        if (escrow.sender == address(0)) revert HtlcUnknown(lockId);
        if (msg.sender != escrow.sender || block.timestamp < escrow.timelock) revert HtlcNotRefundable(lockId);
        if (escrow.claimed || escrow.refunded) revert HtlcClosed(lockId);
        escrow.refunded = true;
        emit Refunded(lockId);
        if (!IERC20Minimal(escrow.token).transfer(escrow.sender, escrow.amount)) revert HtlcTransferFailed();
    }
}
