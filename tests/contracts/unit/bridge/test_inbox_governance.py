"""Inbox governance: the first configuration takes effect at once; after setup every
change to the attester set, threshold, peers and delay waits for the delay, is an event
and can be read while pending; the admin moves in two steps (ADR 0006)."""

import brownie
import pytest
from eth_utils.crypto import keccak

from tests.contracts.fixtures.bridge import (
    ADMIN_DELAY,
    ATTESTERS,
    BUSINESS_APP,
    BUSINESS_DOMAIN,
    DEPLOYMENT_ID,
    GOVERNANCE_DELAY,
    PAYMENT_DOMAIN,
    delivery_data,
    deploy_inbox,
    err,
    inbox_state,
    outcome_message,
    sign,
)

ADMIN_ROLE = b"\x00" * 32
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
ZERO = "0x0000000000000000000000000000000000000000"
NEW_APP = "0x5151515151515151515151515151515151515151"


def _addresses(accounts_):
    return [a.address for a in accounts_]


def _not_ready(ready_at):
    """GovernanceProposalNotReady(readyAt, now) for any `now` (the block time of the call)."""
    return rf"GovernanceProposalNotReady: {ready_at}, \d+"


def _deliver(inbox, message, signers, caller):
    return inbox.deliver(message.encode(), sign(inbox, message, signers), {"from": caller})


# ------------------------------------------------------------------------ deployment


def test_the_first_configuration_takes_effect_at_deployment(inbox, guardian, deployer):
    assert list(inbox.attesters()) == _addresses(ATTESTERS[:3])
    assert inbox.threshold() == 2
    assert inbox.attesterEpoch() == 1
    assert inbox.governanceDelay() == GOVERNANCE_DELAY
    assert inbox.setupOpen()
    assert not inbox.paused()
    assert inbox.localDomain() == PAYMENT_DOMAIN
    assert inbox.defaultAdmin() == deployer
    assert inbox.defaultAdminDelay() == ADMIN_DELAY
    assert inbox.hasRole(GUARDIAN_ROLE, guardian)
    assert all(inbox.isAttester(a.address) for a in ATTESTERS[:3])
    assert not inbox.isAttester(ATTESTERS[3].address)


@pytest.mark.parametrize(
    "members, threshold, error",
    [
        ([], 1, err("InboxAttesterSetSize", 0, 32)),
        (_addresses(ATTESTERS[:3]), 0, err("InboxThresholdInvalid", 0, 3)),
        (_addresses(ATTESTERS[:3]), 4, err("InboxThresholdInvalid", 4, 3)),
        (
            [ATTESTERS[1].address, ATTESTERS[0].address],
            1,
            err("InboxAttesterInvalid", 1, ATTESTERS[0].address),
        ),
        (
            [ATTESTERS[0].address, ATTESTERS[0].address],
            1,
            err("InboxAttesterInvalid", 1, ATTESTERS[0].address),
        ),
        ([ZERO, ATTESTERS[0].address], 1, err("InboxAttesterInvalid", 0, ZERO)),
    ],
    ids=["empty", "threshold_0", "threshold_above_size", "unsorted", "duplicate", "zero"],
)
def test_a_deployment_with_a_bad_attester_set_reverts(Inbox, deployer, members, threshold, error):
    with brownie.reverts(error):
        Inbox.deploy(
            PAYMENT_DOMAIN,
            DEPLOYMENT_ID,
            deployer,
            ZERO,
            members,
            threshold,
            1,
            1,
            {"from": deployer},
        )


def test_a_deployment_with_a_delay_above_the_maximum_reverts(Inbox, deployer):
    too_long = 60 * 86400 + 1
    with brownie.reverts(err("InboxDelayInvalid", too_long, 60 * 86400)):
        Inbox.deploy(
            PAYMENT_DOMAIN,
            DEPLOYMENT_ID,
            deployer,
            ZERO,
            _addresses(ATTESTERS[:1]),
            1,
            too_long,
            1,
            {"from": deployer},
        )


