"""The whole settlement on one chain, both endings, with direct delivery: both "chains"
(domains 1 and 2) live on the one anvil chain with their own Outbox and Inbox; the test is
the relayer (it reads each transaction's MessageSent events and delivers them with a
quorum of test attesters). Real YuanToken, TradeRegistry and PvdSettlement.

X1: a hold executed to the seller implies a Delivered trade for exactly that buyer,
seller and amount. X2: an expired trade pays the seller nothing. X3: the trade's
settlement matches its hold, and no hold is both executed and released.
"""

import pytest
from brownie import ZERO_ADDRESS, chain
from eth_utils.crypto import keccak

from pvd.protocol.messages import Message
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    BUSINESS_DOMAIN,
    GOVERNANCE_DELAY,
    PAYMENT_DOMAIN,
    deploy_inbox,
    sign,
)

token_fixtures = pytest.importorskip(
    "tests.contracts.fixtures.token", reason="needs YuanToken (contracts/token)"
)
pytest.importorskip("tests.contracts.fixtures.trade", reason="needs TradeRegistry")

EXECUTED, RELEASED = token_fixtures.EXECUTED, token_fixtures.RELEASED
YUAN = token_fixtures.YUAN
SAFETY_WINDOW = 3_600
MAX_HORIZON = 30 * 86_400
DELIVERED, EXPIRED, FUNDED = 5, 7, 3  # TradeRegistry.Status
PAID, REFUNDED = 1, 2  # MessageCodec.SettlementResult
PRICE = 2_500 * YUAN


def _sent(tx):
    """The messages an outbox sent in `tx`, decoded."""
    if "MessageSent" not in tx.events:
        return []
    return [Message.decode(bytes(e["message"])) for e in tx.events["MessageSent"]]


class Pvd:
    """Both sides, wired as deployment does (business chain first), and the relayer."""

    def __init__(self, Outbox, Inbox, PvdSettlement, TradeRegistry, yuan, deployer, guardian):
        self.b_outbox = Outbox.deploy(
            BUSINESS_DOMAIN, deployer, GOVERNANCE_DELAY, {"from": deployer}
        )
        self.b_inbox = deploy_inbox(Inbox, deployer, guardian, BUSINESS_DOMAIN, ATTESTERS[:3], 2)
        self.registry = TradeRegistry.deploy(
            deployer, SAFETY_WINDOW, MAX_HORIZON, {"from": deployer}
        )
        self.token = yuan
        self.p_outbox = Outbox.deploy(
            PAYMENT_DOMAIN, deployer, GOVERNANCE_DELAY, {"from": deployer}
        )
        self.p_inbox = deploy_inbox(Inbox, deployer, guardian, PAYMENT_DOMAIN, ATTESTERS[:3], 2)
        self.settlement = PvdSettlement.deploy(
            yuan, self.p_outbox, self.p_inbox, BUSINESS_DOMAIN, self.registry, {"from": deployer}
        )
        self.registry.wire(
            self.b_inbox, self.b_outbox, PAYMENT_DOMAIN, self.settlement, {"from": deployer}
        )
        self.b_outbox.proposeApp(self.registry, True, {"from": deployer})
        self.p_outbox.proposeApp(self.settlement, True, {"from": deployer})
        self.p_inbox.proposePeer(
            BUSINESS_DOMAIN, self.registry, self.settlement, {"from": deployer}
        )
        self.b_inbox.proposePeer(PAYMENT_DOMAIN, self.settlement, self.registry, {"from": deployer})
        self.p_inbox.closeSetup({"from": deployer})
        self.b_inbox.closeSetup({"from": deployer})
        self.relayed = []

    def relay(self, tx, relayer):
        """Deliver every message `tx` sent, then every message those deliveries sent, ...
        Returns the delivery transactions in order."""
        deliveries = []
        pending = _sent(tx)
        while pending:
            message = pending.pop(0)
            inbox = self.p_inbox if message.destination_domain == PAYMENT_DOMAIN else self.b_inbox
            delivery = inbox.deliver(
                message.encode(), sign(inbox, message, ATTESTERS[:2]), {"from": relayer}
            )
            assert "MessageDelivered" in delivery.events, delivery.events
            self.relayed.append(message)
            deliveries.append(delivery)
            if "MessageSent" in delivery.events:
                pending += [
                    Message.decode(bytes(e["message"])) for e in delivery.events["MessageSent"]
                ]
        return deliveries


