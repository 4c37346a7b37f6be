"""docs/messages.md's hand-worked example is the golden vector, byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eth_utils.crypto import keccak

from pvd.protocol.messages import Message, Outcome, TradeOutcome

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "messages.md").read_text()
GOLDEN = json.loads((ROOT / "tests" / "pvd" / "protocol" / "golden" / "messages.json").read_text())
VECTOR = next(v for v in GOLDEN["valid"] if v["name"] == "trade_outcome_delivered")


def _worked_example_bytes() -> bytes:
    block = DOC.split("<!-- worked-example:begin -->")[1].split("<!-- worked-example:end -->")[0]
    lines = [line.split()[0] for line in block.splitlines() if re.match(r"^[0-9a-f]+\s", line)]
    return bytes.fromhex("".join(lines))


def test_the_worked_example_is_the_golden_encoding() -> None:
    assert _worked_example_bytes() == bytes.fromhex(VECTOR["encoding"][2:])


def test_the_worked_example_has_the_stated_length() -> None:
    assert len(_worked_example_bytes()) == 282


def test_the_documented_id_is_the_keccak_of_the_worked_example() -> None:
    documented = re.search(r"<!-- worked-example-id -->\s*id = .*?`(0x[0-9a-f]{64})`", DOC, re.S)
    assert documented is not None
    assert bytes(keccak(_worked_example_bytes())).hex() == documented.group(1)[2:]
    assert documented.group(1) == VECTOR["id"]


def test_the_worked_example_decodes_to_the_fields_the_doc_lists() -> None:
    message = Message.decode(_worked_example_bytes())
    assert (message.source_domain, message.destination_domain, message.nonce) == (2, 1, 7)
    assert message.decoded_body() == TradeOutcome(
        trade_id=b"\xaa" * 32,
        hold_id=b"\xbb" * 32,
        outcome=Outcome.DELIVERED,
        payer="0x" + "33" * 20,
        payee="0x" + "44" * 20,
        amount=1_234_567,
        expiry=1_767_225_600,
    )


def test_the_documented_attestation_values_are_the_golden_ones() -> None:
    attestations = json.loads(
        (ROOT / "tests" / "pvd" / "protocol" / "golden" / "attestations.json").read_text()
    )
    first = attestations["attestations"][0]
    for value in (attestations["domain_separator"], first["struct_hash"], first["digest"]):
        assert f"`{value}`" in DOC
