"""Two deployments with the same chain id, inbox address, domain ids and attester keys never
accept each other's messages: the deployment id is bound into what attesters sign (the
inbox's EIP-712 salt). On one chain two inboxes cannot share an address, so the other
deployment's signature is made for this inbox's address with the other deployment's id:
exactly what the other deployment's attesters sign when its inbox has the same address."""

import brownie

from pvd.protocol import attestation
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    DEPLOYMENT_ID,
    inbox_state,
    is_consumed,
    outcome_message,
    sign,
)

OTHER_DEPLOYMENT = bytes.fromhex("d2" * 32)


def test_the_inbox_reports_its_deployment_id_and_binds_it_into_its_domain(wired_inbox):
    assert bytes(wired_inbox.deploymentId()) == DEPLOYMENT_ID
    domain = wired_inbox.eip712Domain()
    expected = attestation.InboxDomain(
        brownie.chain.id, wired_inbox.address, wired_inbox.localDomain(), DEPLOYMENT_ID
    )
    assert bytes(domain[5]) == expected.salt
    assert bytes(wired_inbox.domainSeparator()) == attestation.domain_separator(expected)


def test_a_message_signed_for_another_deployment_is_refused(wired_inbox, app, relayer):
    message = outcome_message(app)
    replayed = sign(wired_inbox, message, ATTESTERS[:2], deployment=OTHER_DEPLOYMENT)
    where = attestation.InboxDomain(
        brownie.chain.id, wired_inbox.address, wired_inbox.localDomain(), OTHER_DEPLOYMENT
    )
    # The same keys, the same chain, address and domain: only the deployment id differs, so
    # the inbox recovers someone who is not an attester.
    signer = attestation.recover(
        message,
        attestation.InboxDomain(
            brownie.chain.id, wired_inbox.address, wired_inbox.localDomain(), DEPLOYMENT_ID
        ),
        replayed[:65],
    )
    assert attestation.recover(message, where, replayed[:65]) == ATTESTERS[0].address
    assert signer != ATTESTERS[0].address
    before = (inbox_state(wired_inbox, message), app.received())
    with brownie.reverts():
        wired_inbox.deliver(message.encode(), replayed, {"from": relayer})
    assert (inbox_state(wired_inbox, message), app.received()) == before
    # The same message signed for this deployment is delivered.
    tx = wired_inbox.deliver(
        message.encode(), sign(wired_inbox, message, ATTESTERS[:2]), {"from": relayer}
    )
    assert "MessageDelivered" in tx.events


def test_two_inboxes_differing_only_in_deployment_id_refuse_each_others_signatures(
    Inbox, MockApp, deployer, guardian, relayer
):
    """Deployed by the same key on the same chain with the same domain and attesters."""
    from tests.contracts.fixtures.bridge import (
        BUSINESS_APP,
        BUSINESS_DOMAIN,
        PAYMENT_DOMAIN,
        deploy_inbox,
    )

    inboxes = []
    for deployment in (DEPLOYMENT_ID, OTHER_DEPLOYMENT):
        inbox = deploy_inbox(
            Inbox, deployer, guardian, PAYMENT_DOMAIN, ATTESTERS[:3], 2, deployment
        )
        recipient = MockApp.deploy(inbox, {"from": deployer})
        inbox.proposePeer(BUSINESS_DOMAIN, BUSINESS_APP, recipient, {"from": deployer})
        inboxes.append((inbox, recipient))
    (_a, _app_a), (b, app_b) = inboxes
    message_for_b = outcome_message(app_b)
    # Signed by b's attesters for b, but with a's deployment id (a's view of the world).
    foreign = sign(b, message_for_b, ATTESTERS[:2], deployment=DEPLOYMENT_ID)
    with brownie.reverts():
        b.deliver(message_for_b.encode(), foreign, {"from": relayer})
    assert not is_consumed(b, message_for_b)
    assert (
        "MessageDelivered"
        in b.deliver(
            message_for_b.encode(), sign(b, message_for_b, ATTESTERS[:2]), {"from": relayer}
        ).events
    )
