"""Golden message vectors, generated THROUGH the contracts.

Deploys MessageCodecHarness and asks it (MessageCodec and MessageAttestation, the code the
Outbox and Inbox run) for every encoding, id, struct hash, domain separator, digest,
recovered signer and revert; pvd/protocol/messages.py and pvd/protocol/attestation.py must
then agree byte for byte (tests/pvd/protocol/test_messages_golden.py). Signatures are made
with eth-account from well-known development keys (TEST KEYS ONLY) and recovered by the
contract.

    .venv/bin/python scripts/golden_messages.py    # own anvil on a free port; rewrites
                                                   # tests/pvd/protocol/golden/*.json
    brownie run scripts/golden_messages.py         # the same on brownie's pvd-dev network

tests/contracts/unit/bridge/test_golden_vectors.py regenerates the vectors in every
contract test run and compares them with the committed files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils.crypto import keccak

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "pvd" / "protocol" / "golden"

# TEST KEYS ONLY: anvil's "test test ... junk" mnemonic, indices 10..12.
TEST_KEYS = {
    "anvil-10": "0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897",
    "anvil-11": "0x701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82",
    "anvil-12": "0xa267530f49f8280200edf313ee7af6b827f2a8bce2897751d06a843f644967b1",
}

# Where the golden signatures are valid: an inbox on domain 1 of chain 31337 at a fixed
# address, and its twin at the same address on domain 2 (the replay the salt prevents).
INBOX_DOMAIN = {
    "chainId": 31337,
    "inbox": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "domain": 1,
    "deploymentId": "0x" + "d1" * 32,  # a fixed stand-in for a deployment's random id
}
TWIN_DOMAIN = {**INBOX_DOMAIN, "domain": 2}
# The same chain id, inbox address and domain id, another deployment.
OTHER_DEPLOYMENT = {**INBOX_DOMAIN, "deploymentId": "0x" + "d2" * 32}

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

ERRORS = {
    "MessageTooShort": ["uint256", "uint256"],
    "MessageVersionUnsupported": ["uint8", "uint8"],
    "MessageKindUnknown": ["uint8"],
    "MessageBodyLength": ["uint8", "uint256", "uint256"],
    "MessageBodyWordInvalid": ["uint8", "uint256", "bytes32"],
}
_SELECTORS = {
    keccak(text=f"{name}({','.join(types)})")[:4]: (name, types) for name, types in ERRORS.items()
}


def _w(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _addr(value: str) -> bytes:
    return _w(int(value, 16))


# The valid vectors: header fields and a body given field by field. The first one is the
# example worked out by hand in docs/messages.md.
VALID: list[dict[str, Any]] = [
    {
        "name": "trade_outcome_delivered",
        "header": {
            "version": 1,
            "sourceDomain": 2,
            "sourceApp": "0x2222222222222222222222222222222222222222",
            "destinationDomain": 1,
            "destinationApp": "0x1111111111111111111111111111111111111111",
            "nonce": 7,
            "kind": 2,
        },
        "body": {
            "tradeId": "0x" + "aa" * 32,
            "holdId": "0x" + "bb" * 32,
            "outcome": 1,
            "payer": "0x3333333333333333333333333333333333333333",
            "payee": "0x4444444444444444444444444444444444444444",
            "amount": 1234567,
            "expiry": 1767225600,
        },
    },
    {
        "name": "payment_held",
        "header": {
            "version": 1,
            "sourceDomain": 1,
            "sourceApp": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
            "destinationDomain": 2,
            "destinationApp": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
            "nonce": 0,
            "kind": 1,
        },
        "body": {
            "tradeId": "0x" + keccak(text="pvd trade 1").hex(),
            "holdId": "0x" + keccak(text="pvd hold 1").hex(),
            "payer": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
            "payee": "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
            "token": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "amount": 50_000_00,
            "expiry": 1767225600,
        },
    },
    {
        "name": "payment_settled_refunded",
        "header": {
            "version": 1,
            "sourceDomain": 1,
            "sourceApp": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
            "destinationDomain": 2,
            "destinationApp": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
            "nonce": 1,
            "kind": 3,
        },
        "body": {
            "tradeId": "0x" + keccak(text="pvd trade 1").hex(),
            "holdId": "0x" + keccak(text="pvd hold 1").hex(),
            "result": 2,
            "amount": 50_000_00,
        },
    },
    {
        "name": "trade_outcome_expired_at_every_maximum",
        "header": {
            "version": 1,
            "sourceDomain": 2**32 - 1,
            "sourceApp": "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF",
            "destinationDomain": 2**32 - 1,
            "destinationApp": "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF",
            "nonce": 2**64 - 1,
            "kind": 2,
        },
        "body": {
            "tradeId": "0x" + "ff" * 32,
            "holdId": "0x" + "ff" * 32,
            "outcome": 2,
            "payer": "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF",
            "payee": "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF",
            "amount": 2**256 - 1,
            "expiry": 2**64 - 1,
        },
    },
    {
        "name": "payment_settled_paid_at_every_minimum",
        "header": {
            "version": 1,
            "sourceDomain": 0,
            "sourceApp": "0x0000000000000000000000000000000000000000",
            "destinationDomain": 0,
            "destinationApp": "0x0000000000000000000000000000000000000000",
            "nonce": 0,
            "kind": 3,
        },
        "body": {"tradeId": "0x" + "00" * 32, "holdId": "0x" + "00" * 32, "result": 1, "amount": 0},
    },
    {
        "name": "trade_outcome_rejected",
        "header": {
            "version": 1,
            "sourceDomain": 2,
            "sourceApp": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
            "destinationDomain": 1,
            "destinationApp": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
            "nonce": 42,
            "kind": 2,
        },
        "body": {
            "tradeId": "0x" + keccak(text="pvd trade 2").hex(),
            "holdId": "0x" + keccak(text="pvd hold 2").hex(),
            "outcome": 3,
            "payer": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
            "payee": "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
            "amount": 1,
            "expiry": 1767225601,
        },
    },
]


def _body_bytes(harness: Any, kind: int, body: dict[str, Any]) -> bytes:
    """The body encoded by MessageCodec's own encoder for its kind."""
    if kind == 1:
        fields = ("tradeId", "holdId", "payer", "payee", "token", "amount", "expiry")
        return bytes(harness.encodePaymentHeld(tuple(body[f] for f in fields)))
    if kind == 2:
        fields = ("tradeId", "holdId", "outcome", "payer", "payee", "amount", "expiry")
        return bytes(harness.encodeTradeOutcome(tuple(body[f] for f in fields)))
    fields = ("tradeId", "holdId", "result", "amount")
    return bytes(harness.encodePaymentSettled(tuple(body[f] for f in fields)))


