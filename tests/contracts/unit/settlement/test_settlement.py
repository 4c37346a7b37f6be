"""PvdSettlement against the real YuanToken, on one chain with direct delivery (the test
plays the business chain's registry and the attesters): hold-and-announce, announce, both
endings, late delivery, passing faults kept for retry, and every refusal with nothing
changed (C5). Invariants: X1 (executed => Delivered outcome for exactly that hold), X2
(Expired/Rejected => no payment to the seller), X3 (no hold both executed and released)."""

import brownie
import pytest
from brownie import chain

from pvd.protocol.messages import Message, Outcome, PaymentHeld, PaymentSettled, SettlementResult
from tests.contracts.fixtures.bridge import (
    BUSINESS_DOMAIN,
    PAYMENT_DOMAIN,
    REGISTRY,
    deliver_signed,
    delivery_status,
    registry_outcome,
)

pytest.importorskip("tests.contracts.fixtures.token", reason="needs YuanToken (contracts/token)")

from tests.contracts.fixtures.token import (
    EXECUTED,
    HELD,
    NONE,
    RELEASED,
    YUAN,
    err,
    new_hold,
    now,
    sign_hold,
    unchanged,
    wallet_key,
)

DELIVERED, FAILED, ALREADY_CONSUMED = 0, 1, 2
STATUS_DELIVERED, STATUS_FAILED = 1, 2
WEEK = 7 * 86400
PRICE = 1_234 * YUAN


@pytest.fixture(scope="module")
def side(payment_side):
    return payment_side


@pytest.fixture
def signed_hold(side, wallet_a, seller):
    """A hold wallet_a (a keyed class I wallet) signs for the seller, with the settlement as
    notary, and its signature (valid for an hour)."""
    hold = new_hold(wallet_a, seller, side.settlement, PRICE, now() + WEEK, "trade-1")
    valid_before = now() + 3600
    return hold, valid_before, sign_hold(side.token, wallet_key("a"), hold, valid_before)


@pytest.fixture
def announced(side, signed_hold, relayer):
    """The signed hold, placed and announced."""
    hold, valid_before, signature = signed_hold
    side.settlement.placeHoldAndAnnounce(hold.tuple(), valid_before, signature, {"from": relayer})
    return hold


def _balances(token, *accounts_):
    return tuple((token.balanceOf(a), token.heldBalanceOf(a)) for a in accounts_)


def _sent(tx):
    """The outbox's MessageSent events of `tx`, decoded."""
    return [Message.decode(bytes(e["message"])) for e in tx.events["MessageSent"]]


# -------------------------------------------------------------------- hold and announce


def test_hold_and_announce_places_the_hold_and_sends_payment_held(
    side, signed_hold, wallet_a, seller, relayer
):
    hold, valid_before, signature = signed_hold
    tx = side.settlement.placeHoldAndAnnounce(
        hold.tuple(), valid_before, signature, {"from": relayer}
    )
    hold_id, message_id = tx.return_value
    assert hold_id == "0x" + hold.id().hex()
    placed = tx.events["HoldPlaced"]
    assert (placed["payer"], placed["payee"], placed["notary"]) == (
        wallet_a,
        seller,
        side.settlement,
    )
    assert side.token.holdStatus(hold.id()) == HELD
    assert side.token.heldBalanceOf(wallet_a) == PRICE
    (sent,) = _sent(tx)
    assert bytes(message_id) == sent.id
    assert (sent.source_domain, sent.source_app) == (PAYMENT_DOMAIN, side.settlement.address)
    assert (sent.destination_domain, sent.destination_app) == (BUSINESS_DOMAIN, REGISTRY)
    assert sent.decoded_body() == PaymentHeld(
        trade_id=hold.ref,
        hold_id=hold.id(),
        payer=wallet_a.address,
        payee=seller.address,
        token=side.token.address,
        amount=PRICE,
        expiry=hold.expiry,
    )
    assert tx.events["HoldAnnounced"] == {
        "holdId": "0x" + hold.id().hex(),
        "tradeId": "0x" + hold.ref.hex(),
        "messageId": "0x" + sent.id.hex(),
    }
    # Placed by its notary: acknowledged (announced) in the placing write, no second write.
    assert "HoldAcknowledged" not in tx.events
    assert side.token.isHoldAcknowledged(hold.id())
    assert side.settlement.isAnnounced(hold.id())


