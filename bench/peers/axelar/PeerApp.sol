// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// The bench's application on the peer (axelar-local-dev): the same workload as pvd's
// relay figures, one message per transaction, consumed once on the other chain. Bench
// material only, compiled by pvd.bench.peers; never deployed with pvd.

/// @notice The subset of Axelar's gateway the bench's app calls.
interface IPeerGateway {
    /// @notice Emit a contract call for the relayer to carry to `destinationChain`.
    function callContract(
        string calldata destinationChain,
        string calldata contractAddress,
        bytes calldata payload
    ) external;

    /// @notice True once (and consumes the approval) if the relayer approved this call.
    function validateContractCall(
        bytes32 commandId,
        string calldata sourceChain,
        string calldata sourceAddress,
        bytes32 payloadHash
    ) external returns (bool);
}

/// @notice The subset of Axelar's gas service the bench's app calls.
interface IPeerGasService {
    /// @notice Pay the destination's execution in the source chain's native coin.
    function payNativeGasForContractCall(
        address sender,
        string calldata destinationChain,
        string calldata destinationAddress,
        bytes calldata payload,
        address refundAddress
    ) external payable;
}

/// @title PeerSender: sends numbered messages through the peer's gateway.
contract PeerSender {
    /// @notice The gateway messages leave through.
    IPeerGateway public immutable gateway;
    /// @notice The gas service paid for each message's execution.
    IPeerGasService public immutable gasService;
    /// @notice Messages sent so far (the last one's number).
    uint256 public sent;

    /// @notice Message `number` was sent.
    event Sent(uint256 indexed number);

    constructor(IPeerGateway gateway_, IPeerGasService gasService_) {
        gateway = gateway_;
        gasService = gasService_;
    }

    /// @notice Send the next numbered message to `destination` on `destinationChain`,
    /// paying its execution with the value sent.
    function send(string calldata destinationChain, string calldata destination) external payable {
        _send(destinationChain, destination, msg.value);
    }

    /// @notice Send the next `count` numbered messages, each as `send` would, in one
    /// transaction (a burst made quickly), paying each message's execution an equal part
    /// of the value sent.
    function sendMany(
        string calldata destinationChain,
        string calldata destination,
        uint256 count
    ) external payable {
        uint256 fee = msg.value / count;
        for (uint256 i = 0; i < count; ++i) {
            _send(destinationChain, destination, fee);
        }
    }

    function _send(string calldata destinationChain, string calldata destination, uint256 fee)
        private
    {
        uint256 number = ++sent;
        bytes memory payload = abi.encode(number);
        emit Sent(number);
        gasService.payNativeGasForContractCall{value: fee}(
            address(this), destinationChain, destination, payload, msg.sender
        );
        gateway.callContract(destinationChain, destination, payload);
    }
}

/// @title PeerReceiver: consumes each message once, as the gateway approved it.
contract PeerReceiver {
    /// @notice The gateway that approves each call.
    IPeerGateway public immutable gateway;
    /// @notice Messages consumed so far.
    uint256 public received;

    /// @notice Message `number` from `sourceChain` was consumed.
    event Received(uint256 indexed number, string sourceChain);

    /// @notice The gateway holds no approval for this call.
    error NotApproved(bytes32 commandId);

    constructor(IPeerGateway gateway_) {
        gateway = gateway_;
    }

    /// @notice Called by the peer's relayer: consume an approved message.
    function execute(
        bytes32 commandId,
        string calldata sourceChain,
        string calldata sourceAddress,
        bytes calldata payload
    ) external {
        if (!gateway.validateContractCall(commandId, sourceChain, sourceAddress, keccak256(payload))) {
            revert NotApproved(commandId);
        }
        uint256 number = abi.decode(payload, (uint256));
        ++received;
        emit Received(number, sourceChain);
    }
}