def test_a_deployment_without_a_deployment_id_reverts(Inbox, deployer):
    with brownie.reverts(err("InboxDeploymentIdZero")):
        Inbox.deploy(
            PAYMENT_DOMAIN,
            b"\x00" * 32,
            deployer,
            ZERO,
            _addresses(ATTESTERS[:1]),
            1,
            1,
            1,
            {"from": deployer},
        )


# ----------------------------------------------------------------------------- setup


def test_a_peer_registered_during_setup_takes_effect_at_once(inbox, app, deployer):
    tx = inbox.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, app, {"from": deployer})
    assert tx.events["PeerApplied"] == {
        "sourceDomain": BUSINESS_DOMAIN,
        "sourceApp": BUSINESS_APP,
        "recipient": app,
    }
    assert "PeerProposed" not in tx.events
    assert inbox.recipientOf(BUSINESS_DOMAIN, BUSINESS_APP) == app
    assert tuple(inbox.pendingPeer(BUSINESS_DOMAIN, BUSINESS_APP)) == (ZERO, 0)


def test_an_attester_set_changed_during_setup_takes_effect_at_once(inbox, deployer):
    members = _addresses(ATTESTERS[2:5])
    tx = inbox.proposeAttesterSet(members, 3, {"from": deployer})
    assert tx.events["AttesterSetApplied"]["epoch"] == 2
    assert list(tx.events["AttesterSetApplied"]["attesters"]) == members
    assert list(inbox.attesters()) == members
    assert inbox.threshold() == 3
    assert not inbox.isAttester(ATTESTERS[0].address)


def test_a_delay_changed_during_setup_takes_effect_at_once(inbox, deployer):
    tx = inbox.proposeGovernanceDelay(7200, {"from": deployer})
    assert tx.events["GovernanceDelayApplied"] == {"delay": 7200}
    assert inbox.governanceDelay() == 7200


def test_the_first_delivery_closes_the_setup(inbox, app, deployer, relayer):
    inbox.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, app, {"from": deployer})
    message = outcome_message(app)
    tx = _deliver(inbox, message, ATTESTERS[:2], relayer)
    assert tx.events["SetupClosed"] == {"by": relayer}
    assert not inbox.setupOpen()


def test_the_admin_closes_the_setup(inbox, deployer):
    tx = inbox.closeSetup({"from": deployer})
    assert tx.events["SetupClosed"] == {"by": deployer}
    assert not inbox.setupOpen()


def test_closing_the_setup_twice_reverts(wired_inbox, deployer):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("InboxSetupClosed")):
        wired_inbox.closeSetup({"from": deployer})
    assert inbox_state(wired_inbox) == before


def test_a_stranger_cannot_close_the_setup(inbox, stranger):
    before = inbox_state(inbox)
    with brownie.reverts(err("AccessControlUnauthorizedAccount", stranger.address, ADMIN_ROLE)):
        inbox.closeSetup({"from": stranger})
    assert inbox_state(inbox) == before


# ------------------------------------------------------------------ attester rotation


def test_an_attester_set_proposal_after_setup_is_pending_and_visible(wired_inbox, deployer, chain):
    members = _addresses(ATTESTERS[1:4])
    tx = wired_inbox.proposeAttesterSet(members, 3, {"from": deployer})
    ready = tx.timestamp + GOVERNANCE_DELAY
    event = tx.events["AttesterSetProposed"]
    assert list(event["attesters"]) == members
    assert (event["threshold"], event["readyAt"]) == (3, ready)
    assert "AttesterSetApplied" not in tx.events
    pending, threshold, ready_at = wired_inbox.pendingAttesterSet()
    assert (list(pending), threshold, ready_at) == (members, 3, ready)
    assert list(wired_inbox.attesters()) == _addresses(ATTESTERS[:3])
    assert wired_inbox.threshold() == 2