def test_hold_and_announce_refuses_a_hold_with_another_notary(
    side, wallet_a, seller, arbiter, relayer
):
    hold = new_hold(wallet_a, seller, arbiter, PRICE, now() + WEEK)
    signature = sign_hold(side.token, wallet_key("a"), hold, now() + 3600)
    with (
        unchanged(side.token, [wallet_a, seller]),
        brownie.reverts(err("SettlementNotNotary", arbiter)),
    ):
        side.settlement.placeHoldAndAnnounce(
            hold.tuple(), now() + 3600, signature, {"from": relayer}
        )
    assert side.outbox.nextNonce(side.settlement) == 0


def test_hold_and_announce_refuses_a_zero_reference(side, wallet_a, seller, relayer):
    hold = new_hold(wallet_a, seller, side.settlement, PRICE, now() + WEEK).but(ref=b"\x00" * 32)
    signature = sign_hold(side.token, wallet_key("a"), hold, now() + 3600)
    with unchanged(side.token, [wallet_a]), brownie.reverts(err("SettlementReferenceZero")):
        side.settlement.placeHoldAndAnnounce(
            hold.tuple(), now() + 3600, signature, {"from": relayer}
        )
    assert side.outbox.nextNonce(side.settlement) == 0


def test_hold_and_announce_refuses_a_signature_by_someone_else(
    side, signed_hold, wallet_a, relayer
):
    hold, valid_before, _ = signed_hold
    forged = sign_hold(side.token, wallet_key("b"), hold, valid_before)
    with (
        unchanged(side.token, [wallet_a], [hold.id()]),
        brownie.reverts(err("HoldAuthorizationInvalid", wallet_a)),
    ):
        side.settlement.placeHoldAndAnnounce(hold.tuple(), valid_before, forged, {"from": relayer})
    assert not side.settlement.isAnnounced(hold.id())
    assert side.outbox.nextNonce(side.settlement) == 0


# ----------------------------------------------------------------------------- announce


def test_the_payer_announces_a_hold_placed_directly(side, buyer, seller):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "trade-direct")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    tx = side.settlement.announce(hold.tuple(), {"from": buyer})
    (sent,) = _sent(tx)
    body = sent.decoded_body()
    assert (body.trade_id, body.hold_id, body.amount, body.payee) == (
        hold.ref,
        hold.id(),
        PRICE,
        seller.address,
    )
    assert tx.events["HoldAnnounced"]["messageId"] == "0x" + sent.id.hex()
    # The announced mark is the token's acknowledgement by the notary, in the hold's slot.
    assert tx.events["HoldAcknowledged"] == {
        "holdId": "0x" + hold.id().hex(),
        "notary": side.settlement.address,
    }
    assert side.token.isHoldAcknowledged(hold.id())
    assert side.settlement.isAnnounced(hold.id())


def test_a_hold_cannot_be_announced_twice(side, announced, wallet_a):
    with (
        unchanged(side.token, holds=[announced.id()]),
        brownie.reverts(err("SettlementAlreadyAnnounced", announced.id())),
    ):
        side.settlement.announce(announced.tuple(), {"from": wallet_a})
    assert side.outbox.nextNonce(side.settlement) == 1


def test_announce_refuses_fields_the_payer_did_not_place(side, buyer, seller):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "trade-small")
    side.token.placeHold(hold.ref, seller, side.settlement, 1, hold.expiry, {"from": buyer})
    with (
        unchanged(side.token, [buyer], [hold.id()]),
        brownie.reverts(err("HoldMismatch", hold.id())),
    ):
        side.settlement.announce(hold.tuple(), {"from": buyer})
    assert not side.settlement.isAnnounced(hold.id())
    assert side.outbox.nextNonce(side.settlement) == 0


def test_announce_refuses_a_hold_that_was_never_placed(side, buyer, seller):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "trade-none")
    with brownie.reverts(err("SettlementHoldNotHeld", hold.id(), NONE)):
        side.settlement.announce(hold.tuple(), {"from": buyer})
    assert side.outbox.nextNonce(side.settlement) == 0


