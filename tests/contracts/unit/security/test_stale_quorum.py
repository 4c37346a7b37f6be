"""A message verified under an old attester set never takes effect after a rotation without
a fresh quorum; governance voids a Failed message; an outcome that finds no hold is a
terminal, flagged no-op (docs/security.md, "A stolen quorum").

The attack these tests replay: a quorum of stolen keys signs a Delivered outcome for a trade
whose hold is not placed yet (or is placed but cannot be executed right now); the inbox
parks it as Failed; the operators pause, rotate the attester set and unpause; the buyer
funds; anyone calls `retry` and the seller is paid for a trade that was never shipped."""

import brownie
import pytest
from brownie import chain, web3

from pvd.protocol.messages import Outcome
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    GOVERNANCE_DELAY,
    deliver_signed,
    delivery_status,
    inbox_state,
    is_consumed,
    registry_outcome,
    sign,
)
from tests.contracts.fixtures.token import (
    HELD,
    RELEASED,
    YUAN,
    err,
    new_hold,
    now,
)

DELIVERED, FAILED, ALREADY_CONSUMED = 0, 1, 2
STATUS_NONE, STATUS_DELIVERED, STATUS_FAILED, STATUS_VOIDED = range(4)
WEEK = 7 * 86400
PRICE = 500 * YUAN
NEW_SET = ATTESTERS[2:5]  # the set the operators rotate to (none of the stolen keys)
STOLEN = ATTESTERS[:2]  # a quorum of the first set


@pytest.fixture(scope="module")
def side(payment_side):
    return payment_side


def _rotate(inbox, admin, members=NEW_SET, threshold=2):
    """Propose a new attester set, wait the governance delay, apply it."""
    inbox.proposeAttesterSet(
        sorted((a.address for a in members), key=lambda a: int(a, 16)), threshold, {"from": admin}
    )
    chain.sleep(GOVERNANCE_DELAY + 1)
    inbox.applyAttesterSet({"from": admin})


def _written(tx):
    """The accounts whose storage, balance, nonce or code `tx` changed (the node's
    prestate tracer in diff mode). anvil's eth_getProof storage root moves when a sub-call
    that reverted only read an empty slot, so a successful transaction that must not touch a
    contract is checked here, not with storage roots."""
    trace = web3.provider.make_request(
        "debug_traceTransaction",
        [tx.txid, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}],
    )
    return {address.lower() for address in trace["result"]["post"]}


def _balances(token, *accounts_):
    return tuple((token.balanceOf(a), token.heldBalanceOf(a)) for a in accounts_)


def test_a_forged_outcome_for_a_hold_not_placed_yet_cannot_pay_after_rotation(
    side, buyer, seller, deployer, guardian, stranger, relayer
):
    """The review's proof of concept: forge, park, pause, rotate, unpause, fund, retry."""
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "never-shipped")
    forged = registry_outcome(side.settlement, hold, Outcome.DELIVERED, nonce=7)
    tx = deliver_signed(side.inbox, forged, relayer, STOLEN)
    # Terminal, flagged no-op: consumed as Delivered, nothing moved, nothing sent back.
    assert tx.return_value == DELIVERED
    assert tx.events["OutcomeWithoutHold"] == {
        "tradeId": "0x" + hold.ref.hex(),
        "holdId": "0x" + hold.id().hex(),
        "outcomeId": "0x" + forged.id.hex(),
        "outcome": int(Outcome.DELIVERED),
    }
    assert "MessageSent" not in tx.events
    assert "TradeSettled" not in tx.events
    assert side.token.address.lower() not in _written(tx)
    assert delivery_status(side.inbox, forged) == STATUS_DELIVERED

    side.inbox.pause({"from": guardian})
    _rotate(side.inbox, deployer)
    side.inbox.unpause({"from": deployer})
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})

    before = _balances(side.token, buyer, seller)
    with brownie.reverts(err("InboxNotRetryable", forged.id, STATUS_DELIVERED)):
        side.inbox.retry(forged.encode(), {"from": stranger})
    assert _balances(side.token, buyer, seller) == before
    assert side.token.holdStatus(hold.id()) == HELD


