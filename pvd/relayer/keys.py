"""Loading the relayer's two keys and keeping them out of sight.

Owns turning a KeySource (an environment variable holding a hex key, or an encrypted
JSON keystore plus a password variable) into a Signer: a wrapper around eth-account's
LocalAccount whose repr and str show only the address, that cannot be pickled, and that
exposes only the signing operations the relayer needs. No error message, log line or
repr produced here ever contains key material; errors from eth-account are replaced,
not chained, so a traceback cannot carry the key either.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import coincurve
from eth_account import Account
from eth_account.datastructures import SignedMessage, SignedTransaction
from eth_account.signers.local import LocalAccount

from pvd.errors import UserError
from pvd.relayer.config import EnvKey, KeySource, KeystoreKey

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class Signer:
    """A private key that shows only its address. Sign with it; never print it."""

    __slots__ = ("__account", "__secp")

    def __init__(self, account: LocalAccount) -> None:
        self.__account = account
        # libsecp256k1 (coincurve) signs a digest in a fifth of eth-account's time
        self.__secp = coincurve.PrivateKey(bytes(account.key))

    @property
    def address(self) -> str:
        """The checksummed address of the key."""
        return str(self.__account.address)

    def sign_hash(self, digest: bytes) -> bytes:
        """A 65-byte r || s || v signature of a 32-byte digest (e.g. an EIP-712 hash)."""
        if len(digest) != 32:
            raise ValueError(f"a digest is 32 bytes, got {len(digest)}")
        # RFC 6979 and low s (libsecp256k1 normalizes), as eth-account's unsafe_sign_hash
        raw = self.__secp.sign_recoverable(bytes(digest), hasher=None)
        return raw[:64] + bytes([raw[64] + 27])

    def sign_typed_data(self, full_message: dict[str, Any]) -> SignedMessage:
        """Sign EIP-712 typed data given as one dict (types, primaryType, domain, message)."""
        return self.__account.sign_typed_data(full_message=full_message)

    def sign_transaction(self, transaction: dict[str, Any]) -> SignedTransaction:
        """Sign a transaction dict locally (the gas key's job)."""
        return self.__account.sign_transaction(transaction)

    def __repr__(self) -> str:
        return f"Signer(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Signer holds a private key and cannot be pickled or copied")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signer) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)


@dataclass(frozen=True)
class RelayKeys:
    """The two keys of one attester: one signs messages, the other pays gas."""

    attestation: Signer
    gas: Signer


def _from_hex(text: str, what: str) -> LocalAccount:
    text = text.strip()
    if not _HEX_KEY.match(text):
        raise UserError(f"{what} is not a hex private key; it must be 0x followed by 64 hex digits")
    try:
        account: LocalAccount = Account.from_key(text)
    except Exception:  # eth-account's message may include the key: replace it
        raise UserError(f"{what} is not a valid secp256k1 private key; use another key") from None
    return account


def _from_keystore(source: KeystoreKey, environ: Mapping[str, str]) -> LocalAccount:
    path = source.path
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"keystore {path} not found; fix the keystore path in the config") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise UserError(f"keystore {path} is not a readable JSON keystore; re-export it") from None
    if source.password_env not in environ:
        raise UserError(
            f"password env var {source.password_env} is not set; export it with the "
            f"password of {path.name}"
        )
    try:
        secret = Account.decrypt(document, environ[source.password_env])
    except ValueError:
        raise UserError(
            f"keystore {path} does not open with the password in {source.password_env} "
            "(MAC mismatch); set the right password"
        ) from None
    except Exception:
        raise UserError(f"keystore {path} is not a valid keystore; re-export it") from None
    try:
        account: LocalAccount = Account.from_key(secret)
    except Exception:
        raise UserError(f"keystore {path} holds an invalid private key; use another key") from None
    return account


def load_account(source: KeySource, environ: Mapping[str, str] | None = None) -> LocalAccount:
    """Load one key from its source as an eth-account LocalAccount, for code that signs
    through web3's middleware (deployment); UserError (never showing the key) if it cannot.
    Keep it out of logs: the relayer holds its keys as `Signer`s."""
    env = os.environ if environ is None else environ
    if isinstance(source, EnvKey):
        if not env.get(source.env, "").strip():
            raise UserError(f"env var {source.env} is not set; export it with a hex private key")
        return _from_hex(env[source.env], f"env var {source.env}")
    return _from_keystore(source, env)


def load_signer(source: KeySource, environ: Mapping[str, str] | None = None) -> Signer:
    """Load one key from its source; UserError (never showing the key) if it cannot."""
    return Signer(load_account(source, environ))


def load_keys(
    attestation: KeySource, gas: KeySource, environ: Mapping[str, str] | None = None
) -> RelayKeys:
    """Load the attestation and gas keys; they must be different keys."""
    keys = RelayKeys(attestation=load_signer(attestation, environ), gas=load_signer(gas, environ))
    if keys.attestation.address == keys.gas.address:
        raise UserError(
            f"the attestation and gas keys are the same key ({keys.gas.address}); "
            "use a separate gas key so an attestation key only ever signs messages"
        )
    return keys
