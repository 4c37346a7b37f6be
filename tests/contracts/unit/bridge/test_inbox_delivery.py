"""Inbox delivery: a valid m-of-n quorum delivers once; every bad input of a
message reverts with the inbox's error and changes nothing (C5, C6); a replay is a
clean no-op."""

import itertools

import brownie
import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from pvd.protocol import attestation
from pvd.protocol.messages import Outcome
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    BUSINESS_APP,
    BUSINESS_DOMAIN,
    FORGER,
    PAYMENT_DOMAIN,
    delivery_data,
    delivery_status,
    deploy_inbox,
    err,
    inbox_domain,
    inbox_state,
    is_consumed,
    outcome_message,
    sign,
)

DELIVERED, FAILED, ALREADY_CONSUMED, REJECTED = range(4)
STATUS_NONE, STATUS_DELIVERED, STATUS_FAILED = range(3)


def _quorum(inbox, message, signers=None):
    return sign(inbox, message, signers or ATTESTERS[:2])


def _assert_rejected(inbox, app, message, signatures, error, caller):
    """The delivery reverts with `error` and nothing observable changes."""
    before = (inbox_state(inbox, message), app.received())
    with brownie.reverts(error):
        inbox.deliver(message.encode(), signatures, {"from": caller})
    assert (inbox_state(inbox, message), app.received()) == before
    assert not is_consumed(inbox, message)


# --------------------------------------------------------------------------- valid


def test_a_two_of_three_quorum_delivers_the_message(wired_inbox, app, relayer):
    message = outcome_message(app)
    tx = wired_inbox.deliver(message.encode(), _quorum(wired_inbox, message), {"from": relayer})
    assert tx.return_value == DELIVERED
    assert tx.events["MessageDelivered"] == {
        "messageId": "0x" + message.id.hex(),
        "sourceDomain": BUSINESS_DOMAIN,
        "recipient": app,
        "deliverer": relayer,
    }
    received = tx.events["MessageReceived"]
    assert received["messageId"] == "0x" + message.id.hex()
    assert received["sourceDomain"] == BUSINESS_DOMAIN
    assert received["sourceApp"] == BUSINESS_APP
    assert received["kind"] == 2
    assert bytes(received["body"]) == message.body
    assert delivery_status(wired_inbox, message) == STATUS_DELIVERED
    assert is_consumed(wired_inbox, message)
    assert tuple(wired_inbox.failureOf(message.id)) == (STATUS_NONE, 0)
    assert app.received() == 1
    assert app.lastMessageId() == "0x" + message.id.hex()


@pytest.mark.parametrize("pair", list(itertools.combinations(range(3), 2)))
def test_any_two_of_the_three_attesters_form_a_quorum(wired_inbox, app, relayer, pair):
    message = outcome_message(app, nonce=sum(pair))
    signers = [ATTESTERS[i] for i in pair]
    tx = wired_inbox.deliver(
        message.encode(), sign(wired_inbox, message, signers), {"from": relayer}
    )
    assert "MessageDelivered" in tx.events
    assert app.received() == 1


def test_a_three_of_five_quorum_delivers_the_message(Inbox, MockApp, deployer, guardian, relayer):
    inbox = deploy_inbox(Inbox, deployer, guardian, PAYMENT_DOMAIN, ATTESTERS, 3)
    app = MockApp.deploy(inbox, {"from": deployer})
    inbox.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, app, {"from": deployer})
    message = outcome_message(app)
    signers = [ATTESTERS[0], ATTESTERS[2], ATTESTERS[4]]
    tx = inbox.deliver(message.encode(), sign(inbox, message, signers), {"from": relayer})
    assert tx.events["MessageDelivered"]["deliverer"] == relayer
    assert delivery_status(inbox, message) == STATUS_DELIVERED
    assert app.received() == 1


def test_delivery_is_permissionless(wired_inbox, app, stranger):
    message = outcome_message(app)
    tx = wired_inbox.deliver(message.encode(), _quorum(wired_inbox, message), {"from": stranger})
    assert tx.events["MessageDelivered"]["deliverer"] == stranger
    assert delivery_status(wired_inbox, message) == STATUS_DELIVERED


def test_the_inbox_digest_is_the_python_digest(wired_inbox, app):
    message = outcome_message(app)
    assert bytes(wired_inbox.attestationDigest(message.encode())) == attestation.digest(
        message, inbox_domain(wired_inbox)
    )
    assert bytes(wired_inbox.domainSeparator()) == attestation.domain_separator(
        inbox_domain(wired_inbox)
    )