def test_a_pending_attester_set_cannot_be_applied_before_its_delay(wired_inbox, deployer, relayer):
    tx = wired_inbox.proposeAttesterSet(_addresses(ATTESTERS[1:4]), 3, {"from": deployer})
    before = inbox_state(wired_inbox)
    with brownie.reverts(revert_pattern=_not_ready(tx.timestamp + GOVERNANCE_DELAY)):
        wired_inbox.applyAttesterSet({"from": relayer})
    assert inbox_state(wired_inbox) == before


def test_old_attesters_still_deliver_while_a_rotation_is_pending(
    wired_inbox, app, deployer, relayer
):
    wired_inbox.proposeAttesterSet(_addresses(ATTESTERS[3:5]), 2, {"from": deployer})
    message = outcome_message(app)
    assert "MessageDelivered" in _deliver(wired_inbox, message, ATTESTERS[:2], relayer).events


def test_anyone_applies_an_attester_set_once_its_delay_has_passed(
    wired_inbox, app, deployer, stranger, chain
):
    members = _addresses(ATTESTERS[2:5])
    wired_inbox.proposeAttesterSet(members, 3, {"from": deployer})
    chain.sleep(GOVERNANCE_DELAY)
    old_data = wired_inbox.attesterSetData()
    tx = wired_inbox.applyAttesterSet({"from": stranger})
    # Deliveries read the set as code: a rotation writes the new set as a new contract.
    new_data = wired_inbox.attesterSetData()
    assert new_data != old_data
    code = bytes(brownie.web3.eth.get_code(new_data))
    assert code == delivery_data(members, [(BUSINESS_DOMAIN, BUSINESS_APP, app.address)])
    assert tx.events["AttesterSetApplied"]["epoch"] == 2
    assert list(wired_inbox.attesters()) == members
    assert wired_inbox.threshold() == 3
    assert wired_inbox.attesterEpoch() == 2
    assert wired_inbox.pendingAttesterSet()[2] == 0
    message = outcome_message(app)
    assert "MessageDelivered" in _deliver(wired_inbox, message, ATTESTERS[2:5], stranger).events


def test_a_threshold_change_after_setup_waits_for_the_delay(
    wired_inbox, app, deployer, chain, relayer
):
    wired_inbox.proposeAttesterSet(_addresses(ATTESTERS[:3]), 3, {"from": deployer})
    chain.sleep(GOVERNANCE_DELAY)
    wired_inbox.applyAttesterSet({"from": relayer})
    message = outcome_message(app)
    with brownie.reverts(err("InboxSignaturesLength", 130, 195)):
        _deliver(wired_inbox, message, ATTESTERS[:2], relayer)
    assert "MessageDelivered" in _deliver(wired_inbox, message, ATTESTERS[:3], relayer).events


@pytest.mark.parametrize(
    "members, threshold, error",
    [
        ([], 1, err("InboxAttesterSetSize", 0, 32)),
        (_addresses(ATTESTERS[:2]), 0, err("InboxThresholdInvalid", 0, 2)),
        (_addresses(ATTESTERS[:2]), 3, err("InboxThresholdInvalid", 3, 2)),
        (
            [ATTESTERS[2].address, ATTESTERS[1].address],
            1,
            err("InboxAttesterInvalid", 1, ATTESTERS[1].address),
        ),
    ],
    ids=["empty", "threshold_0", "threshold_above_size", "unsorted"],
)
def test_a_bad_attester_set_proposal_reverts(wired_inbox, deployer, members, threshold, error):
    before = inbox_state(wired_inbox)
    with brownie.reverts(error):
        wired_inbox.proposeAttesterSet(members, threshold, {"from": deployer})
    assert inbox_state(wired_inbox) == before


def test_the_admin_cancels_a_pending_attester_set(wired_inbox, deployer, relayer, chain):
    members = _addresses(ATTESTERS[1:4])
    wired_inbox.proposeAttesterSet(members, 2, {"from": deployer})
    tx = wired_inbox.cancelAttesterSet({"from": deployer})
    assert list(tx.events["AttesterSetProposalCancelled"]["attesters"]) == members
    assert wired_inbox.pendingAttesterSet()[2] == 0
    chain.sleep(GOVERNANCE_DELAY)
    with brownie.reverts(err("GovernanceNoProposal")):
        wired_inbox.applyAttesterSet({"from": relayer})
    assert list(wired_inbox.attesters()) == _addresses(ATTESTERS[:3])


