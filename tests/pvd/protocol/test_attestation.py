"""pvd.protocol.attestation: signing, offline quorum verification and attester key loading.

Every key here is a well-known development key (anvil's mnemonic): TEST KEYS ONLY.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from pvd.protocol import attestation
from pvd.protocol.attestation import InboxDomain, typed_data
from pvd.protocol.messages import Message, Outcome, TradeOutcome

# TEST KEYS ONLY: anvil's "test test ... junk" mnemonic, indices 10..14.
TEST_KEYS = (
    "0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897",
    "0x701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82",
    "0xa267530f49f8280200edf313ee7af6b827f2a8bce2897751d06a843f644967b1",
    "0x47c99abed3324a2707c28affff1267e45918ec8c3f20b8aa892e8b065d2942dd",
)
ATTESTERS: list[LocalAccount] = sorted(
    (Account.from_key(k) for k in TEST_KEYS), key=lambda a: int(a.address, 16)
)
DEPLOYMENT = b"\xd1" * 32
INBOX = InboxDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 1, DEPLOYMENT)
MESSAGE = Message.of(
    2,
    "0x" + "22" * 20,
    1,
    "0x" + "11" * 20,
    3,
    TradeOutcome(
        b"\x01" * 32, b"\x02" * 32, Outcome.DELIVERED, "0x" + "33" * 20, "0x" + "44" * 20, 5, 9
    ),
)
MEMBERS = [a.address for a in ATTESTERS[:3]]


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record's message and extra fields, as one string."""
    return "\n".join(str(vars(record)) for record in caplog.records)


def _sig(account: LocalAccount, message: Message = MESSAGE, inbox: InboxDomain = INBOX) -> bytes:
    return attestation.sign(message, inbox, account)


def test_a_quorum_in_ascending_signer_order_verifies() -> None:
    signatures = _sig(ATTESTERS[0]) + _sig(ATTESTERS[2])
    signers = attestation.verify_quorum(MESSAGE, INBOX, signatures, MEMBERS, 2)
    assert signers == (ATTESTERS[0].address, ATTESTERS[2].address)


def test_signatures_out_of_order_are_refused() -> None:
    signatures = _sig(ATTESTERS[2]) + _sig(ATTESTERS[0])
    with pytest.raises(attestation.InboxSignerOutOfOrder) as raised:
        attestation.verify_quorum(MESSAGE, INBOX, signatures, MEMBERS, 2)
    assert raised.value.values == (1, ATTESTERS[0].address, ATTESTERS[2].address)


def test_a_duplicated_signer_is_refused() -> None:
    signatures = _sig(ATTESTERS[1]) * 2
    with pytest.raises(attestation.InboxSignerOutOfOrder) as raised:
        attestation.verify_quorum(MESSAGE, INBOX, signatures, MEMBERS, 2)
    assert raised.value.values[0] == 1


def test_a_signer_outside_the_set_is_refused() -> None:
    signatures = _sig(ATTESTERS[0]) + _sig(ATTESTERS[3])
    with pytest.raises(attestation.InboxSignerNotAttester) as raised:
        attestation.verify_quorum(MESSAGE, INBOX, signatures, MEMBERS, 2)
    assert raised.value.values == (1, ATTESTERS[3].address)


def test_too_few_signatures_are_refused() -> None:
    with pytest.raises(attestation.InboxSignaturesLength) as raised:
        attestation.verify_quorum(MESSAGE, INBOX, _sig(ATTESTERS[0]), MEMBERS, 2)
    assert raised.value.values == (65, 130)


def test_a_signature_for_another_domain_recovers_a_stranger() -> None:
    twin = InboxDomain(INBOX.chain_id, INBOX.inbox, 2, DEPLOYMENT)
    signatures = _sig(ATTESTERS[0], inbox=twin) + _sig(ATTESTERS[1], inbox=twin)
    with pytest.raises((attestation.InboxSignerNotAttester, attestation.InboxSignerOutOfOrder)):
        attestation.verify_quorum(MESSAGE, INBOX, signatures, MEMBERS, 2)