def _header_tuple(header: dict[str, Any], body: bytes) -> tuple[Any, ...]:
    keys = (
        "version",
        "sourceDomain",
        "sourceApp",
        "destinationDomain",
        "destinationApp",
        "nonce",
        "kind",
    )
    return (*(header[k] for k in keys), body)


def _revert(web3: Any, to: str, data: str) -> dict[str, Any] | None:
    """eth_call; None if it succeeds, else the custom error's name and arguments."""
    response = web3.provider.make_request("eth_call", [{"to": to, "data": data}, "latest"])
    if "error" not in response:
        return None
    raw = response["error"].get("data")
    if isinstance(raw, dict):
        raw = raw.get("data")
    payload = bytes.fromhex(raw[2:])
    name, types = _SELECTORS[payload[:4]]
    args = ["0x" + a.hex() if isinstance(a, bytes) else a for a in abi_decode(types, payload[4:])]
    return {"name": name, "args": args, "revert_data": raw}


def _invalid_cases(valid: dict[str, bytes]) -> list[tuple[str, bytes]]:
    outcome = valid["trade_outcome_delivered"]
    held = valid["payment_held"]
    settled = valid["payment_settled_refunded"]

    def word(encoding: bytes, index: int, value: bytes) -> bytes:
        start = 58 + 32 * index
        return encoding[:start] + value + encoding[start + 32 :]

    return [
        ("empty", b""),
        ("header_minus_one_byte", outcome[:57]),
        ("header_only", outcome[:58]),
        ("version_0", b"\x00" + outcome[1:]),
        ("version_2", b"\x02" + outcome[1:]),
        ("kind_0", outcome[:57] + b"\x00" + outcome[58:]),
        ("kind_4", outcome[:57] + b"\x04" + outcome[58:]),
        ("kind_255", outcome[:57] + b"\xff" + outcome[58:]),
        ("truncated_by_one_byte", outcome[:-1]),
        ("truncated_by_one_word", outcome[:-32]),
        ("padded_by_one_zero_byte", outcome + b"\x00"),
        ("padded_by_one_word", outcome + b"\x00" * 32),
        ("settled_body_under_outcome_kind", outcome[:57] + b"\x02" + settled[58:]),
        ("outcome_none", word(outcome, 2, _w(0))),
        ("outcome_4", word(outcome, 2, _w(4))),
        ("payer_with_dirty_high_bits", word(outcome, 3, b"\x01" + _addr("0x" + "33" * 20)[1:])),
        ("payee_with_dirty_high_bits", word(outcome, 4, _w(2**160))),
        ("expiry_over_uint64", word(outcome, 6, _w(2**64))),
        ("held_token_with_dirty_high_bits", word(held, 4, b"\xff" * 32)),
        ("held_expiry_over_uint64", word(held, 6, b"\xff" * 32)),
        ("settled_result_none", word(settled, 2, _w(0))),
        ("settled_result_3", word(settled, 2, _w(3))),
    ]