def test_cancelling_without_a_proposal_reverts(wired_inbox, deployer):
    before = inbox_state(wired_inbox)
    for cancel in (
        wired_inbox.cancelAttesterSet,
        wired_inbox.cancelGovernanceDelay,
    ):
        with brownie.reverts(err("GovernanceNoProposal")):
            cancel({"from": deployer})
    with brownie.reverts(err("GovernanceNoProposal")):
        wired_inbox.cancelPeer(BUSINESS_DOMAIN, BUSINESS_APP, {"from": deployer})
    assert inbox_state(wired_inbox) == before


def test_applying_without_a_proposal_reverts(wired_inbox, relayer):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("GovernanceNoProposal")):
        wired_inbox.applyAttesterSet({"from": relayer})
    with brownie.reverts(err("GovernanceNoProposal")):
        wired_inbox.applyGovernanceDelay({"from": relayer})
    with brownie.reverts(err("GovernanceNoProposal")):
        wired_inbox.applyPeer(BUSINESS_DOMAIN, BUSINESS_APP, {"from": relayer})
    assert inbox_state(wired_inbox) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda i, who: i.proposeAttesterSet(_addresses(ATTESTERS[:1]), 1, {"from": who}),
        lambda i, who: i.proposePeer(BUSINESS_DOMAIN, NEW_APP, i, {"from": who}),
        lambda i, who: i.proposeGovernanceDelay(1, {"from": who}),
        lambda i, who: i.cancelAttesterSet({"from": who}),
        lambda i, who: i.cancelPeer(BUSINESS_DOMAIN, BUSINESS_APP, {"from": who}),
        lambda i, who: i.cancelGovernanceDelay({"from": who}),
        lambda i, who: i.grantRole(GUARDIAN_ROLE, who, {"from": who}),
    ],
    ids=["attesters", "peer", "delay", "cancel_set", "cancel_peer", "cancel_delay", "grant"],
)
def test_only_the_admin_governs(wired_inbox, stranger, call):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("AccessControlUnauthorizedAccount", stranger.address, ADMIN_ROLE)):
        call(wired_inbox, stranger)
    assert inbox_state(wired_inbox) == before


def test_the_guardian_cannot_govern(wired_inbox, guardian):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("AccessControlUnauthorizedAccount", guardian.address, ADMIN_ROLE)):
        wired_inbox.proposeAttesterSet(_addresses(ATTESTERS[:1]), 1, {"from": guardian})
    assert inbox_state(wired_inbox) == before


# ------------------------------------------------------------------------------ peers


def test_a_peer_proposal_after_setup_is_pending_and_refused_until_applied(
    wired_inbox, app, deployer, relayer, chain
):
    tx = wired_inbox.proposePeer(BUSINESS_DOMAIN, NEW_APP, app, {"from": deployer})
    ready = tx.timestamp + GOVERNANCE_DELAY
    assert tx.events["PeerProposed"] == {
        "sourceDomain": BUSINESS_DOMAIN,
        "sourceApp": NEW_APP,
        "recipient": app,
        "readyAt": ready,
    }
    assert tuple(wired_inbox.pendingPeer(BUSINESS_DOMAIN, NEW_APP)) == (app.address, ready)
    assert wired_inbox.recipientOf(BUSINESS_DOMAIN, NEW_APP) == ZERO
    message = outcome_message(app, source_app=NEW_APP)
    with brownie.reverts(err("InboxUnknownSource", BUSINESS_DOMAIN, NEW_APP)):
        _deliver(wired_inbox, message, ATTESTERS[:2], relayer)
    chain.sleep(GOVERNANCE_DELAY)
    applied = wired_inbox.applyPeer(BUSINESS_DOMAIN, NEW_APP, {"from": relayer})
    assert applied.events["PeerApplied"]["recipient"] == app
    assert wired_inbox.recipientOf(BUSINESS_DOMAIN, NEW_APP) == app
    assert "MessageDelivered" in _deliver(wired_inbox, message, ATTESTERS[:2], relayer).events