def test_the_inbox_publishes_its_eip712_domain_with_domain_and_deployment_in_the_salt(
    wired_inbox, chain
):
    fields, name, version, chain_id, contract, salt, extensions = wired_inbox.eip712Domain()
    assert fields == "0x1f"
    assert (name, version) == ("pvd Inbox", "1")
    assert chain_id == chain.id
    assert contract == wired_inbox
    assert bytes(salt) == keccak(
        abi_encode(["uint32", "bytes32"], [PAYMENT_DOMAIN, bytes(wired_inbox.deploymentId())])
    )
    assert list(extensions) == []


# -------------------------------------------------------------------------- replay


def test_a_replayed_message_is_a_clean_no_op(wired_inbox, app, relayer, stranger):
    message = outcome_message(app)
    signatures = _quorum(wired_inbox, message)
    first = wired_inbox.deliver(message.encode(), signatures, {"from": relayer})
    before = (inbox_state(wired_inbox, message), app.received())
    tx = wired_inbox.deliver(message.encode(), signatures, {"from": stranger})
    assert tx.return_value == ALREADY_CONSUMED
    assert tx.events["MessageAlreadyConsumed"] == {
        "messageId": "0x" + message.id.hex(),
        "caller": stranger,
    }
    assert "MessageDelivered" not in tx.events
    assert "MessageReceived" not in tx.events
    assert (inbox_state(wired_inbox, message), app.received()) == before
    assert first.events["MessageDelivered"]["deliverer"] == relayer
    assert delivery_status(wired_inbox, message) == STATUS_DELIVERED


def test_a_replay_without_signatures_is_still_a_no_op(wired_inbox, app, relayer):
    message = outcome_message(app)
    wired_inbox.deliver(message.encode(), _quorum(wired_inbox, message), {"from": relayer})
    tx = wired_inbox.deliver(message.encode(), b"", {"from": relayer})
    assert tx.return_value == ALREADY_CONSUMED
    assert app.received() == 1


# -------------------------------------------------------------------- signatures


def test_a_forged_signature_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    signers = sorted([ATTESTERS[0], FORGER], key=lambda a: int(a.address, 16))
    index = signers.index(FORGER)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        sign(wired_inbox, message, signers),
        err("InboxSignerNotAttester", index, FORGER.address),
        relayer,
    )


def test_only_forged_signatures_are_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    signatures = sign(wired_inbox, message, [FORGER, FORGER])
    _assert_rejected(
        wired_inbox,
        app,
        message,
        signatures,
        err("InboxSignerNotAttester", 0, FORGER.address),
        relayer,
    )


def test_a_duplicated_signer_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    a = ATTESTERS[1]
    _assert_rejected(
        wired_inbox,
        app,
        message,
        sign(wired_inbox, message, [a, a]),
        err("InboxSignerOutOfOrder", 1, a.address, a.address),
        relayer,
    )


def test_signatures_out_of_order_are_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    low, high = ATTESTERS[0], ATTESTERS[2]
    _assert_rejected(
        wired_inbox,
        app,
        message,
        sign(wired_inbox, message, [high, low]),
        err("InboxSignerOutOfOrder", 1, low.address, high.address),
        relayer,
    )


def test_a_high_s_signature_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    good = sign(wired_inbox, message, [ATTESTERS[0]])
    s = int.from_bytes(good[32:64], "big")
    malleable = (
        good[:32] + (attestation.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - good[64]])
    )
    signatures = malleable + sign(wired_inbox, message, [ATTESTERS[1]])
    _assert_rejected(
        wired_inbox, app, message, signatures, err("InboxSignatureInvalid", 0, 3), relayer
    )


def test_a_signature_with_an_invalid_v_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    signatures = bytearray(_quorum(wired_inbox, message))
    signatures[64 + 65] = 29
    _assert_rejected(
        wired_inbox, app, message, bytes(signatures), err("InboxSignatureInvalid", 1, 1), relayer
    )


def test_a_single_signature_below_the_threshold_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        sign(wired_inbox, message, [ATTESTERS[0]]),
        err("InboxSignaturesLength", 65, 130),
        relayer,
    )


def test_no_signatures_are_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    _assert_rejected(wired_inbox, app, message, b"", err("InboxSignaturesLength", 0, 130), relayer)


def test_more_signatures_than_the_threshold_are_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        sign(wired_inbox, message, ATTESTERS[:3]),
        err("InboxSignaturesLength", 195, 130),
        relayer,
    )


def test_a_signature_with_a_stray_byte_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        _quorum(wired_inbox, message) + b"\x00",
        err("InboxSignaturesLength", 131, 130),
        relayer,
    )


