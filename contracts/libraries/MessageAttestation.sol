// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {MessageCodec} from "./MessageCodec.sol";

/// @title MessageAttestation
/// @notice What an attester signs: a pvd message as EIP-712 typed data under the
///         destination inbox's own domain. Off-chain twin: pvd/attestation.py.
/// @dev The domain has every ERC-5267 field but extensions (fields = 0x1f):
///
///     EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)
///     name = "pvd Inbox", version = "1", chainId = block.chainid,
///     verifyingContract = the inbox, salt = bytes32(uint256(the inbox's domain id))
///
/// The salt carries the protocol domain id: two eth-tester chains share a chain id and can
/// share addresses, so a signature for one inbox never verifies at its twin on another
/// domain. The typed struct is the message field by field (the body as `bytes`):
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
        "Message(uint8 version,uint32 sourceDomain,address sourceApp,uint32 destinationDomain,address destinationApp,uint64 nonce,uint8 kind,bytes body)"
    );

    /// @notice The domain separator of the inbox at `inbox` on (`chainId`, `domain`).
    function domainSeparator(uint256 chainId, address inbox, uint32 domain) internal pure returns (bytes32) {
        return MessageHashUtils.toDomainSeparator(
            DOMAIN_FIELDS, NAME_HASH, VERSION_HASH, chainId, inbox, bytes32(uint256(domain))
        );
    }

    /// @notice The EIP-712 struct hash of a message encoding (at least HEADER_LENGTH bytes;
    ///         callers validate it first).
    function structHash(bytes calldata message) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                MESSAGE_TYPEHASH,
                MessageCodec.messageVersion(message),
                MessageCodec.messageSourceDomain(message),
                MessageCodec.messageSourceApp(message),
                MessageCodec.messageDestinationDomain(message),
                MessageCodec.messageDestinationApp(message),
                MessageCodec.messageNonce(message),
                MessageCodec.messageKind(message),
                keccak256(MessageCodec.messageBody(message))
            )
        );
    }

    /// @notice The digest attesters sign: keccak256("\x19\x01" || separator || structHash).
    function digest(bytes32 separator, bytes calldata message) internal pure returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(separator, structHash(message));
    }
}
