"""Outbox: only registered apps send; the nonce only increases; MessageSent carries the
full encoding and its id; only the fixed kinds with canonical bodies leave the chain; app
registrations change under the inbox's propose / delay / apply governance (at once only
during the setup phase, which ends at the first message or when the owner closes it)."""

import brownie
import pytest

from pvd.protocol.messages import Message
from tests.contracts.fixtures.bridge import (
    BUSINESS_DOMAIN,
    GOVERNANCE_DELAY,
    PAYMENT_DOMAIN,
    err,
    outcome_message,
)
from tests.contracts.fixtures.trade import set_next_block_time

PEER = "0x2b2B2b2b2B2b2B2b2b2B2B2b2b2B2B2b2b2b2b2B"


@pytest.fixture(scope="module")
def outbox(Outbox, deployer):
    return Outbox.deploy(BUSINESS_DOMAIN, deployer, GOVERNANCE_DELAY, {"from": deployer})


@pytest.fixture(scope="module")
def sender(MockApp, outbox, deployer):
    """A registered business-chain app."""
    app = MockApp.deploy(deployer, {"from": deployer})
    outbox.proposeApp(app, True, {"from": deployer})  # setup phase: at once
    return app


@pytest.fixture(scope="module")
def unregistered(MockApp, deployer):
    return MockApp.deploy(deployer, {"from": deployer})


def _body(nonce=0):
    return outcome_message(PEER, nonce=nonce, source_app=PEER).body


def _state(outbox, *apps):
    return (
        outbox.owner(),
        outbox.pendingOwner(),
        outbox.setupOpen(),
        *(outbox.isRegisteredApp(a) for a in apps),
        *(outbox.nextNonce(a) for a in apps),
        *(tuple(outbox.pendingApp(a)) for a in apps),
    )


@pytest.fixture
def live(outbox, sender, deployer):
    """The outbox after its setup phase: `sender` registered, every change delayed."""
    tx = outbox.closeSetup({"from": deployer})
    assert tx.events["SetupClosed"] == {"by": deployer}
    assert not outbox.setupOpen()
    return outbox


def test_a_registered_app_sends_a_message(outbox, sender, stranger):
    tx = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    expected = Message(BUSINESS_DOMAIN, sender.address, PAYMENT_DOMAIN, PEER, 0, 2, _body())
    event = tx.events["MessageSent"]
    assert event["messageId"] == "0x" + expected.id.hex()
    assert event["destinationDomain"] == PAYMENT_DOMAIN
    assert event["destinationApp"] == PEER
    assert bytes(event["message"]) == expected.encode()
    message_id, nonce = tx.return_value
    assert (message_id, nonce) == ("0x" + expected.id.hex(), 0)
    assert outbox.nextNonce(sender) == 1


def test_the_emitted_message_decodes_strictly(outbox, sender, stranger):
    tx = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    decoded = Message.decode(bytes(tx.events["MessageSent"]["message"]))
    assert decoded.decoded_body().encode() == _body()
    assert decoded.source_domain == BUSINESS_DOMAIN


def test_the_nonce_only_increases(outbox, sender, stranger):
    nonces = []
    for n in range(4):
        tx = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(n), {"from": stranger})
        nonces.append(Message.decode(bytes(tx.events["MessageSent"]["message"])).nonce)
    assert nonces == [0, 1, 2, 3]
    assert outbox.nextNonce(sender) == 4


def test_the_same_body_sent_twice_gets_two_ids(outbox, sender, stranger):
    first = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    second = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert first.events["MessageSent"]["messageId"] != second.events["MessageSent"]["messageId"]


def test_an_unregistered_app_cannot_send(outbox, unregistered, stranger):
    before = _state(outbox, unregistered)
    with brownie.reverts(err("OutboxAppNotRegistered", unregistered.address)):
        unregistered.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert _state(outbox, unregistered) == before


def test_an_account_cannot_send(outbox, stranger):
    before = _state(outbox, stranger)
    with brownie.reverts(err("OutboxAppNotRegistered", stranger.address)):
        outbox.send(PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert _state(outbox, stranger) == before


def test_each_app_numbers_its_own_messages(outbox, sender, unregistered, deployer, stranger):
    outbox.proposeApp(unregistered, True, {"from": deployer})  # setup phase: at once
    other = unregistered
    sent = []
    for i, app in enumerate((sender, other, sender, other, other)):
        tx = app.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
        message = Message.decode(bytes(tx.events["MessageSent"]["message"]))
        assert tx.return_value[1] == message.nonce
        assert ("SetupClosed" in tx.events) == (i == 0)  # only the very first message
        sent.append((message.source_app, message.nonce))
    assert sent == [
        (sender.address, 0),
        (other.address, 0),
        (sender.address, 1),
        (other.address, 1),
        (other.address, 2),
    ]
    assert (outbox.nextNonce(sender), outbox.nextNonce(other)) == (2, 3)


def test_an_app_registered_again_goes_on_from_its_last_nonce(outbox, sender, deployer, stranger):
    for n in range(2):
        sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(n), {"from": stranger})
    # The first message closed the setup phase: each change waits for the delay.
    outbox.proposeApp(sender, False, {"from": deployer})
    chain = brownie.chain
    chain.sleep(GOVERNANCE_DELAY + 1)
    outbox.applyApp(sender, {"from": stranger})
    assert not outbox.isRegisteredApp(sender)
    assert outbox.nextNonce(sender) == 2  # kept while unregistered
    outbox.proposeApp(sender, True, {"from": deployer})
    chain.sleep(GOVERNANCE_DELAY + 1)
    outbox.applyApp(sender, {"from": stranger})
    tx = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert Message.decode(bytes(tx.events["MessageSent"]["message"])).nonce == 2
    assert outbox.nextNonce(sender) == 3