def test_a_message_for_another_domain_is_refused() -> None:
    other = Message.of(2, MESSAGE.source_app, 9, MESSAGE.destination_app, 3, MESSAGE.decoded_body())
    with pytest.raises(attestation.InboxWrongDestinationDomain) as raised:
        attestation.verify_quorum(other, INBOX, b"", MEMBERS, 2)
    assert raised.value.values == (9, 1)


def test_a_high_s_signature_is_refused() -> None:
    good = _sig(ATTESTERS[0])
    s = int.from_bytes(good[32:64], "big")
    malleable = (
        good[:32] + (attestation.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - good[64]])
    )
    with pytest.raises(attestation.InboxSignatureInvalid) as raised:
        attestation.recover(MESSAGE, INBOX, malleable)
    assert raised.value.values == (0, attestation.RECOVER_INVALID_S)


def test_a_bad_v_is_refused() -> None:
    bad = _sig(ATTESTERS[0])[:64] + b"\x01"
    with pytest.raises(attestation.InboxSignatureInvalid) as raised:
        attestation.recover(MESSAGE, INBOX, bad)
    assert raised.value.values == (0, attestation.RECOVER_INVALID_SIGNATURE)


def test_pack_signatures_sorts_dedupes_and_trims_to_the_threshold() -> None:
    sigs = [_sig(ATTESTERS[2]), _sig(ATTESTERS[0]), _sig(ATTESTERS[2]), _sig(ATTESTERS[1])]
    packed = attestation.pack_signatures(MESSAGE, INBOX, sigs, 2)
    assert packed == _sig(ATTESTERS[0]) + _sig(ATTESTERS[1])
    assert attestation.verify_quorum(MESSAGE, INBOX, packed, MEMBERS, 2)


def test_pack_signatures_with_too_few_signers_raises() -> None:
    with pytest.raises(attestation.InboxSignaturesLength):
        attestation.pack_signatures(MESSAGE, INBOX, [_sig(ATTESTERS[0])] * 3, 2)


def test_a_message_verifier_recovers_by_message_id() -> None:
    verifier = attestation.MessageVerifier(MESSAGE, INBOX)
    assert verifier.recover(MESSAGE.id, _sig(ATTESTERS[1])) == ATTESTERS[1].address


def test_a_message_verifier_refuses_another_message_id() -> None:
    verifier = attestation.MessageVerifier(MESSAGE, INBOX)
    with pytest.raises(ValueError, match="this verifier is for message"):
        verifier.recover(b"\x00" * 32, _sig(ATTESTERS[1]))


@settings(max_examples=60, deadline=None)
@given(
    source_domain=st.integers(0, 2**32 - 1),
    destination_domain=st.integers(0, 2**32 - 1),
    nonce=st.integers(0, 2**64 - 1),
    kind=st.integers(0, 255),
    body=st.binary(max_size=300),
    chain_id=st.integers(1, 2**64),
    salt_domain=st.integers(1, 2**32 - 1),
    deployment=st.binary(min_size=32, max_size=32),
)
def test_the_direct_digest_is_eth_accounts_eip712_digest(
    source_domain: int,
    destination_domain: int,
    nonce: int,
    kind: int,
    body: bytes,
    chain_id: int,
    salt_domain: int,
    deployment: bytes,
) -> None:
    """digest/struct_hash/domain_separator are computed without eth-account's encoder;
    they are exactly what that encoder makes of the same typed data."""
    message = Message(
        source_domain=source_domain,
        source_app="0x" + "ab" * 20,
        destination_domain=destination_domain,
        destination_app="0x" + "0c" * 20,
        nonce=nonce,
        kind=kind,
        body=body,
    )
    inbox = InboxDomain(chain_id, "0x" + "5e" * 20, salt_domain, deployment)
    signable = encode_typed_data(full_message=typed_data(message, inbox))
    assert attestation.struct_hash(message, inbox) == bytes(signable.body)
    assert attestation.domain_separator(inbox) == bytes(signable.header)
    assert attestation.digest(message, inbox) == bytes(
        keccak(b"\x19" + signable.version + signable.header + signable.body)
    )