def test_signatures_over_another_message_are_rejected(wired_inbox, app, relayer):
    message = outcome_message(app, nonce=1)
    other = outcome_message(app, nonce=2)
    signatures = _quorum(wired_inbox, other)
    digest = attestation.digest(message, inbox_domain(wired_inbox))
    first = _recover(digest, signatures[:65])
    _assert_rejected(wired_inbox, app, message, signatures, _signer_error(first), relayer)


def test_an_attester_removed_by_rotation_cannot_sign(wired_inbox, app, deployer, relayer, chain):
    removed = ATTESTERS[0]
    new_set = [a.address for a in ATTESTERS[1:4]]
    wired_inbox.proposeAttesterSet(new_set, 2, {"from": deployer})
    chain.sleep(wired_inbox.governanceDelay() + 1)
    wired_inbox.applyAttesterSet({"from": relayer})
    assert not wired_inbox.isAttester(removed.address)
    message = outcome_message(app)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        sign(wired_inbox, message, [removed, ATTESTERS[1]]),
        err("InboxSignerNotAttester", 0, removed.address),
        relayer,
    )


def test_an_attester_added_by_rotation_can_sign(wired_inbox, app, deployer, relayer, chain):
    wired_inbox.proposeAttesterSet([a.address for a in ATTESTERS[1:4]], 2, {"from": deployer})
    chain.sleep(wired_inbox.governanceDelay() + 1)
    wired_inbox.applyAttesterSet({"from": relayer})
    message = outcome_message(app)
    tx = wired_inbox.deliver(
        message.encode(),
        sign(wired_inbox, message, [ATTESTERS[1], ATTESTERS[3]]),
        {"from": relayer},
    )
    assert "MessageDelivered" in tx.events


# --------------------------------------------------------------- source / destination


def test_a_message_from_an_unregistered_source_app_is_rejected(wired_inbox, app, relayer):
    stranger_app = "0x" + "5a" * 20
    message = outcome_message(app, source_app=stranger_app)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        _quorum(wired_inbox, message),
        err("InboxUnknownSource", BUSINESS_DOMAIN, to_checksum_address(stranger_app)),
        relayer,
    )


def test_a_message_from_an_unregistered_source_domain_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app, source_domain=9)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        _quorum(wired_inbox, message),
        err("InboxUnknownSource", 9, BUSINESS_APP),
        relayer,
    )


def test_a_message_for_another_destination_domain_is_rejected(wired_inbox, app, relayer):
    message = outcome_message(app, destination_domain=BUSINESS_DOMAIN)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        _quorum(wired_inbox, message),
        err("InboxWrongDestinationDomain", BUSINESS_DOMAIN, PAYMENT_DOMAIN),
        relayer,
    )


def test_a_message_naming_another_recipient_is_rejected(wired_inbox, app, relayer, stranger):
    message = outcome_message(stranger)
    _assert_rejected(
        wired_inbox,
        app,
        message,
        _quorum(wired_inbox, message),
        err("InboxWrongRecipient", stranger.address, app.address),
        relayer,
    )


def test_a_message_for_another_inbox_deployment_is_rejected_there(
    Inbox, MockApp, wired_inbox, app, deployer, guardian, relayer
):
    """Two inbox deployments on one chain, domains 1 and 3: a message (and its quorum) for
    the first is refused by the second, which the same attesters serve."""
    other = deploy_inbox(Inbox, deployer, guardian, 3, ATTESTERS[:3], 2)
    other_app = MockApp.deploy(other, {"from": deployer})
    other.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, other_app, {"from": deployer})
    message = outcome_message(app)
    signatures = _quorum(wired_inbox, message)
    before = (inbox_state(other, message), other_app.received())
    with brownie.reverts(err("InboxWrongDestinationDomain", PAYMENT_DOMAIN, 3)):
        other.deliver(message.encode(), signatures, {"from": relayer})
    assert (inbox_state(other, message), other_app.received()) == before


def test_signatures_for_a_twin_inbox_at_the_same_address_on_another_domain_are_rejected(
    wired_inbox, app, relayer
):
    """Two eth-tester chains share a chain id and can host an inbox at the same address;
    only the salt (the domain id) tells their signatures apart. Signatures made for the
    twin on domain 2 at this very address and chain id do not verify here."""
    message = outcome_message(app)
    twin_signatures = sign(wired_inbox, message, ATTESTERS[:2], domain=BUSINESS_DOMAIN)
    digest = attestation.digest(message, inbox_domain(wired_inbox))
    first = _recover(digest, twin_signatures[:65])
    assert first not in {a.address for a in ATTESTERS}
    _assert_rejected(
        wired_inbox,
        app,
        message,
        twin_signatures,
        _signer_error(first),
        relayer,
    )


