"""Only the payer (or a relayer presenting the payer's signature) announces a hold; a buyer
can fund a trade again after a rejected attempt (a released hold's id can be placed again);
hold-and-announce announces a matching hold that a front-runner placed through the token
with the same signature instead of reverting (docs/security.md, "Announcing a hold")."""

import brownie
import pytest

from pvd.protocol.messages import Message, Outcome, PaymentHeld
from tests.contracts.fixtures.bridge import deliver_signed, registry_outcome
from tests.contracts.fixtures.token import (
    EXECUTED,
    HELD,
    RELEASED,
    YUAN,
    err,
    new_hold,
    now,
    sign_hold,
    unchanged,
    wallet_key,
)

WEEK = 7 * 86400
PRICE = 200 * YUAN


@pytest.fixture(scope="module")
def side(payment_side):
    return payment_side


def _sent(tx):
    return [Message.decode(bytes(e["message"])) for e in tx.events["MessageSent"]]


@pytest.fixture
def direct(side, buyer, seller):
    """A hold the buyer placed directly on the token, not announced."""
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "direct")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    return hold


def test_a_stranger_cannot_announce_someone_elses_hold(side, direct, buyer, stranger):
    with (
        unchanged(side.token, [buyer], [direct.id()]),
        brownie.reverts(err("SettlementNotPayer", stranger, buyer)),
    ):
        side.settlement.announce(direct.tuple(), {"from": stranger})
    assert not side.settlement.isAnnounced(direct.id())
    assert side.outbox.nextNonce(side.settlement) == 0


def test_the_payer_announces_its_own_hold(side, direct, buyer):
    tx = side.settlement.announce(direct.tuple(), {"from": buyer})
    (sent,) = _sent(tx)
    assert sent.decoded_body().hold_id == direct.id()
    assert tx.events["HoldAnnounced"]["holdId"] == "0x" + direct.id().hex()
    assert side.settlement.isAnnounced(direct.id())


def test_a_buyer_funds_again_after_a_rejected_attempt(side, direct, buyer, seller, relayer):
    """Announced before the seller accepted: Rejected, released. The same hold (same id:
    payer, notary, trade id) can be placed and announced again."""
    side.settlement.announce(direct.tuple(), {"from": buyer})
    rejected = registry_outcome(side.settlement, direct, Outcome.REJECTED)
    tx = deliver_signed(side.inbox, rejected, relayer)
    assert tx.events["HoldReleased"]["amount"] == PRICE
    assert not side.settlement.isAnnounced(direct.id())

    again = side.token.placeHold(
        direct.ref, seller, side.settlement, PRICE, direct.expiry, {"from": buyer}
    )
    assert again.events["HoldPlaced"]["holdId"] == "0x" + direct.id().hex()
    assert side.token.holdStatus(direct.id()) == HELD
    assert side.token.heldBalanceOf(buyer) == PRICE
    announced = side.settlement.announce(direct.tuple(), {"from": buyer})
    assert announced.events["HoldAnnounced"]["holdId"] == "0x" + direct.id().hex()
    # The earlier Rejected outcome is consumed: it can never release the new hold.
    replay = deliver_signed(side.inbox, rejected, relayer)
    assert replay.return_value == 2  # AlreadyConsumed
    assert side.token.holdStatus(direct.id()) == HELD


def test_an_executed_hold_can_never_be_placed_again(side, direct, buyer, seller, relayer):
    side.settlement.announce(direct.tuple(), {"from": buyer})
    deliver_signed(
        side.inbox, registry_outcome(side.settlement, direct, Outcome.DELIVERED), relayer
    )
    with (
        unchanged(side.token, [buyer, seller], [direct.id()]),
        brownie.reverts(err("HoldAlreadyExists", direct.id(), EXECUTED)),
    ):
        side.token.placeHold(
            direct.ref, seller, side.settlement, PRICE, direct.expiry, {"from": buyer}
        )