@pytest.mark.parametrize(
    "domain, app, kind, body, error",
    [
        (BUSINESS_DOMAIN, PEER, 2, None, err("OutboxDestinationIsLocal", BUSINESS_DOMAIN)),
        (
            PAYMENT_DOMAIN,
            "0x" + "00" * 20,
            2,
            None,
            err("OutboxDestinationAppZero", PAYMENT_DOMAIN),
        ),
        (PAYMENT_DOMAIN, PEER, 0, None, err("MessageKindUnknown", 0)),
        (PAYMENT_DOMAIN, PEER, 4, None, err("MessageKindUnknown", 4)),
        (PAYMENT_DOMAIN, PEER, 3, None, err("MessageBodyLength", 3, 224, 128)),
        (PAYMENT_DOMAIN, PEER, 2, b"\x00" * 225, err("MessageBodyLength", 2, 225, 224)),
        (
            PAYMENT_DOMAIN,
            PEER,
            2,
            b"\x00" * 224,
            err("MessageBodyWordInvalid", 2, 2, b"\x00" * 32),
        ),
    ],
    ids=[
        "own_domain",
        "zero_app",
        "kind_0",
        "kind_4",
        "wrong_length_for_kind",
        "padded",
        "outcome_none",
    ],
)
def test_a_bad_send_reverts_and_keeps_the_nonce(
    outbox, sender, stranger, domain, app, kind, body, error
):
    before = _state(outbox, sender)
    with brownie.reverts(error):
        sender.sendVia(
            outbox, domain, app, kind, _body() if body is None else body, {"from": stranger}
        )
    assert _state(outbox, sender) == before


def test_during_setup_the_owner_registers_and_unregisters_an_app_at_once(
    outbox, unregistered, deployer
):
    assert outbox.setupOpen()
    tx = outbox.proposeApp(unregistered, True, {"from": deployer})
    assert tx.events["AppRegistered"] == {"app": unregistered}
    assert outbox.isRegisteredApp(unregistered)
    tx = outbox.proposeApp(unregistered, False, {"from": deployer})
    assert tx.events["AppUnregistered"] == {"app": unregistered}
    assert not outbox.isRegisteredApp(unregistered)


def test_the_first_message_closes_the_setup_phase(outbox, sender, stranger):
    tx = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert tx.events["SetupClosed"] == {"by": sender}
    assert not outbox.setupOpen()
    again = sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert "SetupClosed" not in again.events


def test_after_setup_unregistering_an_app_waits_for_the_delay(live, sender, deployer, stranger):
    """The owner has no undelayed kill switch: a registered app keeps sending for the whole
    governance delay after an unregistration is proposed, and everyone sees it coming."""
    tx = live.proposeApp(sender, False, {"from": deployer})
    ready_at = tx.events["AppChangeProposed"]["readyAt"]
    assert tx.events["AppChangeProposed"] == {
        "app": sender,
        "registered": False,
        "readyAt": ready_at,
    }
    assert ready_at == tx.timestamp + GOVERNANCE_DELAY
    assert "AppUnregistered" not in tx.events
    assert live.isRegisteredApp(sender)
    assert tuple(live.pendingApp(sender)) == (False, ready_at)
    sent = sender.sendVia(live, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert "MessageSent" in sent.events
    before = _state(live, sender)
    with brownie.reverts(revert_pattern=rf"GovernanceProposalNotReady: {ready_at}, \d+"):
        live.applyApp(sender, {"from": stranger})
    assert _state(live, sender) == before
    set_next_block_time(ready_at)  # exactly when the delay has passed
    applied = live.applyApp(sender, {"from": stranger})
    assert applied.events["AppUnregistered"] == {"app": sender}
    assert not live.isRegisteredApp(sender)
    assert tuple(live.pendingApp(sender)) == (False, 0)
    with brownie.reverts(err("OutboxAppNotRegistered", sender.address)):
        sender.sendVia(live, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})