# -------------------------------------------------------------------------- encoding


def _mutations(message):
    encoding = message.encode()
    return {
        "truncated_by_one_byte": (encoding[:-1], err("MessageBodyLength", 2, 223, 224)),
        "truncated_to_the_header": (encoding[:58], err("MessageBodyLength", 2, 0, 224)),
        "shorter_than_the_header": (encoding[:40], err("MessageTooShort", 40, 58)),
        "padded_by_one_byte": (encoding + b"\x00", err("MessageBodyLength", 2, 225, 224)),
        "padded_by_one_word": (encoding + b"\x00" * 32, err("MessageBodyLength", 2, 256, 224)),
        "wrong_version": (b"\x02" + encoding[1:], err("MessageVersionUnsupported", 2, 1)),
        "unknown_kind": (encoding[:57] + b"\x07" + encoding[58:], err("MessageKindUnknown", 7)),
        "outcome_none": (
            encoding[:122] + b"\x00" * 32 + encoding[154:],
            err("MessageBodyWordInvalid", 2, 2, b"\x00" * 32),
        ),
        "payee_with_dirty_high_bits": (
            encoding[:186] + b"\x01" + encoding[187:],
            err("MessageBodyWordInvalid", 2, 4, b"\x01" + encoding[187:218]),
        ),
    }