def test_removing_a_peer_waits_for_the_delay_and_then_refuses_it(
    wired_inbox, app, deployer, relayer, chain
):
    wired_inbox.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, ZERO, {"from": deployer})
    early = outcome_message(app, nonce=1)
    assert "MessageDelivered" in _deliver(wired_inbox, early, ATTESTERS[:2], relayer).events
    chain.sleep(GOVERNANCE_DELAY)
    wired_inbox.applyPeer(BUSINESS_DOMAIN, BUSINESS_APP, {"from": relayer})
    assert wired_inbox.recipientOf(BUSINESS_DOMAIN, BUSINESS_APP) == ZERO
    late = outcome_message(app, nonce=2)
    with brownie.reverts(err("InboxUnknownSource", BUSINESS_DOMAIN, BUSINESS_APP)):
        _deliver(wired_inbox, late, ATTESTERS[:2], relayer)


def _data(inbox):
    return bytes(brownie.web3.eth.get_code(inbox.attesterSetData()))


def test_a_peer_change_writes_the_delivery_data_again(wired_inbox, app, deployer, relayer, chain):
    members = _addresses(ATTESTERS[:3])
    old_data = wired_inbox.attesterSetData()
    wired_inbox.proposePeer(BUSINESS_DOMAIN, NEW_APP, app, {"from": deployer})
    assert wired_inbox.attesterSetData() == old_data  # a proposal changes nothing
    chain.sleep(GOVERNANCE_DELAY)
    wired_inbox.applyPeer(BUSINESS_DOMAIN, NEW_APP, {"from": relayer})
    assert wired_inbox.attesterSetData() != old_data
    assert bytes(brownie.web3.eth.get_code(old_data)) == delivery_data(
        members, [(BUSINESS_DOMAIN, BUSINESS_APP, app.address)]
    )  # the old contract is unchanged (code cannot change)
    assert _data(wired_inbox) == delivery_data(
        members,
        [(BUSINESS_DOMAIN, BUSINESS_APP, app.address), (BUSINESS_DOMAIN, NEW_APP, app.address)],
    )
    # Each source reaches the recipient the data names for it.
    for source in (BUSINESS_APP, NEW_APP):
        message = outcome_message(app, source_app=source, nonce=7)
        tx = _deliver(wired_inbox, message, ATTESTERS[:2], relayer)
        assert tx.events["MessageDelivered"]["recipient"] == app
    # Removing the first peer: the last takes its place in the data.
    wired_inbox.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, ZERO, {"from": deployer})
    chain.sleep(GOVERNANCE_DELAY)
    wired_inbox.applyPeer(BUSINESS_DOMAIN, BUSINESS_APP, {"from": relayer})
    assert _data(wired_inbox) == delivery_data(members, [(BUSINESS_DOMAIN, NEW_APP, app.address)])
    message = outcome_message(app, nonce=8)
    with brownie.reverts(err("InboxUnknownSource", BUSINESS_DOMAIN, BUSINESS_APP)):
        _deliver(wired_inbox, message, ATTESTERS[:2], relayer)


def _source(i):
    return "0x" + (0x5000 + i).to_bytes(20, "big").hex()


