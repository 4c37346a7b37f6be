"""The whole settlement on one chain over two MockMailboxes (`mocked_pvd`): YuanToken and
PvdSettlement on domain 1, TradeRegistry on domain 2, `deliverNext()` as the relayer. The
endings test_settlement_end_to_end.py (real Inbox and Outbox, attesters) does not walk
through the registry: a hold that does not match its trade, a hold announced after the
trade was cancelled, a payout refused by a paused token and retried, a relayer outage
beyond the hold's expiry (L1 refund, then the flagged late delivery), and a hold placed
directly, announced by a stranger and paid on the carrier's proof.

X1 a hold executed to the seller belongs to a Delivered trade with that buyer, seller and
amount; X2 a rejected or cancelled trade pays the seller nothing; X3 the trade's settlement
matches its hold; L1 anyone releases an expired hold with no relayer.
"""

import brownie
import pytest
from eth_utils import keccak

from pvd.protocol.messages import Message, Outcome, SettlementResult
from tests.contracts.fixtures.settlement import MOCK_SAFETY_WINDOW, sent_messages, storage_roots
from tests.contracts.fixtures.token import (
    EXECUTED,
    HELD,
    RELEASED,
    YUAN,
    Hold,
    err,
    sign_hold,
    wallet_key,
)
from tests.contracts.fixtures.trade import SETTLEMENT, STATUS, now, set_next_block_time

PRICE = 2_500 * YUAN
WINDOW = 600  # seconds from proposal to the delivery deadline
EXPIRY_GAP = MOCK_SAFETY_WINDOW + 120  # hold expiry - deadline
ZERO_HASH = "0x" + "00" * 32
REJECT_TERMS_MISMATCH, REJECT_NOT_ACCEPTED = 3, 2  # ITradeRegistry.RejectReason
IGNORED_HOLD_MISMATCH = 2  # ITradeRegistry.SettledIgnoredReason


@pytest.fixture(scope="module")
def pvd(mocked_pvd):
    return mocked_pvd


def _propose(pvd, buyer, seller, carrier, price=PRICE):
    """A trade `buyer` proposes and `seller` accepts: its id and hold expiry."""
    deadline = now() + WINDOW
    hold_expiry = deadline + EXPIRY_GAP
    terms = (
        seller.address,
        buyer.address,  # payer: the buyer's own address (one chain)
        seller.address,  # payee
        carrier.address,
        "0x" + "00" * 20,  # no arbiter
        pvd.token.address,
        price,
        keccak(text="terms of trade"),
        deadline,
        hold_expiry,
        0,
    )
    trade_id = str(pvd.registry.propose(terms, {"from": buyer}).events["TradeProposed"]["tradeId"])
    pvd.registry.accept(trade_id, {"from": seller})
    return trade_id, hold_expiry


def _hold(pvd, buyer, seller, trade_id, hold_expiry, amount=PRICE):
    return Hold(
        buyer.address,
        seller.address,
        pvd.settlement.address,
        amount,
        hold_expiry,
        bytes.fromhex(trade_id[2:]),
    )


def _balances(pvd, *accounts):
    return tuple((pvd.token.balanceOf(a), pvd.token.heldBalanceOf(a)) for a in accounts)


def _relay(mailbox, relayer):
    """The relayer delivers the next message queued at `mailbox`; the message it delivered."""
    pending = mailbox.pendingInboundCount()
    index = mailbox.inboundCount() - pending
    message = Message.decode(bytes(mailbox.inboundMessage(index)))
    tx = mailbox.deliverNext({"from": relayer})
    assert tx.events["MessageDelivered"]["messageId"] == "0x" + message.id.hex()
    assert mailbox.pendingInboundCount() == pending - 1
    return tx, message


def _funded_and_delivered(pvd, buyer, seller, carrier, relayer):
    """Propose, accept, hold and announce by the buyer's signature, relay PAYMENT_HELD, ship,
    confirm: a Delivered trade whose outcome waits at the payment mailbox."""
    trade_id, hold_expiry = _propose(pvd, buyer, seller, carrier)
    hold = _hold(pvd, buyer, seller, trade_id, hold_expiry)
    valid_before = now() + 3_600
    signature = sign_hold(pvd.token, wallet_key("a"), hold, valid_before)
    pvd.settlement.placeHoldAndAnnounce(hold.tuple(), valid_before, signature, {"from": relayer})
    funded, _ = _relay(pvd.business_mailbox, relayer)
    assert funded.events["TradeFunded"]["holdId"] == "0x" + hold.id().hex()
    pvd.registry.ship(trade_id, keccak(text="bill of lading"), {"from": seller})
    confirm = pvd.registry.confirmDelivery(trade_id, {"from": buyer})
    assert confirm.events["OutcomeSent"]["outcome"] == Outcome.DELIVERED
    assert pvd.payment_mailbox.pendingInboundCount() == 1
    return trade_id, hold