def test_announce_refuses_a_released_hold(side, buyer, seller, stranger):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + 100, "trade-gone")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    chain.sleep(200)
    side.token.releaseHold(hold.tuple(), {"from": stranger})
    with brownie.reverts(err("SettlementHoldNotHeld", hold.id(), RELEASED)):
        side.settlement.announce(hold.tuple(), {"from": buyer})
    assert side.outbox.nextNonce(side.settlement) == 0


def test_announce_refuses_a_hold_for_another_notary(side, buyer, seller, arbiter):
    hold = new_hold(buyer, seller, arbiter, PRICE, now() + WEEK, "trade-other")
    side.token.placeHold(hold.ref, seller, arbiter, PRICE, hold.expiry, {"from": buyer})
    with brownie.reverts(err("SettlementNotNotary", arbiter)):
        side.settlement.announce(hold.tuple(), {"from": buyer})


# ------------------------------------------------------------------------------ endings


def test_a_delivered_outcome_pays_the_seller_and_reports_paid(
    side, announced, wallet_a, seller, relayer
):
    """X1: the hold is executed only on a Delivered outcome for exactly this hold."""
    before = _balances(side.token, wallet_a, seller)
    message = registry_outcome(side.settlement, announced, Outcome.DELIVERED)
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.return_value == DELIVERED
    assert tx.events["HoldExecuted"]["amount"] == PRICE
    assert side.token.holdStatus(announced.id()) == EXECUTED
    (wa, wa_held), (sl, _) = before
    assert _balances(side.token, wallet_a, seller) == (
        (wa - PRICE, wa_held - PRICE),
        (sl + PRICE, 0),
    )
    (reply,) = _sent(tx)
    assert (reply.destination_domain, reply.destination_app) == (BUSINESS_DOMAIN, REGISTRY)
    assert reply.decoded_body() == PaymentSettled(
        announced.ref, announced.id(), SettlementResult.PAID, PRICE
    )
    assert tx.events["TradeSettled"] == {
        "tradeId": "0x" + announced.ref.hex(),
        "holdId": "0x" + announced.id().hex(),
        "outcomeId": "0x" + message.id.hex(),
        "outcome": int(Outcome.DELIVERED),
        "result": int(SettlementResult.PAID),
    }


@pytest.mark.parametrize("outcome", [Outcome.EXPIRED, Outcome.REJECTED])
def test_an_expired_or_rejected_outcome_refunds_the_buyer(
    side, announced, wallet_a, seller, relayer, outcome
):
    """X2: an Expired or Rejected trade pays the seller nothing."""
    before = _balances(side.token, wallet_a, seller)
    tx = deliver_signed(side.inbox, registry_outcome(side.settlement, announced, outcome), relayer)
    assert tx.events["HoldReleased"]["amount"] == PRICE
    assert "HoldExecuted" not in tx.events
    assert side.token.holdStatus(announced.id()) == RELEASED
    (wa, wa_held), seller_before = before
    assert _balances(side.token, wallet_a, seller) == ((wa, wa_held - PRICE), seller_before)
    (reply,) = _sent(tx)
    assert reply.decoded_body().result == SettlementResult.REFUNDED


def test_a_replayed_outcome_moves_nothing_twice(side, announced, wallet_a, seller, relayer):
    """X3 and R2: resubmitting never causes a second effect."""
    message = registry_outcome(side.settlement, announced, Outcome.DELIVERED)
    deliver_signed(side.inbox, message, relayer)
    before = (_balances(side.token, wallet_a, seller), side.outbox.nextNonce(side.settlement))
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.return_value == ALREADY_CONSUMED
    assert (
        _balances(side.token, wallet_a, seller),
        side.outbox.nextNonce(side.settlement),
    ) == before