def test_a_peer_beyond_the_limit_is_refused(Inbox, app, deployer, guardian, relayer, chain):
    inbox = deploy_inbox(Inbox, deployer, guardian, PAYMENT_DOMAIN, ATTESTERS[:3], 2)
    limit = inbox.MAX_PEERS()
    assert limit == 16
    for i in range(limit):  # setup phase: at once
        inbox.proposePeer(BUSINESS_DOMAIN, _source(i), app, {"from": deployer})
    before = inbox_state(inbox)
    data = _data(inbox)
    assert len(data) == 1 + 3 * 20 + limit * 44
    with brownie.reverts(err("InboxPeerLimit", BUSINESS_DOMAIN, NEW_APP, limit)):
        inbox.proposePeer(BUSINESS_DOMAIN, NEW_APP, app, {"from": deployer})
    assert inbox_state(inbox) == before
    assert inbox.recipientOf(BUSINESS_DOMAIN, NEW_APP) == ZERO
    # Changing or removing a pair is never refused; a removal makes room.
    inbox.proposePeer(BUSINESS_DOMAIN, _source(0), ZERO, {"from": deployer})
    inbox.proposePeer(BUSINESS_DOMAIN, NEW_APP, app, {"from": deployer})
    assert inbox.recipientOf(BUSINESS_DOMAIN, NEW_APP) == app
    # After setup the limit also holds when a proposal is applied.
    inbox.closeSetup({"from": deployer})
    inbox.proposePeer(BUSINESS_DOMAIN, _source(1), ZERO, {"from": deployer})
    chain.sleep(GOVERNANCE_DELAY)
    inbox.applyPeer(BUSINESS_DOMAIN, _source(1), {"from": relayer})
    # One place free: two proposals pass, the second to be applied is refused.
    inbox.proposePeer(BUSINESS_DOMAIN, _source(100), app, {"from": deployer})
    inbox.proposePeer(BUSINESS_DOMAIN, _source(101), app, {"from": deployer})
    chain.sleep(GOVERNANCE_DELAY)
    inbox.applyPeer(BUSINESS_DOMAIN, _source(100), {"from": relayer})
    before = inbox_state(inbox)
    with brownie.reverts(err("InboxPeerLimit", BUSINESS_DOMAIN, _source(101), limit)):
        inbox.applyPeer(BUSINESS_DOMAIN, _source(101), {"from": relayer})
    assert inbox_state(inbox) == before
    assert inbox.pendingPeer(BUSINESS_DOMAIN, _source(101))[0] == app


def test_the_inbox_cannot_be_its_own_recipient(wired_inbox, deployer):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("InboxPeerInvalid", BUSINESS_DOMAIN, NEW_APP, wired_inbox.address)):
        wired_inbox.proposePeer(BUSINESS_DOMAIN, NEW_APP, wired_inbox, {"from": deployer})
    assert inbox_state(wired_inbox) == before


def test_the_admin_cancels_a_pending_peer(wired_inbox, app, deployer):
    wired_inbox.proposePeer(BUSINESS_DOMAIN, NEW_APP, app, {"from": deployer})
    tx = wired_inbox.cancelPeer(BUSINESS_DOMAIN, NEW_APP, {"from": deployer})
    assert tx.events["PeerProposalCancelled"] == {
        "sourceDomain": BUSINESS_DOMAIN,
        "sourceApp": NEW_APP,
        "recipient": app,
    }
    assert tuple(wired_inbox.pendingPeer(BUSINESS_DOMAIN, NEW_APP)) == (ZERO, 0)


@pytest.mark.parametrize(
    "domain, source, recipient_is_app",
    [
        (PAYMENT_DOMAIN, NEW_APP, True),
        (BUSINESS_DOMAIN, ZERO, True),
        (BUSINESS_DOMAIN, NEW_APP, False),
    ],
    ids=["own_domain", "zero_source_app", "recipient_without_code"],
)
def test_a_bad_peer_proposal_reverts(
    wired_inbox, app, deployer, stranger, domain, source, recipient_is_app
):
    recipient = app.address if recipient_is_app else stranger.address
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("InboxPeerInvalid", domain, source, recipient)):
        wired_inbox.proposePeer(domain, source, recipient, {"from": deployer})
    assert inbox_state(wired_inbox) == before


# ------------------------------------------------------------------------------ delay