@pytest.fixture(scope="module")
def pvd(Outbox, Inbox, PvdSettlement, TradeRegistry, yuan, deployer, guardian):
    return Pvd(Outbox, Inbox, PvdSettlement, TradeRegistry, yuan, deployer, guardian)


def _funded_trade(pvd, buyer, seller, relayer):
    """Propose, accept, hold-and-announce by the buyer's signature, relay: a Funded trade."""
    now = chain[-1].timestamp
    deadline = now + 86_400
    hold_expiry = deadline + 2 * SAFETY_WINDOW
    terms = (
        seller.address,  # seller
        buyer.address,  # payer
        seller.address,  # payee
        ZERO_ADDRESS,  # carrier
        ZERO_ADDRESS,  # arbiter
        pvd.token.address,  # token
        PRICE,
        keccak(text="terms of trade"),
        deadline,
        hold_expiry,
        0,  # arbitration deadline (no arbiter)
    )
    trade_id = pvd.registry.propose(terms, {"from": buyer}).return_value
    pvd.registry.accept(trade_id, {"from": seller})
    hold = token_fixtures.Hold(
        buyer.address, seller.address, pvd.settlement.address, PRICE, hold_expiry, bytes(trade_id)
    )
    valid_before = now + 3_600
    signature = token_fixtures.sign_hold(
        pvd.token, token_fixtures.wallet_key("a"), hold, valid_before
    )
    announce = pvd.settlement.placeHoldAndAnnounce(
        hold.tuple(), valid_before, signature, {"from": relayer}
    )
    pvd.relay(announce, relayer)
    assert pvd.registry.getTrade(trade_id)["status"] == FUNDED
    return trade_id, hold


def test_a_delivered_trade_pays_the_seller_and_is_settled_paid(pvd, wallet_a, seller, relayer):
    """X1, X3."""
    buyer = wallet_a
    before = (pvd.token.balanceOf(buyer), pvd.token.balanceOf(seller))
    trade_id, hold = _funded_trade(pvd, buyer, seller, relayer)
    assert pvd.token.heldBalanceOf(buyer) == PRICE
    pvd.registry.ship(trade_id, keccak(text="bill of lading document"), {"from": seller})
    confirm = pvd.registry.confirmDelivery(trade_id, {"from": buyer})
    outcome, reply = pvd.relay(confirm, relayer)
    assert "HoldExecuted" in outcome.events
    assert "TradeSettled" in reply.events
    trade = pvd.registry.getTrade(trade_id)
    assert (trade["status"], trade["settlement"]) == (DELIVERED, PAID)
    assert trade["holdId"] == "0x" + hold.id().hex()
    assert pvd.token.holdStatus(hold.id()) == EXECUTED
    assert (pvd.token.balanceOf(buyer), pvd.token.balanceOf(seller)) == (
        before[0] - PRICE,
        before[1] + PRICE,
    )
    assert pvd.token.heldBalanceOf(buyer) == 0
    assert [m.kind for m in pvd.relayed] == [1, 2, 3]  # held, outcome, settled


def test_an_expired_trade_refunds_the_buyer_and_is_settled_refunded(
    pvd, wallet_a, seller, relayer, stranger
):
    """X2, X3."""
    buyer = wallet_a
    before = (pvd.token.balanceOf(buyer), pvd.token.balanceOf(seller))
    trade_id, hold = _funded_trade(pvd, buyer, seller, relayer)
    chain.sleep(86_400 + 1)
    expire = pvd.registry.expire(trade_id, {"from": stranger})
    outcome, reply = pvd.relay(expire, relayer)
    assert "TradeSettled" in reply.events
    assert "HoldReleased" in outcome.events
    assert "HoldExecuted" not in outcome.events
    trade = pvd.registry.getTrade(trade_id)
    assert (trade["status"], trade["settlement"]) == (EXPIRED, REFUNDED)
    assert pvd.token.holdStatus(hold.id()) == RELEASED
    assert (pvd.token.balanceOf(buyer), pvd.token.balanceOf(seller)) == before
    assert pvd.token.heldBalanceOf(buyer) == 0