def test_a_delivered_outcome_after_the_hold_was_released_at_expiry_reports_refunded_and_flags(
    side, announced, wallet_a, seller, relayer, stranger
):
    chain.sleep(WEEK + 1)
    side.token.releaseHold(announced.tuple(), {"from": stranger})
    before = _balances(side.token, wallet_a, seller)
    message = registry_outcome(side.settlement, announced, Outcome.DELIVERED)
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.return_value == DELIVERED
    assert tx.events["DeliveredAfterRefund"] == {
        "tradeId": "0x" + announced.ref.hex(),
        "holdId": "0x" + announced.id().hex(),
        "outcomeId": "0x" + message.id.hex(),
    }
    assert _balances(side.token, wallet_a, seller) == before
    (reply,) = _sent(tx)
    assert reply.decoded_body().result == SettlementResult.REFUNDED


def test_a_delivered_outcome_past_expiry_releases_the_hold_and_flags(
    side, announced, wallet_a, seller, relayer
):
    chain.sleep(WEEK + 1)
    before = _balances(side.token, wallet_a, seller)
    tx = deliver_signed(
        side.inbox, registry_outcome(side.settlement, announced, Outcome.DELIVERED), relayer
    )
    assert "HoldReleased" in tx.events
    assert "HoldExecuted" not in tx.events
    assert "DeliveredAfterRefund" in tx.events
    assert side.token.holdStatus(announced.id()) == RELEASED
    (wa, wa_held), seller_before = before
    assert _balances(side.token, wallet_a, seller) == ((wa, wa_held - PRICE), seller_before)
    assert _sent(tx)[0].decoded_body().result == SettlementResult.REFUNDED


def test_an_expired_outcome_after_the_hold_was_released_still_reports_refunded(
    side, announced, relayer, stranger
):
    chain.sleep(WEEK + 1)
    side.token.releaseHold(announced.tuple(), {"from": stranger})
    tx = deliver_signed(
        side.inbox, registry_outcome(side.settlement, announced, Outcome.EXPIRED), relayer
    )
    assert "DeliveredAfterRefund" not in tx.events
    assert _sent(tx)[0].decoded_body().result == SettlementResult.REFUNDED


def test_a_contradicting_outcome_after_payment_moves_nothing_and_flags(
    side, announced, wallet_a, seller, relayer
):
    deliver_signed(
        side.inbox, registry_outcome(side.settlement, announced, Outcome.DELIVERED), relayer
    )
    before = _balances(side.token, wallet_a, seller)
    message = registry_outcome(side.settlement, announced, Outcome.EXPIRED, nonce=1)
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.events["OutcomeAfterPayment"]["outcome"] == int(Outcome.EXPIRED)
    assert _balances(side.token, wallet_a, seller) == before
    assert side.token.holdStatus(announced.id()) == EXECUTED
    assert _sent(tx)[0].decoded_body().result == SettlementResult.PAID


# ----------------------------------------------------------------- passing faults (L2)


def test_a_paused_token_keeps_a_delivered_outcome_for_retry(
    side, announced, wallet_a, seller, pauser, relayer, stranger
):
    side.token.pause({"from": pauser})
    message = registry_outcome(side.settlement, announced, Outcome.DELIVERED)
    before = _balances(side.token, wallet_a, seller)
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.return_value == FAILED
    assert bytes(tx.events["MessageFailed"]["reason"]) == bytes.fromhex(
        "d93c0665"
    )  # EnforcedPause()
    assert delivery_status(side.inbox, message) == STATUS_FAILED
    assert _balances(side.token, wallet_a, seller) == before
    assert side.token.holdStatus(announced.id()) == HELD
    assert side.outbox.nextNonce(side.settlement) == 1  # only the announcement
    side.token.unpause({"from": pauser})
    retried = side.inbox.retry(message.encode(), {"from": stranger})
    assert "HoldExecuted" in retried.events
    assert delivery_status(side.inbox, message) == STATUS_DELIVERED
    assert _sent(retried)[0].decoded_body().result == SettlementResult.PAID


def test_a_frozen_seller_keeps_a_delivered_outcome_for_retry(
    side, announced, wallet_a, seller, compliance_officer, relayer, stranger
):
    side.token.freeze(seller, {"from": compliance_officer})
    message = registry_outcome(side.settlement, announced, Outcome.DELIVERED)
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.return_value == FAILED
    assert side.token.holdStatus(announced.id()) == HELD
    side.token.unfreeze(seller, {"from": compliance_officer})
    retried = side.inbox.retry(message.encode(), {"from": stranger})
    assert "HoldExecuted" in retried.events