def test_a_hold_that_does_not_match_the_trade_is_rejected_and_released(
    pvd, wallet_a, seller, carrier, relayer, stranger
):
    """X2: the amount differs from the price; the registry answers Rejected, the settlement
    releases the hold, and its PAYMENT_SETTLED changes nothing on the registry."""
    buyer = wallet_a
    before = _balances(pvd, buyer, seller)
    trade_id, hold_expiry = _propose(pvd, buyer, seller, carrier)
    hold = _hold(pvd, buyer, seller, trade_id, hold_expiry, amount=PRICE - 1)
    pvd.token.placeHold(hold.ref, seller, pvd.settlement, hold.amount, hold_expiry, {"from": buyer})
    pvd.settlement.announce(hold.tuple(), {"from": buyer})

    rejected, _ = _relay(pvd.business_mailbox, relayer)
    assert rejected.events["PaymentHeldRejected"]["reason"] == REJECT_TERMS_MISMATCH
    (outcome,) = sent_messages(rejected)
    assert outcome.decoded_body().outcome == Outcome.REJECTED
    assert outcome.decoded_body().amount == PRICE - 1
    assert pvd.registry.statusOf(trade_id) == STATUS["Accepted"]
    assert pvd.registry.holdIdOf(trade_id) == ZERO_HASH

    released, _ = _relay(pvd.payment_mailbox, relayer)
    assert released.events["HoldReleased"]["releasedBy"] == pvd.settlement
    assert "HoldExecuted" not in released.events
    assert released.events["TradeSettled"]["result"] == SettlementResult.REFUNDED
    assert pvd.token.holdStatus(hold.id()) == RELEASED
    assert _balances(pvd, buyer, seller) == before

    ignored, _ = _relay(pvd.business_mailbox, relayer)
    assert ignored.events["PaymentSettledIgnored"]["reason"] == IGNORED_HOLD_MISMATCH
    assert pvd.registry.settlementOf(trade_id) == SETTLEMENT["None"]
    assert pvd.business_mailbox.pendingInboundCount() == 0


def test_a_hold_announced_after_the_trade_was_cancelled_is_refunded(
    pvd, wallet_a, seller, carrier, relayer
):
    """X2: the buyer cancels while PAYMENT_HELD is on its way; the registry answers
    Rejected (not accepted any more) and the hold goes back to the buyer."""
    buyer = wallet_a
    before = _balances(pvd, buyer, seller)
    trade_id, hold_expiry = _propose(pvd, buyer, seller, carrier)
    hold = _hold(pvd, buyer, seller, trade_id, hold_expiry)
    valid_before = now() + 3_600
    signature = sign_hold(pvd.token, wallet_key("a"), hold, valid_before)
    pvd.settlement.placeHoldAndAnnounce(hold.tuple(), valid_before, signature, {"from": relayer})
    assert pvd.token.heldBalanceOf(buyer) == PRICE
    pvd.registry.cancel(trade_id, {"from": buyer})

    rejected, _ = _relay(pvd.business_mailbox, relayer)
    event = rejected.events["PaymentHeldRejected"]
    assert (event["reason"], event["status"]) == (REJECT_NOT_ACCEPTED, STATUS["Cancelled"])
    released, _ = _relay(pvd.payment_mailbox, relayer)
    assert released.events["TradeSettled"]["result"] == SettlementResult.REFUNDED
    assert pvd.token.holdStatus(hold.id()) == RELEASED
    assert _balances(pvd, buyer, seller) == before
    _relay(pvd.business_mailbox, relayer)
    assert pvd.registry.statusOf(trade_id) == STATUS["Cancelled"]
    assert pvd.registry.settlementOf(trade_id) == SETTLEMENT["None"]


