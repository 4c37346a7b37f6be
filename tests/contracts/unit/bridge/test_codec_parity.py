"""MessageCodec (Solidity) and pvd.protocol.messages (Python) agree on random messages and on
random byte strings: same encoding, same id, same digest, same verdict and error."""

from eth_abi import decode as abi_decode
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvd.protocol import attestation
from pvd.protocol.messages import (
    MessageFormatError,
    validate_message,
)
from tests.message_strategies import addresses, messages, uint32, words

ERRORS = {
    "MessageTooShort": ["uint256", "uint256"],
    "MessageVersionUnsupported": ["uint8", "uint8"],
    "MessageKindUnknown": ["uint8"],
    "MessageBodyLength": ["uint8", "uint256", "uint256"],
    "MessageBodyWordInvalid": ["uint8", "uint256", "bytes32"],
}
SELECTORS = {keccak(text=f"{n}({','.join(t)})")[:4]: (n, t) for n, t in ERRORS.items()}


def _solidity_verdict(web3, codec, data: bytes):
    """('ok', None) or (error name, args) from the harness's validateMessage."""
    call = {"to": codec.address, "data": codec.validateMessage.encode_input(data)}
    response = web3.provider.make_request("eth_call", [call, "latest"])
    if "error" not in response:
        return ("ok", None)
    raw = response["error"]["data"]
    raw = raw["data"] if isinstance(raw, dict) else raw
    payload = bytes.fromhex(raw[2:])
    name, types = SELECTORS[payload[:4]]
    return (name, tuple(abi_decode(types, payload[4:])))


def _python_verdict(data: bytes):
    try:
        validate_message(data)
    except MessageFormatError as exc:
        return (exc.name, exc.values)
    return ("ok", None)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages)
def test_solidity_and_python_encode_random_messages_identically(codec, message):
    fields = (
        message.source_domain,
        message.source_app,
        message.destination_domain,
        message.destination_app,
        message.nonce,
        int(message.kind),
        message.body,
    )
    encoding = bytes(codec.formatMessage(*fields))
    assert encoding == message.encode()
    assert bytes(codec.encodeMessage((message.version, *fields))) == encoding
    assert bytes(codec.messageId(encoding)) == message.id
    decoded = codec.decodeMessage(encoding)
    assert int(decoded[0]) == 1
    assert int(decoded[1]) == message.source_domain
    assert decoded[2] == message.source_app
    assert int(decoded[3]) == message.destination_domain
    assert decoded[4] == message.destination_app
    assert int(decoded[5]) == message.nonce
    assert int(decoded[6]) == message.kind
    assert bytes(decoded[7]) == message.body
    assert codec.isRefund(encoding) == message.is_refund()


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    message=messages,
    chain_id=st.integers(1, 2**64),
    inbox=addresses,
    domain=uint32,
    deployment=st.binary(min_size=32, max_size=32),
)
def test_solidity_and_python_compute_the_same_attestation_digest(
    codec, message, chain_id, inbox, domain, deployment
):
    where = attestation.InboxDomain(chain_id, inbox, domain, deployment)
    encoding = message.encode()
    separator = codec.domainSeparator(chain_id, inbox, domain, deployment)
    assert bytes(separator) == attestation.domain_separator(where)
    assert bytes(codec.structHash(encoding)) == attestation.struct_hash(message, where)
    digest = codec.attestationDigest(chain_id, inbox, domain, deployment, encoding)
    assert bytes(digest) == attestation.digest(message, where)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=messages, data=st.data())
def test_solidity_and_python_give_the_same_verdict_on_mutated_encodings(web3, codec, message, data):
    encoding = message.encode()
    mutation = data.draw(st.sampled_from(["truncate", "pad", "flip", "word"]))
    if mutation == "truncate":
        mutated = encoding[: data.draw(st.integers(0, len(encoding) - 1))]
    elif mutation == "pad":
        mutated = encoding + data.draw(st.binary(min_size=1, max_size=40))
    elif mutation == "flip":
        index = data.draw(st.integers(0, len(encoding) - 1))
        mutated = encoding[:index] + bytes([encoding[index] ^ 0xFF]) + encoding[index + 1 :]
    else:
        word = data.draw(st.integers(0, (len(encoding) - 58) // 32 - 1))
        start = 58 + 32 * word
        mutated = encoding[:start] + data.draw(words) + encoding[start + 32 :]
    assert _solidity_verdict(web3, codec, mutated) == _python_verdict(mutated)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_solidity_and_python_give_the_same_verdict_on_random_bytes(web3, codec, data):
    assert _solidity_verdict(web3, codec, data) == _python_verdict(data)