def test_a_paused_token_still_refunds_on_an_expired_outcome(
    side, announced, wallet_a, pauser, relayer
):
    side.token.pause({"from": pauser})
    tx = deliver_signed(
        side.inbox, registry_outcome(side.settlement, announced, Outcome.EXPIRED), relayer
    )
    assert tx.return_value == DELIVERED
    assert "HoldReleased" in tx.events
    assert side.token.heldBalanceOf(wallet_a) == 0


def test_a_failed_outcome_blocks_no_other_trade(
    side, announced, buyer, seller, compliance_officer, relayer
):
    other = new_hold(buyer, seller, side.settlement, 10 * YUAN, now() + WEEK, "trade-2")
    side.token.placeHold(
        other.ref, seller, side.settlement, other.amount, other.expiry, {"from": buyer}
    )
    side.token.freeze(announced.payer, {"from": compliance_officer})
    first = deliver_signed(
        side.inbox, registry_outcome(side.settlement, announced, Outcome.DELIVERED), relayer
    )
    assert first.return_value == FAILED
    second = deliver_signed(
        side.inbox, registry_outcome(side.settlement, other, Outcome.DELIVERED, nonce=1), relayer
    )
    assert second.return_value == DELIVERED
    assert side.token.holdStatus(other.id()) == EXECUTED


def test_an_outcome_with_fields_the_payer_did_not_place_is_a_flagged_no_op(
    side, announced, wallet_a, seller, relayer
):
    """No matching hold: consumed, flagged, nothing moved, no reply (never retryable)."""
    before = _balances(side.token, wallet_a, seller)
    message = registry_outcome(side.settlement, announced, Outcome.DELIVERED, amount=PRICE + 1)
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.return_value == DELIVERED
    assert tx.events["OutcomeWithoutHold"]["outcomeId"] == "0x" + message.id.hex()
    assert "MessageSent" not in tx.events
    assert _balances(side.token, wallet_a, seller) == before
    assert side.token.holdStatus(announced.id()) == HELD


def test_an_outcome_for_a_hold_never_placed_is_a_flagged_no_op(side, wallet_a, seller, relayer):
    """Not kept as Failed: a hold placed later must never satisfy it on retry."""
    ghost = new_hold(wallet_a, seller, side.settlement, PRICE, now() + WEEK, "trade-ghost")
    message = registry_outcome(side.settlement, ghost, Outcome.DELIVERED)
    before = (_balances(side.token, wallet_a, seller), side.token.holdStatus(ghost.id()))
    tx = deliver_signed(side.inbox, message, relayer)
    assert tx.return_value == DELIVERED
    assert tx.events["OutcomeWithoutHold"]["holdId"] == "0x" + ghost.id().hex()
    assert (_balances(side.token, wallet_a, seller), side.token.holdStatus(ghost.id())) == before
    assert side.outbox.nextNonce(side.settlement) == 0


# -------------------------------------------------------------------- access and wiring


def test_only_the_inbox_delivers_to_the_settlement(side, announced, stranger):
    message = registry_outcome(side.settlement, announced, Outcome.DELIVERED)
    with (
        unchanged(side.token, holds=[announced.id()]),
        brownie.reverts(err("SettlementNotInbox", stranger)),
    ):
        side.settlement.receiveMessage(
            BUSINESS_DOMAIN, REGISTRY, message.id, 2, message.body, {"from": stranger}
        )


def test_the_settlement_refuses_another_source_even_from_its_inbox(
    PvdSettlement, Outbox, yuan, deployer, stranger
):
    """A settlement whose "inbox" is the deployer, to call receiveMessage directly."""
    outbox = Outbox.deploy(PAYMENT_DOMAIN, deployer, 3600, {"from": deployer})
    settlement = PvdSettlement.deploy(
        yuan, outbox, deployer, BUSINESS_DOMAIN, REGISTRY, {"from": deployer}
    )
    body = b"\x00" * 224
    with brownie.reverts(err("SettlementUnknownSource", BUSINESS_DOMAIN, stranger)):
        settlement.receiveMessage(
            BUSINESS_DOMAIN, stranger, b"\x01" * 32, 2, body, {"from": deployer}
        )
    with brownie.reverts(err("SettlementUnknownSource", 9, REGISTRY)):
        settlement.receiveMessage(9, REGISTRY, b"\x01" * 32, 2, body, {"from": deployer})
    with brownie.reverts(err("SettlementUnexpectedKind", 1)):
        settlement.receiveMessage(
            BUSINESS_DOMAIN, REGISTRY, b"\x01" * 32, 1, body, {"from": deployer}
        )
    assert outbox.nextNonce(settlement) == 0