def test_hold_and_announce_announces_a_front_run_hold(side, wallet_a, seller, relayer, stranger):
    hold = new_hold(wallet_a, seller, side.settlement, PRICE, now() + WEEK, "front-run")
    valid_before = now() + 3600
    signature = sign_hold(side.token, wallet_key("a"), hold, valid_before)
    # The front-runner copies the signature from the mempool and places the hold directly.
    side.token.placeHoldWithAuthorization(hold.tuple(), valid_before, signature, {"from": stranger})
    tx = side.settlement.placeHoldAndAnnounce(
        hold.tuple(), valid_before, signature, {"from": relayer}
    )
    hold_id, message_id = tx.return_value
    assert hold_id == "0x" + hold.id().hex()
    (sent,) = _sent(tx)
    assert bytes(message_id) == sent.id
    assert sent.decoded_body() == PaymentHeld(
        trade_id=hold.ref,
        hold_id=hold.id(),
        payer=wallet_a.address,
        payee=seller.address,
        token=side.token.address,
        amount=PRICE,
        expiry=hold.expiry,
    )
    assert "HoldPlaced" not in tx.events
    # The front-runner's placement was not the notary's: the settlement acknowledges it now.
    assert tx.events["HoldAcknowledged"]["holdId"] == "0x" + hold.id().hex()
    assert side.settlement.isAnnounced(hold.id())
    # ... once: the same signature cannot announce it a second time.
    with (
        unchanged(side.token, [wallet_a], [hold.id()]),
        brownie.reverts(err("HoldAlreadyExists", hold.id(), HELD)),
    ):
        side.settlement.placeHoldAndAnnounce(
            hold.tuple(), valid_before, signature, {"from": relayer}
        )
    assert side.outbox.nextNonce(side.settlement) == 1


def test_hold_and_announce_of_a_front_run_hold_needs_the_payers_signature(
    side, wallet_a, seller, relayer, stranger
):
    hold = new_hold(wallet_a, seller, side.settlement, PRICE, now() + WEEK, "front-run-2")
    valid_before = now() + 3600
    signature = sign_hold(side.token, wallet_key("a"), hold, valid_before)
    side.token.placeHoldWithAuthorization(hold.tuple(), valid_before, signature, {"from": stranger})
    forged = sign_hold(side.token, wallet_key("b"), hold, valid_before)
    with (
        unchanged(side.token, [wallet_a], [hold.id()]),
        brownie.reverts(err("HoldAuthorizationInvalid", wallet_a)),
    ):
        side.settlement.placeHoldAndAnnounce(hold.tuple(), valid_before, forged, {"from": relayer})
    assert not side.settlement.isAnnounced(hold.id())
    assert side.outbox.nextNonce(side.settlement) == 0


def test_hold_and_announce_twice_reverts(side, wallet_a, seller, relayer):
    hold = new_hold(wallet_a, seller, side.settlement, PRICE, now() + WEEK, "twice")
    valid_before = now() + 3600
    signature = sign_hold(side.token, wallet_key("a"), hold, valid_before)
    side.settlement.placeHoldAndAnnounce(hold.tuple(), valid_before, signature, {"from": relayer})
    with (
        unchanged(side.token, [wallet_a], [hold.id()]),
        brownie.reverts(err("HoldAlreadyExists", hold.id(), HELD)),
    ):
        side.settlement.placeHoldAndAnnounce(
            hold.tuple(), valid_before, signature, {"from": relayer}
        )
    assert side.outbox.nextNonce(side.settlement) == 1


def test_a_released_hold_is_not_announced(side, buyer, seller):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + 100, "gone")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    brownie.chain.sleep(200)
    side.token.releaseHold(hold.tuple(), {"from": buyer})
    with brownie.reverts(err("SettlementHoldNotHeld", hold.id(), RELEASED)):
        side.settlement.announce(hold.tuple(), {"from": buyer})
