"""pvd.protocol.messages and pvd.protocol.attestation agree byte for byte with the contracts.

The vectors in tests/pvd/protocol/golden/ were computed by MessageCodec and MessageAttestation
themselves (scripts/golden_messages.py through MessageCodecHarness); the contract test
tests/contracts/unit/bridge/test_golden_vectors.py checks that they still are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from pvd.protocol import attestation
from pvd.protocol.messages import (
    Message,
    MessageFormatError,
    PaymentHeld,
    PaymentSettled,
    TradeOutcome,
    validate_message,
)

GOLDEN = Path(__file__).parent / "golden"
MESSAGES = json.loads((GOLDEN / "messages.json").read_text())
ATTESTATIONS = json.loads((GOLDEN / "attestations.json").read_text())


def _hex(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def _body(kind: int, fields: dict[str, Any]) -> PaymentHeld | TradeOutcome | PaymentSettled:
    common = {"trade_id": _hex(fields["tradeId"]), "hold_id": _hex(fields["holdId"])}
    if kind == 1:
        return PaymentHeld(
            **common,
            payer=fields["payer"],
            payee=fields["payee"],
            token=fields["token"],
            amount=fields["amount"],
            expiry=fields["expiry"],
        )
    if kind == 2:
        return TradeOutcome(
            **common,
            outcome=fields["outcome"],
            payer=fields["payer"],
            payee=fields["payee"],
            amount=fields["amount"],
            expiry=fields["expiry"],
        )
    return PaymentSettled(**common, result=fields["result"], amount=fields["amount"])


def _message(vector: dict[str, Any]) -> Message:
    header = vector["header"]
    return Message.of(
        source_domain=header["sourceDomain"],
        source_app=header["sourceApp"],
        destination_domain=header["destinationDomain"],
        destination_app=header["destinationApp"],
        nonce=header["nonce"],
        body=_body(header["kind"], vector["body_fields"]),
    )


def _domain(data: dict[str, Any]) -> attestation.InboxDomain:
    return attestation.InboxDomain(
        data["chainId"], data["inbox"], data["domain"], _hex(data["deploymentId"])
    )


VALID = {v["name"]: v for v in MESSAGES["valid"]}
INVALID = {v["name"]: v for v in MESSAGES["invalid"]}
SIGNED = {v["name"]: v for v in ATTESTATIONS["attestations"]}


@pytest.mark.parametrize("name", VALID)
def test_python_encodes_each_golden_message_as_the_contract_does(name: str) -> None:
    vector = VALID[name]
    message = _message(vector)
    assert message.body == _hex(vector["body"])
    assert message.encode() == _hex(vector["encoding"])
    assert len(message.encode()) == vector["length"]


@pytest.mark.parametrize("name", VALID)
def test_python_computes_each_golden_message_id(name: str) -> None:
    assert _message(VALID[name]).id == _hex(VALID[name]["id"])


@pytest.mark.parametrize("name", VALID)
def test_python_decodes_each_golden_encoding_to_its_fields(name: str) -> None:
    vector = VALID[name]
    decoded = Message.decode(_hex(vector["encoding"]))
    assert decoded == _message(vector)
    assert decoded.decoded_body() == _body(vector["header"]["kind"], vector["body_fields"])


@pytest.mark.parametrize("name", VALID)
def test_python_classifies_refunds_as_the_contract_does(name: str) -> None:
    assert _message(VALID[name]).is_refund() is VALID[name]["is_refund"]


@pytest.mark.parametrize("name", INVALID)
def test_python_rejects_each_invalid_golden_encoding_with_the_contract_error(name: str) -> None:
    vector = INVALID[name]
    with pytest.raises(MessageFormatError) as raised:
        validate_message(_hex(vector["encoding"]))
    expected = vector["error"]
    assert raised.value.name == expected["name"]
    shown = ["0x" + v.hex() if isinstance(v, bytes) else v for v in raised.value.values]
    assert shown == expected["args"]


def test_python_computes_the_golden_domain_separators() -> None:
    domain = _domain(ATTESTATIONS["inbox_domain"])
    twin = _domain(ATTESTATIONS["twin_domain"])
    assert attestation.domain_separator(domain) == _hex(ATTESTATIONS["domain_separator"])
    assert attestation.domain_separator(twin) == _hex(ATTESTATIONS["twin_domain_separator"])
    other = _domain(ATTESTATIONS["other_deployment"])
    assert attestation.domain_separator(other) == _hex(
        ATTESTATIONS["other_deployment_domain_separator"]
    )
    assert len({domain, twin, other}) == 3


@pytest.mark.parametrize("name", SIGNED)
def test_python_computes_the_golden_struct_hash_and_digests(name: str) -> None:
    vector = SIGNED[name]
    message = Message.decode(_hex(vector["encoding"]))
    domain = _domain(ATTESTATIONS["inbox_domain"])
    twin = _domain(ATTESTATIONS["twin_domain"])
    assert attestation.struct_hash(message, domain) == _hex(vector["struct_hash"])
    assert attestation.digest(message, domain) == _hex(vector["digest"])
    assert attestation.digest(message, twin) == _hex(vector["twin_digest"])
    other = _domain(ATTESTATIONS["other_deployment"])
    assert attestation.digest(message, other) == _hex(vector["other_deployment_digest"])


@pytest.mark.parametrize("name", SIGNED)
def test_python_signs_each_golden_message_with_the_golden_signature(name: str) -> None:
    vector = SIGNED[name]
    message = Message.decode(_hex(vector["encoding"]))
    domain = _domain(ATTESTATIONS["inbox_domain"])
    for entry in vector["signatures"]:
        account = Account.from_key(entry["test_key"])  # TEST KEY (anvil mnemonic)
        assert attestation.sign(message, domain, account) == _hex(entry["signature"])


@pytest.mark.parametrize("name", SIGNED)
def test_python_recovers_the_signer_the_contract_recovers(name: str) -> None:
    vector = SIGNED[name]
    message = Message.decode(_hex(vector["encoding"]))
    domain = _domain(ATTESTATIONS["inbox_domain"])
    twin = _domain(ATTESTATIONS["twin_domain"])
    for entry in vector["signatures"]:
        signature = _hex(entry["signature"])
        assert attestation.recover(message, domain, signature) == entry["signer"]
        assert attestation.recover(message, twin, signature) == entry["signer_under_twin_domain"]
        assert entry["signer_under_twin_domain"] != entry["signer"]
        other = _domain(ATTESTATIONS["other_deployment"])
        recovered = attestation.recover(message, other, signature)
        assert recovered == entry["signer_under_other_deployment"] != entry["signer"]


@pytest.mark.parametrize("name", SIGNED)
def test_python_rejects_the_high_s_twin_as_the_contract_does(name: str) -> None:
    vector = SIGNED[name]
    message = Message.decode(_hex(vector["encoding"]))
    domain = _domain(ATTESTATIONS["inbox_domain"])
    for entry in vector["signatures"]:
        with pytest.raises(attestation.InboxSignatureInvalid) as raised:
            attestation.recover(message, domain, _hex(entry["high_s_twin"]))
        assert raised.value.values == (0, entry["high_s_recover_error"])
        assert entry["high_s_recover_error"] == attestation.RECOVER_INVALID_S