@pytest.mark.parametrize(
    "word, value",
    [(0, 2**256 - 1), (None, None), (2, 4), (3, 1 << 160), (4, 1 << 160), (6, 1 << 64)],
    ids=[
        "well_formed",
        "short_body",
        "outcome_out_of_range",
        "payer_dirty",
        "payee_dirty",
        "expiry_too_big",
    ],
)
def test_the_settlement_refuses_a_malformed_outcome_body_even_from_its_inbox(
    PvdSettlement, Outbox, yuan, deployer, word, value
):
    """The settlement reads the outcome in place but checks it as strictly as the codec:
    its length, and each address, enum and uint64 word when it is read."""
    outbox = Outbox.deploy(PAYMENT_DOMAIN, deployer, 3600, {"from": deployer})
    settlement = PvdSettlement.deploy(
        yuan, outbox, deployer, BUSINESS_DOMAIN, REGISTRY, {"from": deployer}
    )
    words = [1, 2, 1, 0xA, 0xB, 100, 2**40]
    if word is None:
        body = b"".join(w.to_bytes(32, "big") for w in words)[:-1]
        expected = err("MessageBodyLength", 2, 223, 224)
    else:
        words[word] = value
        body = b"".join(w.to_bytes(32, "big") for w in words)
        expected = None
    if word == 0:  # the control: well formed, no such hold, a flagged no-op
        tx = settlement.receiveMessage(
            BUSINESS_DOMAIN, REGISTRY, b"\x01" * 32, 2, body, {"from": deployer}
        )
        assert "OutcomeWithoutHold" in tx.events
        return
    with brownie.reverts(expected):
        settlement.receiveMessage(
            BUSINESS_DOMAIN, REGISTRY, b"\x01" * 32, 2, body, {"from": deployer}
        )
    assert outbox.nextNonce(settlement) == 0


@pytest.mark.parametrize("argument", [0, 1, 2, 4])
def test_a_settlement_with_a_zero_address_cannot_be_deployed(
    PvdSettlement, Outbox, yuan, deployer, argument
):
    outbox = Outbox.deploy(PAYMENT_DOMAIN, deployer, 3600, {"from": deployer})
    args = [yuan, outbox, deployer, BUSINESS_DOMAIN, REGISTRY]
    args[argument] = "0x" + "00" * 20
    with brownie.reverts(err("SettlementZeroAddress", argument)):
        PvdSettlement.deploy(*args, {"from": deployer})


def test_the_settlement_reports_its_wiring(side):
    s = side.settlement
    assert (s.token(), s.outbox(), s.inbox()) == (side.token, side.outbox, side.inbox)
    assert (s.registryDomain(), s.registry()) == (BUSINESS_DOMAIN, REGISTRY)


def test_a_hold_released_on_the_token_is_announced_again_once_placed_again(
    side, buyer, seller, stranger
):
    """Whoever releases a hold (here anyone, after expiry, on the token itself), the release
    clears the announced mark: the payer funds the same trade again with the same hold id."""
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + 100, "trade-again")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    side.settlement.announce(hold.tuple(), {"from": buyer})
    chain.sleep(200)
    side.token.releaseHold(hold.tuple(), {"from": stranger})
    assert not side.settlement.isAnnounced(hold.id())
    again = hold.but(expiry=now() + WEEK)
    side.token.placeHold(again.ref, seller, side.settlement, PRICE, again.expiry, {"from": buyer})
    tx = side.settlement.announce(again.tuple(), {"from": buyer})
    assert tx.events["HoldAnnounced"]["holdId"] == "0x" + hold.id().hex()
    assert side.settlement.isAnnounced(again.id())
    assert side.outbox.nextNonce(side.settlement) == 2
