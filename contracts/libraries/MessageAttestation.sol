// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Assembly reads the packed header at MessageCodec's fixed offsets (gas, see structHash).
// solhint-disable no-inline-assembly

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";


/// @title MessageAttestation
/// @notice What an attester signs: a pvd message as EIP-712 typed data under the
///         destination inbox's own domain. Off-chain twin: pvd/protocol/attestation.py.
/// @dev The domain has every ERC-5267 field but extensions (fields = 0x1f):
///
///     EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)
///     name = "pvd Inbox", version = "1", chainId = block.chainid,
///     verifyingContract = the inbox,
///     salt = keccak256(abi.encode(uint32 the inbox's domain id, bytes32 its deployment id))
///
/// The salt carries the protocol domain id and the deployment id. Two chains can share a
/// chain id and addresses (eth-tester chains, consortium chains reusing chain ids, staging
/// and production deployed by the same key): the domain id keeps a signature for one inbox
/// from verifying at its twin on another domain, and the deployment id (random per
/// deployment, recorded in its manifest) keeps one deployment's messages from verifying at
/// another deployment's inbox even when the chain ids, addresses, domain ids and attester
/// keys are all the same. The typed struct is the message field by field (the body as `bytes`), read
/// from the packed encoding of MessageCodec (docs/messages.md):
///
///     Message(uint8 version,uint32 sourceDomain,address sourceApp,uint32 destinationDomain,
///             address destinationApp,uint64 nonce,uint8 kind,bytes body)
library MessageAttestation {
    /// @notice ERC-5267 field flags: name, version, chainId, verifyingContract, salt.
    bytes1 internal constant DOMAIN_FIELDS = 0x1f;

    /// @notice keccak256("pvd Inbox")
    bytes32 internal constant NAME_HASH = keccak256("pvd Inbox");

    /// @notice keccak256("1")
    bytes32 internal constant VERSION_HASH = keccak256("1");

    /// @notice The EIP-712 type hash of a message.
    bytes32 internal constant MESSAGE_TYPEHASH = keccak256(
        "Message(uint8 version,uint32 sourceDomain,address sourceApp,uint32 destinationDomain,"
        "address destinationApp,uint64 nonce,uint8 kind,bytes body)"
    );

    /// @notice The EIP-712 salt of the inbox of deployment `deploymentId` on `domain`.
    function salt(uint32 domain, bytes32 deploymentId) internal pure returns (bytes32) {
        return keccak256(abi.encode(domain, deploymentId));
    }

    /// @notice The domain separator of the inbox at `inbox` on (`chainId`, `domain`) of
    ///         deployment `deploymentId`.
    function domainSeparator(uint256 chainId, address inbox, uint32 domain, bytes32 deploymentId)
        internal
        pure
        returns (bytes32)
    {
        return MessageHashUtils.toDomainSeparator(
            DOMAIN_FIELDS, NAME_HASH, VERSION_HASH, chainId, inbox, salt(domain, deploymentId)
        );
    }

    /// @notice The EIP-712 struct hash of a message encoding (at least HEADER_LENGTH bytes;
    ///         callers validate it first):
    ///         keccak256(abi.encode(MESSAGE_TYPEHASH, version, sourceDomain, sourceApp,
    ///         destinationDomain, destinationApp, nonce, kind, keccak256(body))).
    /// @dev Assembly for gas: it reads the header at MessageCodec's fixed offsets and uses the
    ///      memory above the free memory pointer as scratch space without allocating it.
    function structHash(bytes calldata message) internal pure returns (bytes32 hash) {
        bytes32 typeHash = MESSAGE_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let at := message.offset
            let bodyLength := sub(message.length, 58)
            calldatacopy(ptr, add(at, 58), bodyLength)
            let bodyHash := keccak256(ptr, bodyLength)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), shr(248, calldataload(at))) // version: uint8 at 0
            mstore(add(ptr, 0x40), shr(224, calldataload(add(at, 1)))) // sourceDomain: uint32 at 1
            mstore(add(ptr, 0x60), shr(96, calldataload(add(at, 5)))) // sourceApp: address at 5
            mstore(add(ptr, 0x80), shr(224, calldataload(add(at, 25)))) // destinationDomain: uint32 at 25
            mstore(add(ptr, 0xa0), shr(96, calldataload(add(at, 29)))) // destinationApp: address at 29
            mstore(add(ptr, 0xc0), shr(192, calldataload(add(at, 49)))) // nonce: uint64 at 49
            mstore(add(ptr, 0xe0), shr(248, calldataload(add(at, 57)))) // kind: uint8 at 57
            mstore(add(ptr, 0x100), bodyHash)
            hash := keccak256(ptr, 0x120)
        }
    }

    /// @notice The digest attesters sign: keccak256("\x19\x01" || separator || structHash).
    function digest(bytes32 separator, bytes calldata message) internal pure returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(separator, structHash(message));
    }
}
