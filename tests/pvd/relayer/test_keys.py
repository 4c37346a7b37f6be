"""pvd.relayer.keys: keys load from env or keystore and never show themselves."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import traceback
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.datatypes import Signature
from eth_typing import HexStr

from pvd.errors import UserError
from pvd.relayer.config import EnvKey, KeystoreKey
from pvd.relayer.keys import Signer, load_keys, load_signer
from tests.pvd.relayer.helpers import TEST_KEY_ATTESTER, TEST_KEY_GAS

ATTESTER_ADDRESS = Account.from_key(TEST_KEY_ATTESTER).address
GAS_ADDRESS = Account.from_key(TEST_KEY_GAS).address
PASSWORD = "correct horse"


def write_keystore(path: Path, key: str, password: str = PASSWORD) -> Path:
    # pbkdf2 with 2 iterations: fast for tests; real keystores use scrypt's defaults
    path.write_text(json.dumps(Account.encrypt(HexStr(key), password, kdf="pbkdf2", iterations=2)))
    return path


def load_error(source: EnvKey | KeystoreKey, environ: dict[str, str]) -> UserError:
    with pytest.raises(UserError) as info:
        load_signer(source, environ)
    return info.value


def test_a_key_loads_from_its_environment_variable() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    assert signer.address == ATTESTER_ADDRESS


def test_a_key_without_0x_and_with_whitespace_loads() -> None:
    signer = load_signer(EnvKey("K"), {"K": f"  {TEST_KEY_ATTESTER[2:]}\n"})
    assert signer.address == ATTESTER_ADDRESS


def test_repr_and_str_show_only_the_address() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    assert repr(signer) == f"Signer(address={ATTESTER_ADDRESS})"
    assert str(signer) == repr(signer)
    assert f"{signer}" == repr(signer)
    assert TEST_KEY_ATTESTER[2:] not in repr(signer) + str(signer) + f"{signer!r}"


def test_a_signer_logged_as_an_argument_shows_only_the_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    with caplog.at_level(logging.INFO):
        logging.getLogger("pvd.test").info("loaded %s", signer)
    assert ATTESTER_ADDRESS in caplog.text
    assert TEST_KEY_ATTESTER[2:] not in caplog.text


def test_a_signer_cannot_be_pickled_or_copied() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.copy(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.deepcopy(signer)


def test_a_signer_has_no_attribute_that_exposes_the_key() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    assert not hasattr(signer, "key")
    assert not hasattr(signer, "account")
    assert not hasattr(signer, "__dict__")


def test_sign_hash_gives_a_signature_that_recovers_to_the_address() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    digest = bytes(range(32))
    signature = signer.sign_hash(digest)
    assert len(signature) == 65
    r_s, v = signature[:64], signature[64]
    assert v in (27, 28)
    recovered = Signature(r_s + bytes([v - 27])).recover_public_key_from_msg_hash(digest)
    assert recovered.to_checksum_address() == ATTESTER_ADDRESS


def test_sign_hash_refuses_a_digest_that_is_not_32_bytes() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    with pytest.raises(ValueError, match="32 bytes"):
        signer.sign_hash(b"short")


def test_sign_typed_data_recovers_to_the_address() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    full_message = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "salt", "type": "bytes32"},
            ],
            "Ping": [{"name": "id", "type": "bytes32"}],
        },
        "primaryType": "Ping",
        "domain": {"name": "test", "salt": b"\x01" * 32},
        "message": {"id": b"\x02" * 32},
    }
    signed = signer.sign_typed_data(full_message)
    recovered = Account.recover_message(
        encode_typed_data(full_message=full_message), signature=signed.signature
    )
    assert recovered == ATTESTER_ADDRESS


def test_sign_transaction_signs_with_the_key() -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_GAS})
    tx = {"to": ATTESTER_ADDRESS, "value": 1, "gas": 21000, "gasPrice": 1, "nonce": 0, "chainId": 1}
    signed = signer.sign_transaction(tx)
    assert Account.recover_transaction(signed.raw_transaction) == GAS_ADDRESS


def test_an_unset_key_variable_is_a_user_error() -> None:
    assert str(load_error(EnvKey("K"), {})) == (
        "env var K is not set; export it with a hex private key"
    )


def test_a_malformed_key_is_refused_without_showing_it() -> None:
    bad = "0x" + "zz" * 32
    error = load_error(EnvKey("K"), {"K": bad})
    assert "env var K is not a hex private key" in str(error)
    assert bad not in str(error)


def test_a_key_outside_the_curve_order_is_refused_without_showing_it() -> None:
    zero = "0x" + "00" * 32
    error = load_error(EnvKey("K"), {"K": zero})
    assert "is not a valid secp256k1 private key" in str(error)
    shown = "".join(traceback.format_exception(error))
    assert "00" * 32 not in shown


def test_a_key_loads_from_a_keystore(tmp_path: Path) -> None:
    path = write_keystore(tmp_path / "k.json", TEST_KEY_GAS)
    signer = load_signer(KeystoreKey(path, "PW"), {"PW": PASSWORD})
    assert signer.address == GAS_ADDRESS


def test_a_wrong_keystore_password_is_a_user_error(tmp_path: Path) -> None:
    path = write_keystore(tmp_path / "k.json", TEST_KEY_GAS)
    error = load_error(KeystoreKey(path, "PW"), {"PW": "wrong"})
    assert f"keystore {path} does not open with the password in PW" in str(error)


def test_a_missing_keystore_password_variable_is_a_user_error(tmp_path: Path) -> None:
    path = write_keystore(tmp_path / "k.json", TEST_KEY_GAS)
    error = load_error(KeystoreKey(path, "PW"), {})
    assert "password env var PW is not set" in str(error)


def test_a_missing_keystore_file_is_a_user_error(tmp_path: Path) -> None:
    error = load_error(KeystoreKey(tmp_path / "nope.json", "PW"), {"PW": PASSWORD})
    assert f"keystore {tmp_path / 'nope.json'} not found" in str(error)


def test_a_keystore_that_is_not_json_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text("not json")
    error = load_error(KeystoreKey(path, "PW"), {"PW": PASSWORD})
    assert "is not a readable JSON keystore" in str(error)


def test_load_keys_loads_two_different_keys() -> None:
    keys = load_keys(EnvKey("A"), EnvKey("G"), {"A": TEST_KEY_ATTESTER, "G": TEST_KEY_GAS})
    assert (keys.attestation.address, keys.gas.address) == (ATTESTER_ADDRESS, GAS_ADDRESS)
    assert TEST_KEY_GAS[2:] not in repr(keys)


def test_load_keys_refuses_one_key_in_both_roles(tmp_path: Path) -> None:
    path = write_keystore(tmp_path / "k.json", TEST_KEY_ATTESTER)
    with pytest.raises(UserError) as info:
        load_keys(EnvKey("A"), KeystoreKey(path, "PW"), {"A": TEST_KEY_ATTESTER, "PW": PASSWORD})
    assert f"the attestation and gas keys are the same key ({ATTESTER_ADDRESS})" in str(info.value)


def test_signers_compare_by_address() -> None:
    first = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    second = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER[2:]})
    assert first == second
    assert len({first, second}) == 1
    assert isinstance(first, Signer)
