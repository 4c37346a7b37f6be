"""Attestations of pvd messages: EIP-712 signing and offline verification.

The twin of contracts/libraries/MessageAttestation.sol and of the Inbox's signature checks
(contracts/bridge/Inbox.sol). An attester signs a message as EIP-712 typed data under the
destination inbox's own domain:

    EIP712Domain(name "pvd Inbox", version "1", chainId, verifyingContract = the inbox,
                 salt = keccak256(abi.encode(uint32 domain id, bytes32 deployment id)))

The deployment id is a value unique to each deployment (random, recorded in its manifest and
readable as `Inbox.deploymentId()`): two deployments with the same chain ids, addresses,
domain ids and attester keys never accept each other's messages.
    Message(uint8 version, uint32 sourceDomain, address sourceApp, uint32 destinationDomain,
            address destinationApp, uint64 nonce, uint8 kind, bytes body)

An inbox accepts exactly `threshold` 65-byte signatures (r || s || v), concatenated in
strictly ascending order of their signers, each signer a current attester; `verify_quorum`
checks the same offline and raises the error the inbox would raise.

Keys are loaded by `pvd.relayer.keys` (an environment variable or a keystore), the one
place that does it; a key never appears in a log line or an error message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import coincurve
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from pvd.errors import ContractError
from pvd.protocol.messages import Message, validate_message

log = logging.getLogger(__name__)

NAME = "pvd Inbox"
DOMAIN_VERSION = "1"
SIGNATURE_LENGTH = 65
# secp256k1 group order and the low-s bound OpenZeppelin's ECDSA enforces (EIP-2).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2

MESSAGE_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
        {"name": "salt", "type": "bytes32"},
    ],
    "Message": [
        {"name": "version", "type": "uint8"},
        {"name": "sourceDomain", "type": "uint32"},
        {"name": "sourceApp", "type": "address"},
        {"name": "destinationDomain", "type": "uint32"},
        {"name": "destinationApp", "type": "address"},
        {"name": "nonce", "type": "uint64"},
        {"name": "kind", "type": "uint8"},
        {"name": "body", "type": "bytes"},
    ],
}


@dataclass(frozen=True)
class InboxDomain:
    """Where a signature is valid: one inbox on one chain and protocol domain, of one
    deployment (`deployment_id`, 32 bytes: `Inbox.deploymentId()`)."""

    chain_id: int
    inbox: str
    domain: int
    deployment_id: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "inbox", to_checksum_address(self.inbox))
        object.__setattr__(self, "deployment_id", bytes(self.deployment_id))
        if len(self.deployment_id) != 32:
            raise ValueError(f"a deployment id is 32 bytes, not {len(self.deployment_id)}")

    @property
    def salt(self) -> bytes:
        """keccak256(abi.encode(uint32 domain, bytes32 deployment_id))."""
        return bytes(keccak(abi_encode(["uint32", "bytes32"], [self.domain, self.deployment_id])))

    def as_eip712(self) -> dict[str, Any]:
        """The EIP712Domain value."""
        return {
            "name": NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.inbox,
            "salt": self.salt,
        }


class AttestationError(ContractError):
    """A signature set the inbox would refuse."""

    name = "AttestationError"


class InboxWrongDestinationDomain(AttestationError):
    name = "InboxWrongDestinationDomain"


class InboxSignaturesLength(AttestationError):
    name = "InboxSignaturesLength"


class InboxSignatureInvalid(AttestationError):
    """Malformed, malleable (high s) or unrecoverable; `values` = (index, OZ RecoverError)."""

    name = "InboxSignatureInvalid"


class InboxSignerOutOfOrder(AttestationError):
    name = "InboxSignerOutOfOrder"


class InboxSignerNotAttester(AttestationError):
    name = "InboxSignerNotAttester"


# OpenZeppelin ECDSA.RecoverError codes, as InboxSignatureInvalid reports them.
RECOVER_INVALID_SIGNATURE = 1
RECOVER_INVALID_LENGTH = 2
RECOVER_INVALID_S = 3


def typed_data(message: Message, inbox: InboxDomain) -> dict[str, Any]:
    """The full EIP-712 typed data of `message` for `inbox` (eth-account's format)."""
    return {
        "types": MESSAGE_TYPES,
        "primaryType": "Message",
        "domain": inbox.as_eip712(),
        "message": {
            "version": message.version,
            "sourceDomain": message.source_domain,
            "sourceApp": message.source_app,
            "destinationDomain": message.destination_domain,
            "destinationApp": message.destination_app,
            "nonce": message.nonce,
            "kind": int(message.kind),
            "body": message.body,
        },
    }


def _type_string(name: str) -> bytes:
    fields = ",".join(f"{f['type']} {f['name']}" for f in MESSAGE_TYPES[name])
    return f"{name}({fields})".encode()


DOMAIN_TYPEHASH = bytes(keccak(_type_string("EIP712Domain")))
MESSAGE_TYPEHASH = bytes(keccak(_type_string("Message")))
_NAME_HASH = bytes(keccak(NAME.encode()))
_VERSION_HASH = bytes(keccak(DOMAIN_VERSION.encode()))


def digest(message: Message, inbox: InboxDomain) -> bytes:
    """keccak256("\\x19\\x01" || domainSeparator || structHash): what an attester signs.

    Computed directly (two keccaks over fixed-layout words, the domain separator cached),
    not through eth-account's general EIP-712 encoder, which costs milliseconds per
    message; the golden vectors and a test against eth-account's encoder pin both."""
    return bytes(keccak(b"\x19\x01" + domain_separator(inbox) + struct_hash(message, inbox)))


def struct_hash(message: Message, inbox: InboxDomain) -> bytes:
    """The EIP-712 struct hash of `message` (independent of the domain's values)."""
    del inbox  # the struct hash does not depend on the domain
    return bytes(
        keccak(
            MESSAGE_TYPEHASH
            + message.version.to_bytes(32, "big")
            + message.source_domain.to_bytes(32, "big")
            + bytes.fromhex(message.source_app[2:]).rjust(32, b"\x00")
            + message.destination_domain.to_bytes(32, "big")
            + bytes.fromhex(message.destination_app[2:]).rjust(32, b"\x00")
            + message.nonce.to_bytes(32, "big")
            + int(message.kind).to_bytes(32, "big")
            + bytes(keccak(message.body))
        )
    )


@functools.lru_cache(maxsize=64)
def domain_separator(inbox: InboxDomain) -> bytes:
    """The EIP-712 domain separator of `inbox` (computed once per inbox)."""
    return bytes(
        keccak(
            DOMAIN_TYPEHASH
            + _NAME_HASH
            + _VERSION_HASH
            + inbox.chain_id.to_bytes(32, "big")
            + bytes.fromhex(inbox.inbox[2:]).rjust(32, b"\x00")
            + inbox.salt
        )
    )


def sign(message: Message, inbox: InboxDomain, account: LocalAccount) -> bytes:
    """An attester's 65-byte signature (r || s || v, v in {27, 28}, low s) of `message`."""
    message.validate()
    signed = account.unsafe_sign_hash(Hash32(digest(message, inbox)))  # the EIP-712 digest
    signature = bytes(signed.signature)
    log.debug(
        "signed message",
        extra={"message_id": message.id.hex(), "attester": account.address, "inbox": inbox.inbox},
    )
    return signature


def recover(
    message: Message,
    inbox: InboxDomain,
    signature: bytes,
    index: int = 0,
) -> str:
    """The signer of one signature, checked as OpenZeppelin's ECDSA.tryRecover does:
    65 bytes, s in the lower half order, v in {27, 28}, a recoverable point."""
    return recover_digest(digest(message, inbox), signature, index)


def recover_digest(signed_digest: bytes, signature: bytes, index: int = 0) -> str:
    """The signer of one signature over `signed_digest` = digest(message, inbox), for a
    caller that computed it once for several signatures (see recover)."""
    if len(signature) != SIGNATURE_LENGTH:
        raise InboxSignatureInvalid(index, RECOVER_INVALID_LENGTH)
    r = int.from_bytes(signature[0:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > HALF_N:
        raise InboxSignatureInvalid(index, RECOVER_INVALID_S)
    if v not in (27, 28) or not (0 < r < SECP256K1_N) or s == 0:
        raise InboxSignatureInvalid(index, RECOVER_INVALID_SIGNATURE)
    try:  # libsecp256k1 (coincurve), as eth-keys would with its coincurve backend
        point = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), bytes(signed_digest), hasher=None
        )
    except (ValueError, TypeError):
        raise InboxSignatureInvalid(index, RECOVER_INVALID_SIGNATURE) from None
    return _checksummed(bytes(keccak(point.format(compressed=False)[1:]))[-20:])


@functools.lru_cache(maxsize=4096)  # the same few attesters sign every message
def _checksummed(address: bytes) -> str:
    return str(to_checksum_address(address))


def pack_signatures(
    message: Message, inbox: InboxDomain, signatures: Iterable[bytes], threshold: int
) -> bytes:
    """The `threshold` signatures of distinct signers with the lowest addresses, in
    ascending signer order, concatenated: what Inbox.deliver takes. Raises
    InboxSignaturesLength if there are too few distinct valid signers."""
    by_signer: dict[str, bytes] = {}
    for signature in signatures:
        by_signer.setdefault(recover(message, inbox, signature).lower(), signature)
    if len(by_signer) < threshold:
        raise InboxSignaturesLength(len(by_signer) * SIGNATURE_LENGTH, threshold * SIGNATURE_LENGTH)
    chosen = sorted(by_signer)[:threshold]
    return b"".join(by_signer[signer] for signer in chosen)


def batch_signatures(per_message: Sequence[bytes]) -> bytes:
    """Each message's packed signatures (`pack_signatures`), concatenated in the messages'
    order: what Inbox.deliverBatch takes next to its list of messages. Every message needs
    the same number of bytes (the inbox cuts the array into equal parts); raises ValueError
    otherwise."""
    lengths = {len(signatures) for signatures in per_message}
    if len(lengths) > 1:
        raise ValueError(f"a batch's signatures differ in length: {sorted(lengths)}")
    return b"".join(per_message)


def verify_quorum(
    message: Message,
    inbox: InboxDomain,
    signatures: bytes,
    attesters: Sequence[str],
    threshold: int,
) -> tuple[str, ...]:
    """Check a signature set offline exactly as the inbox does; return its signers.

    Checks, in the inbox's order: the message's encoding, its destination domain, the
    length (exactly `threshold` signatures), then per signature: recoverable with low s,
    signer above the previous one, signer a current attester.
    """
    validate_message(message.encode())
    if message.destination_domain != inbox.domain:
        raise InboxWrongDestinationDomain(message.destination_domain, inbox.domain)
    expected = threshold * SIGNATURE_LENGTH
    if len(signatures) != expected:
        raise InboxSignaturesLength(len(signatures), expected)
    members = {to_checksum_address(a) for a in attesters}
    previous = 0
    signers: list[str] = []
    for index in range(threshold):
        chunk = signatures[index * SIGNATURE_LENGTH : (index + 1) * SIGNATURE_LENGTH]
        signer = recover(message, inbox, chunk, index)
        if int(signer, 16) <= previous:
            raise InboxSignerOutOfOrder(
                index, signer, to_checksum_address(previous.to_bytes(20, "big"))
            )
        if signer not in members:
            raise InboxSignerNotAttester(index, signer)
        previous = int(signer, 16)
        signers.append(signer)
    return tuple(signers)


@dataclass(frozen=True)
class MessageVerifier:
    """Recovers signers of one message at one inbox, by message id: the shape of the
    relayer's quorum Verifier (`recover(message_id, signature) -> address`). The typed
    data covers the whole message, so a verifier is built per message."""

    message: Message
    inbox: InboxDomain

    def recover(self, message_id: bytes, signature: bytes) -> str:
        """The signer of `signature` (raises InboxSignatureInvalid as the inbox would, or
        ValueError for another message's id)."""
        if bytes(message_id) != self.message.id:
            raise ValueError(f"this verifier is for message 0x{self.message.id.hex()}")
        return recover(self.message, self.inbox, signature)