def test_after_setup_registering_an_app_waits_for_the_delay(live, unregistered, deployer, stranger):
    tx = live.proposeApp(unregistered, True, {"from": deployer})
    assert not live.isRegisteredApp(unregistered)
    brownie.chain.sleep(GOVERNANCE_DELAY + 1)
    applied = live.applyApp(unregistered, {"from": stranger})
    assert applied.events["AppRegistered"] == {"app": unregistered}
    assert live.isRegisteredApp(unregistered)
    assert tx.events["AppChangeProposed"]["registered"] is True


def test_the_owner_cancels_a_pending_change(live, sender, deployer, stranger):
    live.proposeApp(sender, False, {"from": deployer})
    tx = live.cancelApp(sender, {"from": deployer})
    assert tx.events["AppChangeCancelled"] == {"app": sender, "registered": False}
    assert tuple(live.pendingApp(sender)) == (False, 0)
    brownie.chain.sleep(GOVERNANCE_DELAY + 1)
    before = _state(live, sender)
    with brownie.reverts(err("GovernanceNoProposal")):
        live.applyApp(sender, {"from": stranger})
    assert _state(live, sender) == before
    assert live.isRegisteredApp(sender)


def test_cancelling_without_a_proposal_reverts(live, sender, deployer):
    before = _state(live, sender)
    with brownie.reverts(err("GovernanceNoProposal")):
        live.cancelApp(sender, {"from": deployer})
    assert _state(live, sender) == before


def test_a_stranger_cannot_cancel_or_close(live, sender, deployer, stranger):
    live.proposeApp(sender, False, {"from": deployer})
    before = _state(live, sender)
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger.address)):
        live.cancelApp(sender, {"from": stranger})
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger.address)):
        live.closeSetup({"from": stranger})
    assert _state(live, sender) == before


def test_closing_the_setup_twice_reverts(live, deployer):
    before = _state(live)
    with brownie.reverts(err("OutboxSetupClosed")):
        live.closeSetup({"from": deployer})
    assert _state(live) == before


def test_an_unregistered_app_can_no_longer_send(outbox, sender, deployer, stranger):
    outbox.proposeApp(sender, False, {"from": deployer})
    with brownie.reverts(err("OutboxAppNotRegistered", sender.address)):
        sender.sendVia(outbox, PAYMENT_DOMAIN, PEER, 2, _body(), {"from": stranger})
    assert outbox.nextNonce(sender) == 0


def test_registering_an_account_reverts(outbox, deployer, stranger):
    before = _state(outbox, stranger)
    with brownie.reverts(err("OutboxAppInvalid", stranger.address)):
        outbox.proposeApp(stranger, True, {"from": deployer})
    assert _state(outbox, stranger) == before


def test_registering_twice_reverts(live, sender, deployer):
    before = _state(live, sender)
    with brownie.reverts(err("OutboxAppUnchanged", sender.address, True)):
        live.proposeApp(sender, True, {"from": deployer})
    assert _state(live, sender) == before


def test_unregistering_an_unknown_app_reverts(live, unregistered, deployer):
    before = _state(live, unregistered)
    with brownie.reverts(err("OutboxAppUnchanged", unregistered.address, False)):
        live.proposeApp(unregistered, False, {"from": deployer})
    assert _state(live, unregistered) == before


def test_a_stranger_cannot_propose_an_app(outbox, unregistered, stranger):
    before = _state(outbox, unregistered)
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger.address)):
        outbox.proposeApp(unregistered, True, {"from": stranger})
    assert _state(outbox, unregistered) == before


def test_a_delay_above_the_maximum_cannot_be_deployed(Outbox, deployer):
    too_long = 60 * 86400 + 1
    with brownie.reverts(err("OutboxDelayInvalid", too_long, 60 * 86400)):
        Outbox.deploy(BUSINESS_DOMAIN, deployer, too_long, {"from": deployer})


def test_ownership_moves_in_two_steps(outbox, unregistered, deployer, arbiter):
    outbox.transferOwnership(arbiter, {"from": deployer})
    assert outbox.owner() == deployer
    assert outbox.pendingOwner() == arbiter
    tx = outbox.acceptOwnership({"from": arbiter})
    assert tx.events["OwnershipTransferred"]["newOwner"] == arbiter
    assert outbox.owner() == arbiter
    with brownie.reverts(err("OwnableUnauthorizedAccount", deployer.address)):
        outbox.proposeApp(unregistered, True, {"from": deployer})


def test_only_the_pending_owner_accepts(outbox, deployer, arbiter, stranger):
    outbox.transferOwnership(arbiter, {"from": deployer})
    before = _state(outbox)
    with brownie.reverts(err("OwnableUnauthorizedAccount", stranger.address)):
        outbox.acceptOwnership({"from": stranger})
    assert _state(outbox) == before


def test_the_outbox_reports_its_domain(outbox):
    assert outbox.localDomain() == BUSINESS_DOMAIN
    assert outbox.governanceDelay() == GOVERNANCE_DELAY