@pytest.mark.parametrize("outcome", [Outcome.EXPIRED, Outcome.REJECTED])
def test_a_refund_outcome_for_a_hold_never_placed_is_a_flagged_no_op(
    side, buyer, seller, relayer, outcome
):
    ghost = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "ghost-refund")
    message = registry_outcome(side.settlement, ghost, outcome)
    before = (_balances(side.token, buyer, seller), side.token.holdStatus(ghost.id()))
    tx = deliver_signed(side.inbox, message, relayer)
    assert (_balances(side.token, buyer, seller), side.token.holdStatus(ghost.id())) == before
    written = _written(tx)
    assert side.token.address.lower() not in written
    assert side.settlement.address.lower() not in written
    assert tx.return_value == DELIVERED
    assert tx.events["OutcomeWithoutHold"]["outcome"] == int(outcome)
    assert "MessageSent" not in tx.events
    assert side.outbox.nextNonce(side.settlement) == 0


def test_a_failed_forgery_cannot_be_retried_under_a_new_attester_set(
    side, buyer, seller, deployer, guardian, pauser, stranger, relayer
):
    """The hold exists but the token is paused: the forged Delivered outcome fails and is
    parked. After the rotation, `retry` refuses it (stale epoch), whatever else changes."""
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "parked")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    side.token.pause({"from": pauser})
    forged = registry_outcome(side.settlement, hold, Outcome.DELIVERED, nonce=8)
    tx = deliver_signed(side.inbox, forged, relayer, STOLEN)
    assert tx.return_value == FAILED
    assert side.inbox.failedEpochOf(forged.id) == 1

    side.inbox.pause({"from": guardian})
    _rotate(side.inbox, deployer)
    side.inbox.unpause({"from": deployer})
    side.token.unpause({"from": pauser})

    before = (inbox_state(side.inbox, forged), _balances(side.token, buyer, seller))
    with brownie.reverts(err("InboxRetryStaleEpoch", forged.id, 1, 2)):
        side.inbox.retry(forged.encode(), {"from": stranger})
    assert (inbox_state(side.inbox, forged), _balances(side.token, buyer, seller)) == before
    # The stolen keys cannot refresh it either: they are not the current set.
    with brownie.reverts(err("InboxSignerNotAttester", 0, STOLEN[0].address)):
        side.inbox.deliver(forged.encode(), sign(side.inbox, forged, STOLEN), {"from": relayer})
    assert side.token.holdStatus(hold.id()) == HELD


def test_governance_voids_a_failed_message(side, buyer, seller, deployer, pauser, relayer):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "voided")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    side.token.pause({"from": pauser})
    forged = registry_outcome(side.settlement, hold, Outcome.DELIVERED, nonce=9)
    deliver_signed(side.inbox, forged, relayer, STOLEN)
    tx = side.inbox.voidMessage(forged.id, {"from": deployer})
    assert tx.events["MessageVoided"] == {
        "messageId": "0x" + forged.id.hex(),
        "admin": deployer,
    }
    assert delivery_status(side.inbox, forged) == STATUS_VOIDED
    assert tuple(side.inbox.failureOf(forged.id)) == (STATUS_VOIDED, 1)
    assert is_consumed(side.inbox, forged)
    with brownie.reverts(err("InboxNotVoidable", forged.id, STATUS_VOIDED)):
        side.inbox.voidMessage(forged.id, {"from": deployer})
    side.token.unpause({"from": pauser})
    with brownie.reverts(err("InboxNotRetryable", forged.id, STATUS_VOIDED)):
        side.inbox.retry(forged.encode(), {"from": relayer})
    replay = deliver_signed(side.inbox, forged, relayer, STOLEN)
    assert replay.return_value == ALREADY_CONSUMED
    assert side.token.holdStatus(hold.id()) == HELD