def test_a_paused_token_keeps_the_payout_queued_and_the_retry_pays_the_seller(
    pvd, wallet_a, seller, carrier, relayer, pauser
):
    """X1, X3: the Delivered outcome is refused while the token is paused and nothing
    changes (the mock keeps it queued); after the pause the retry pays, the trade is Paid."""
    buyer = wallet_a
    before = _balances(pvd, buyer, seller)
    trade_id, hold = _funded_and_delivered(pvd, buyer, seller, carrier, relayer)
    pvd.token.pause({"from": pauser})
    roots = storage_roots(pvd.contracts())
    with brownie.reverts(err("EnforcedPause")):
        pvd.payment_mailbox.deliverNext({"from": relayer})
    assert storage_roots(pvd.contracts()) == roots
    assert pvd.payment_mailbox.pendingInboundCount() == 1
    assert pvd.token.holdStatus(hold.id()) == HELD

    pvd.token.unpause({"from": pauser})
    paid, message = _relay(pvd.payment_mailbox, relayer)
    assert message.decoded_body().outcome == Outcome.DELIVERED
    assert paid.events["HoldExecuted"]["amount"] == PRICE
    assert pvd.token.holdStatus(hold.id()) == EXECUTED
    assert _balances(pvd, buyer, seller) == (
        (before[0][0] - PRICE, 0),
        (before[1][0] + PRICE, 0),
    )
    settled, _ = _relay(pvd.business_mailbox, relayer)
    assert settled.events["TradeSettled"]["result"] == SettlementResult.PAID
    trade = pvd.registry.getTrade(trade_id)
    assert (trade["status"], trade["settlement"]) == (STATUS["Delivered"], SETTLEMENT["Paid"])
    assert trade["holdId"] == "0x" + hold.id().hex()


def test_after_an_outage_beyond_the_hold_expiry_anyone_refunds_and_the_late_delivery_is_flagged(
    pvd, wallet_a, seller, carrier, relayer, stranger
):
    """L1 and the residual risk: the relayer is down past the hold's expiry; a stranger
    releases the hold with no relayer; the late Delivered outcome is answered Refunded and
    flagged, and the registry records Delivered with settlement Refunded (X3)."""
    buyer = wallet_a
    before = _balances(pvd, buyer, seller)
    trade_id, hold = _funded_and_delivered(pvd, buyer, seller, carrier, relayer)
    set_next_block_time(hold.expiry - 1)
    with brownie.reverts(err("HoldReleaseTooEarly", hold.id(), stranger, hold.expiry)):
        pvd.token.releaseHold(hold.tuple(), {"from": stranger})
    set_next_block_time(hold.expiry)
    refund = pvd.token.releaseHold(hold.tuple(), {"from": stranger})
    assert refund.events["HoldReleased"]["releasedBy"] == stranger
    assert _balances(pvd, buyer, seller) == before

    late, _ = _relay(pvd.payment_mailbox, relayer)
    assert late.events["DeliveredAfterRefund"]["tradeId"] == trade_id
    assert late.events["TradeSettled"]["result"] == SettlementResult.REFUNDED
    assert "HoldExecuted" not in late.events
    assert _balances(pvd, buyer, seller) == before
    settled, _ = _relay(pvd.business_mailbox, relayer)
    assert settled.events["TradeSettled"]["status"] == STATUS["Delivered"]
    trade = pvd.registry.getTrade(trade_id)
    assert (trade["status"], trade["settlement"]) == (STATUS["Delivered"], SETTLEMENT["Refunded"])


def test_a_hold_placed_and_announced_by_the_buyer_pays_on_the_carriers_proof(
    pvd, buyer, seller, carrier, relayer
):
    """X1, X3: the buyer places the hold itself and announces it, the carrier records
    delivery with a proof; the seller is paid exactly the price."""
    before = _balances(pvd, buyer, seller)
    trade_id, hold_expiry = _propose(pvd, buyer, seller, carrier)
    hold = _hold(pvd, buyer, seller, trade_id, hold_expiry)
    pvd.token.placeHold(hold.ref, seller, pvd.settlement, PRICE, hold_expiry, {"from": buyer})
    announce = pvd.settlement.announce(hold.tuple(), {"from": buyer})
    assert announce.events["HoldAnnounced"]["holdId"] == "0x" + hold.id().hex()
    _relay(pvd.business_mailbox, relayer)
    assert pvd.registry.statusOf(trade_id) == STATUS["Funded"]
    pvd.registry.ship(trade_id, keccak(text="bill of lading"), {"from": seller})
    assert pvd.bill.isOutstanding(trade_id)
    proof = keccak(text="proof of delivery")
    pvd.registry.confirmDeliveryByCarrier(trade_id, proof, {"from": carrier})
    assert not pvd.bill.isOutstanding(trade_id)

    paid, _ = _relay(pvd.payment_mailbox, relayer)
    executed = paid.events["HoldExecuted"]
    assert (executed["payer"], executed["payee"], executed["amount"]) == (buyer, seller, PRICE)
    _relay(pvd.business_mailbox, relayer)
    trade = pvd.registry.getTrade(trade_id)
    assert (trade["status"], trade["settlement"]) == (STATUS["Delivered"], SETTLEMENT["Paid"])
    assert trade["proofOfDelivery"] == "0x" + proof.hex()
    assert _balances(pvd, buyer, seller) == (
        (before[0][0] - PRICE, 0),
        (before[1][0] + PRICE, 0),
    )