def _high_s(signature: bytes) -> bytes:
    """The malleable twin of a signature: s' = n - s, v flipped."""
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def build_vectors(harness: Any, web3: Any) -> dict[str, Any]:
    """Every golden vector, computed by the harness (and eth-account for signatures)."""
    from pvd.protocol.attestation import InboxDomain, typed_data
    from pvd.protocol.messages import Message

    messages: list[dict[str, Any]] = []
    encodings: dict[str, bytes] = {}
    for case in VALID:
        header = case["header"]
        body = _body_bytes(harness, header["kind"], case["body"])
        encoding = bytes(harness.encodeMessage(_header_tuple(header, body)))
        formatted = bytes(
            harness.formatMessage(*(_header_tuple(header, body)[1:]))
        )  # what an outbox emits
        assert formatted == encoding, case["name"]
        decoded = harness.decodeMessage(encoding)
        assert bytes(decoded[7]) == body, case["name"]
        encodings[case["name"]] = encoding
        messages.append(
            {
                "name": case["name"],
                "header": header,
                "body_fields": case["body"],
                "body": "0x" + body.hex(),
                "encoding": "0x" + encoding.hex(),
                "length": len(encoding),
                "id": str(harness.messageId(encoding)),
                "is_refund": bool(harness.isRefund(encoding)),
            }
        )

    invalid = []
    for name, encoding in _invalid_cases(encodings):
        calldata = harness.validateMessage.encode_input(encoding)
        error = _revert(web3, harness.address, calldata)
        assert error is not None, name
        invalid.append({"name": name, "encoding": "0x" + encoding.hex(), "error": error})

    domain = InboxDomain(
        INBOX_DOMAIN["chainId"],
        INBOX_DOMAIN["inbox"],
        INBOX_DOMAIN["domain"],
        bytes.fromhex(INBOX_DOMAIN["deploymentId"][2:]),
    )
    attestations = []
    for entry in messages:
        encoding = bytes.fromhex(entry["encoding"][2:])
        message = Message.decode(encoding)
        digest = bytes(harness.attestationDigest(*INBOX_DOMAIN.values(), encoding))
        twin_digest = bytes(harness.attestationDigest(*TWIN_DOMAIN.values(), encoding))
        other_digest = bytes(harness.attestationDigest(*OTHER_DEPLOYMENT.values(), encoding))
        signatures = []
        for label, key in TEST_KEYS.items():
            signed = Account.sign_typed_data(key, full_message=typed_data(message, domain))
            signature = bytes(signed.signature)
            signer, error = harness.recoverSigner(digest, signature)
            assert error == 0, label
            twin_signer, _ = harness.recoverSigner(twin_digest, signature)
            other_signer, _ = harness.recoverSigner(other_digest, signature)
            _, high_s_error = harness.recoverSigner(digest, _high_s(signature))
            signatures.append(
                {
                    "test_key_label": label,
                    "test_key": key,
                    "signature": "0x" + signature.hex(),
                    "signer": str(signer),
                    "signer_under_twin_domain": str(twin_signer),
                    "signer_under_other_deployment": str(other_signer),
                    "high_s_twin": "0x" + _high_s(signature).hex(),
                    "high_s_recover_error": int(high_s_error),
                }
            )
        attestations.append(
            {
                "name": entry["name"],
                "encoding": entry["encoding"],
                "struct_hash": str(harness.structHash(encoding)),
                "digest": "0x" + digest.hex(),
                "twin_digest": "0x" + twin_digest.hex(),
                "other_deployment_digest": "0x" + other_digest.hex(),
                "signatures": signatures,
            }
        )
    return {
        "messages.json": {
            "generated_by": "brownie run scripts/golden_messages.py (MessageCodecHarness)",
            "valid": messages,
            "invalid": invalid,
        },
        "attestations.json": {
            "generated_by": "brownie run scripts/golden_messages.py (MessageCodecHarness)",
            "note": "test keys only: anvil's well-known development mnemonic",
            "inbox_domain": INBOX_DOMAIN,
            "twin_domain": TWIN_DOMAIN,
            "other_deployment": OTHER_DEPLOYMENT,
            "domain_separator": str(harness.domainSeparator(*INBOX_DOMAIN.values())),
            "twin_domain_separator": str(harness.domainSeparator(*TWIN_DOMAIN.values())),
            "other_deployment_domain_separator": str(
                harness.domainSeparator(*OTHER_DEPLOYMENT.values())
            ),
            "attestations": attestations,
        },
    }


def render(vectors: dict[str, Any]) -> dict[str, str]:
    """File name -> the exact text committed under tests/pvd/protocol/golden/."""
    return {name: json.dumps(data, indent=2) + "\n" for name, data in vectors.items()}


def main() -> None:
    from brownie import MessageCodecHarness, accounts, web3

    harness = MessageCodecHarness.deploy({"from": accounts[0]})
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in render(build_vectors(harness, web3)).items():
        (GOLDEN / name).write_text(text)
        print(f"wrote {(GOLDEN / name).relative_to(ROOT)}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    from brownie import network, project
    from brownie._config import CONFIG

    from pvd.chain.ports import free_port

    CONFIG.networks["pvd-dev"]["cmd_settings"]["port"] = free_port()
    loaded = project.load(ROOT, name="PvdProject")
    loaded.load_config()
    loaded._add_to_main_namespace()  # what `brownie run` does: `from brownie import X`
    network.connect("pvd-dev")
    try:
        main()
    finally:
        network.disconnect()