def test_an_honest_failed_outcome_takes_effect_with_a_fresh_quorum_after_rotation(
    side, buyer, seller, deployer, pauser, stranger, relayer
):
    """A genuine Delivered outcome refused by a paused token, then a rotation: the new set
    signs it again and delivering it with their signatures pays the seller."""
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "honest")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    side.token.pause({"from": pauser})
    outcome = registry_outcome(side.settlement, hold, Outcome.DELIVERED, nonce=10)
    assert deliver_signed(side.inbox, outcome, relayer).return_value == FAILED
    _rotate(side.inbox, deployer)
    side.token.unpause({"from": pauser})
    fresh = sorted(NEW_SET[:2], key=lambda a: int(a.address, 16))
    tx = side.inbox.deliver(outcome.encode(), sign(side.inbox, outcome, fresh), {"from": stranger})
    assert tx.return_value == DELIVERED
    assert "HoldExecuted" in tx.events
    assert tx.events["MessageDelivered"]["deliverer"] == stranger
    assert delivery_status(side.inbox, outcome) == STATUS_DELIVERED
    assert tuple(side.inbox.failureOf(outcome.id)) == (STATUS_NONE, 0)
    # Delivered for good: the same fresh quorum again is a no-op.
    again = side.inbox.deliver(
        outcome.encode(), sign(side.inbox, outcome, fresh), {"from": stranger}
    )
    assert again.return_value == ALREADY_CONSUMED


def test_a_failed_message_of_the_current_epoch_is_still_retried_without_signatures(
    side, buyer, seller, pauser, stranger, relayer
):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "same-epoch")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    side.token.pause({"from": pauser})
    outcome = registry_outcome(side.settlement, hold, Outcome.DELIVERED, nonce=11)
    deliver_signed(side.inbox, outcome, relayer)
    side.token.unpause({"from": pauser})
    tx = side.inbox.retry(outcome.encode(), {"from": stranger})
    assert "HoldExecuted" in tx.events


def test_only_the_admin_voids(side, buyer, seller, pauser, guardian, relayer):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "void-auth")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    side.token.pause({"from": pauser})
    outcome = registry_outcome(side.settlement, hold, Outcome.DELIVERED, nonce=12)
    deliver_signed(side.inbox, outcome, relayer)
    before = inbox_state(side.inbox, outcome)
    with brownie.reverts(err("AccessControlUnauthorizedAccount", guardian, b"\x00" * 32)):
        side.inbox.voidMessage(outcome.id, {"from": guardian})
    assert inbox_state(side.inbox, outcome) == before


@pytest.mark.parametrize("delivered", [False, True])
def test_only_a_failed_message_can_be_voided(side, deployer, buyer, seller, relayer, delivered):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "void-state")
    message = registry_outcome(side.settlement, hold, Outcome.EXPIRED, nonce=13)
    if delivered:
        deliver_signed(side.inbox, message, relayer)
    # The error carries the id's failure record: None whether never delivered or delivered.
    before = inbox_state(side.inbox, message)
    with brownie.reverts(err("InboxNotVoidable", message.id, STATUS_NONE)):
        side.inbox.voidMessage(message.id, {"from": deployer})
    assert inbox_state(side.inbox, message) == before


def test_a_released_hold_found_by_a_delivered_outcome_is_not_a_no_op(
    side, buyer, seller, relayer, stranger
):
    """Only a hold never placed is a no-op: a released one is still Refunded and flagged."""
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + 100, "released-first")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    chain.sleep(200)
    side.token.releaseHold(hold.tuple(), {"from": stranger})
    tx = deliver_signed(
        side.inbox, registry_outcome(side.settlement, hold, Outcome.DELIVERED), relayer
    )
    assert "DeliveredAfterRefund" in tx.events
    assert "OutcomeWithoutHold" not in tx.events
    assert side.token.holdStatus(hold.id()) == RELEASED