def test_a_delay_change_waits_for_the_old_delay(wired_inbox, deployer, relayer, chain):
    tx = wired_inbox.proposeGovernanceDelay(60, {"from": deployer})
    ready = tx.timestamp + GOVERNANCE_DELAY
    assert tx.events["GovernanceDelayProposed"] == {"delay": 60, "readyAt": ready}
    assert tuple(wired_inbox.pendingGovernanceDelay()) == (60, ready)
    assert wired_inbox.governanceDelay() == GOVERNANCE_DELAY
    with brownie.reverts(revert_pattern=_not_ready(ready)):
        wired_inbox.applyGovernanceDelay({"from": relayer})
    chain.sleep(GOVERNANCE_DELAY)
    applied = wired_inbox.applyGovernanceDelay({"from": relayer})
    assert applied.events["GovernanceDelayApplied"] == {"delay": 60}
    assert wired_inbox.governanceDelay() == 60
    assert tuple(wired_inbox.pendingGovernanceDelay()) == (0, 0)


def test_a_delay_above_the_maximum_is_refused(wired_inbox, deployer):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("InboxDelayInvalid", 60 * 86400 + 1, 60 * 86400)):
        wired_inbox.proposeGovernanceDelay(60 * 86400 + 1, {"from": deployer})
    assert inbox_state(wired_inbox) == before


def test_the_admin_cancels_a_pending_delay(wired_inbox, deployer):
    wired_inbox.proposeGovernanceDelay(60, {"from": deployer})
    tx = wired_inbox.cancelGovernanceDelay({"from": deployer})
    assert tx.events["GovernanceDelayProposalCancelled"] == {"delay": 60}
    assert tuple(wired_inbox.pendingGovernanceDelay()) == (0, 0)


# ------------------------------------------------------------------ two-step admin


def test_the_admin_moves_in_two_steps_after_the_admin_delay(wired_inbox, deployer, arbiter, chain):
    tx = wired_inbox.beginDefaultAdminTransfer(arbiter, {"from": deployer})
    schedule = tx.timestamp + ADMIN_DELAY
    assert tuple(wired_inbox.pendingDefaultAdmin()) == (arbiter.address, schedule)
    assert wired_inbox.defaultAdmin() == deployer
    with brownie.reverts(err("AccessControlEnforcedDefaultAdminDelay", schedule)):
        wired_inbox.acceptDefaultAdminTransfer({"from": arbiter})
    chain.sleep(ADMIN_DELAY + 1)
    wired_inbox.acceptDefaultAdminTransfer({"from": arbiter})
    assert wired_inbox.defaultAdmin() == arbiter
    assert not wired_inbox.hasRole(ADMIN_ROLE, deployer)
    with brownie.reverts(err("AccessControlUnauthorizedAccount", deployer.address, ADMIN_ROLE)):
        wired_inbox.proposeGovernanceDelay(60, {"from": deployer})
    proposal = wired_inbox.proposeGovernanceDelay(60, {"from": arbiter})
    assert "GovernanceDelayProposed" in proposal.events


def test_only_the_pending_admin_accepts(wired_inbox, deployer, arbiter, stranger, chain):
    wired_inbox.beginDefaultAdminTransfer(arbiter, {"from": deployer})
    chain.sleep(ADMIN_DELAY + 1)
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("AccessControlInvalidDefaultAdmin", stranger.address)):
        wired_inbox.acceptDefaultAdminTransfer({"from": stranger})
    assert inbox_state(wired_inbox) == before


def test_the_admin_role_cannot_be_granted_directly(wired_inbox, deployer, arbiter):
    before = inbox_state(wired_inbox)
    with brownie.reverts(err("AccessControlEnforcedDefaultAdminRules")):
        wired_inbox.grantRole(ADMIN_ROLE, arbiter, {"from": deployer})
    assert inbox_state(wired_inbox) == before


def test_the_admin_grants_the_guardian_role(wired_inbox, deployer, arbiter):
    tx = wired_inbox.grantRole(GUARDIAN_ROLE, arbiter, {"from": deployer})
    assert tx.events["RoleGranted"]["account"] == arbiter
    assert wired_inbox.hasRole(GUARDIAN_ROLE, arbiter)
    wired_inbox.pause({"from": arbiter})
    assert wired_inbox.paused()