@pytest.mark.parametrize("case", list(_mutations(outcome_message("0x" + "00" * 20))))
def test_a_malformed_encoding_is_rejected(wired_inbox, app, relayer, case):
    message = outcome_message(app)
    encoding, error = _mutations(message)[case]
    signatures = _quorum(wired_inbox, message)
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts(error):
        wired_inbox.deliver(encoding, signatures, {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before


# --------------------------------------------------------------------------- helpers


def _recover(digest, signature):
    from eth_keys.datatypes import Signature

    v, r, s = signature[64] - 27, signature[:32], signature[32:64]
    key = Signature(vrs=(v, int.from_bytes(r, "big"), int.from_bytes(s, "big")))
    return key.recover_public_key_from_msg_hash(digest).to_checksum_address()


def _signer_error(first):
    """The error the inbox raises for a quorum whose first recovered signer is `first`
    (not an attester): NotAttester(0), since any address is above zero."""
    assert first not in {a.address for a in ATTESTERS}
    return err("InboxSignerNotAttester", 0, first)


def test_the_refund_outcomes_are_recognised(codec, app):
    for outcome, refund in (
        (Outcome.DELIVERED, False),
        (Outcome.EXPIRED, True),
        (Outcome.REJECTED, True),
    ):
        message = outcome_message(app, outcome=outcome)
        assert codec.isRefund(message.encode()) is refund


# ------------------------------------------------------------------ consumed markers


def test_consecutive_nonces_have_their_own_bits(wired_inbox, app, relayer):
    """Each message is one bit of its (source domain, app, nonce / 256) word: delivering
    nonces 3 and 5 marks exactly those two, across a word boundary too (255, 256)."""
    for nonce in (3, 5, 255, 256):
        message = outcome_message(app, nonce=nonce)
        wired_inbox.deliver(message.encode(), _quorum(wired_inbox, message), {"from": relayer})
    consumed = {
        n: bool(wired_inbox.isConsumed(BUSINESS_DOMAIN, BUSINESS_APP, n))
        for n in (2, 3, 4, 5, 6, 254, 255, 256, 257, 511, 512)
    }
    assert consumed == {n: n in (3, 5, 255, 256) for n in consumed}
    assert not wired_inbox.isConsumed(BUSINESS_DOMAIN, app.address, 3)
    assert not wired_inbox.isConsumed(PAYMENT_DOMAIN, BUSINESS_APP, 3)


def test_the_largest_nonce_is_consumed_and_replayed_like_any_other(wired_inbox, app, relayer):
    message = outcome_message(app, nonce=2**64 - 1)
    signatures = _quorum(wired_inbox, message)
    assert wired_inbox.deliver(message.encode(), signatures, {"from": relayer}).return_value == (
        DELIVERED
    )
    assert wired_inbox.isConsumed(BUSINESS_DOMAIN, BUSINESS_APP, 2**64 - 1)
    assert not wired_inbox.isConsumed(BUSINESS_DOMAIN, BUSINESS_APP, 2**64 - 2)
    tx = wired_inbox.deliver(message.encode(), signatures, {"from": relayer})
    assert tx.return_value == ALREADY_CONSUMED
    assert app.received() == 1


def test_another_message_with_a_consumed_nonce_is_never_delivered(wired_inbox, app, relayer):
    """The replay guard is the (source domain, app, nonce) bit: a different message under
    a consumed nonce (only a quorum signing something its outbox never sent could make
    one) is a no-op, and the status view reads that nonce as consumed."""
    message = outcome_message(app, nonce=7)
    wired_inbox.deliver(message.encode(), _quorum(wired_inbox, message), {"from": relayer})
    other = outcome_message(app, nonce=7, amount=1)
    assert other.id != message.id
    before = (inbox_state(wired_inbox, message, other), app.received())
    tx = wired_inbox.deliver(other.encode(), _quorum(wired_inbox, other), {"from": relayer})
    assert tx.return_value == ALREADY_CONSUMED
    assert tx.events["MessageAlreadyConsumed"]["messageId"] == "0x" + other.id.hex()
    assert (inbox_state(wired_inbox, message, other), app.received()) == before
    assert delivery_status(wired_inbox, other) == STATUS_DELIVERED


def test_the_same_nonce_from_another_source_app_is_another_message(
    Inbox, MockApp, deployer, guardian, relayer
):
    inbox = deploy_inbox(Inbox, deployer, guardian, PAYMENT_DOMAIN, ATTESTERS[:3], 2)
    other_app = "0x" + "ab" * 20
    first_app, second_app = (MockApp.deploy(inbox, {"from": deployer}) for _ in range(2))
    inbox.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, first_app, {"from": deployer})
    inbox.proposePeer(BUSINESS_DOMAIN, other_app, second_app, {"from": deployer})
    first = outcome_message(first_app, nonce=1)
    inbox.deliver(first.encode(), _quorum(inbox, first), {"from": relayer})
    message = outcome_message(second_app, nonce=1, source_app=other_app)
    tx = inbox.deliver(message.encode(), _quorum(inbox, message), {"from": relayer})
    assert tx.return_value == DELIVERED
    assert (first_app.received(), second_app.received()) == (1, 1)
    assert inbox.isConsumed(BUSINESS_DOMAIN, BUSINESS_APP, 1)
    assert inbox.isConsumed(BUSINESS_DOMAIN, other_app, 1)


def test_the_status_view_refuses_an_invalid_encoding(wired_inbox, app):
    message = outcome_message(app)
    with brownie.reverts():
        wired_inbox.deliveryStatus(message.encode() + b"\x00")


# ------------------------------------------------- the attester set as code (one read)


def _forger_at(position: str) -> Account:
    """A deterministic non-attester key whose address lies below, between or above the
    wired inbox's members (ATTESTERS[:3]): the delivery walks the ascending set once, so
    each place a stranger can fall in the walk is its own case. TEST KEYS ONLY."""
    members = [int(a.address, 16) for a in ATTESTERS[:3]]
    for n in range(10_000):
        candidate = Account.from_key(keccak(text=f"pvd test forger {n}"))
        value = int(candidate.address, 16)
        if value in members:
            continue
        where = "below" if value < members[0] else "above" if value > members[-1] else "between"
        if where == position:
            return candidate
    raise AssertionError(f"no forger key found {position} the members")


@pytest.mark.parametrize("position", ["below", "between", "above"])
@pytest.mark.parametrize("partner", [0, 1, 2])
def test_a_stranger_anywhere_in_the_ascending_walk_is_rejected(
    wired_inbox, app, relayer, position, partner
):
    message = outcome_message(app)
    stranger = _forger_at(position)
    signers = sorted([ATTESTERS[partner], stranger], key=lambda a: int(a.address, 16))
    _assert_rejected(
        wired_inbox,
        app,
        message,
        sign(wired_inbox, message, signers),
        err("InboxSignerNotAttester", signers.index(stranger), stranger.address),
        relayer,
    )


@pytest.mark.parametrize("pair", list(itertools.combinations(range(3), 2)))
def test_every_pair_of_members_delivers(wired_inbox, app, relayer, pair):
    message = outcome_message(app)
    signers = [ATTESTERS[i] for i in pair]
    tx = wired_inbox.deliver(
        message.encode(), sign(wired_inbox, message, signers), {"from": relayer}
    )
    assert tx.return_value == DELIVERED


def test_the_attester_set_and_the_peer_are_stored_as_code(wired_inbox, app):
    data = wired_inbox.attesterSetData()
    code = bytes(brownie.web3.eth.get_code(data))
    members = [a.address for a in ATTESTERS[:3]]
    assert code == delivery_data(members, [(BUSINESS_DOMAIN, BUSINESS_APP, app.address)])
