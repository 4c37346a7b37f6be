"""What the parties do in the integration tests, on the two anvil chains (through
pvd.client.trade, as a dapp would), and what tests read back from the chains: trade and hold
state, balances, event counts, inbox delivery status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3.contract import Contract
from web3.logs import DISCARD

from pvd.client import trade as client
from tests.integration.harness import HOUR, PRICE, Deployment, rpc

# Inbox.DeliveryStatus
DELIVERY = ("None", "Delivered", "Failed")


@dataclass(frozen=True)
class Trade:
    """A trade opened on the business chain and funded by a signed hold on the payment
    chain, with the ids of the messages it has caused so far."""

    trade_id: bytes
    terms: client.Terms
    hold: client.HoldRequest
    hold_id: bytes
    held_message: str  # the PAYMENT_HELD message's id (0x-hex)


def hexid(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def open_trade(dep: Deployment, price: int = PRICE) -> Trade:
    """Buyer proposes, seller accepts (business chain); the buyer's signed hold is placed
    and announced by a third party (payment chain), which sends PAYMENT_HELD."""
    pay, biz, cast = dep.system.payment, dep.system.business, dep.cast
    deadline = dep.business.now() + 24 * HOUR
    terms = client.Terms(
        seller=cast.seller.address,
        payer=cast.buyer.address,
        payee=cast.seller.address,
        token=pay.token.address,
        price=price,
        deadline=deadline,
        hold_expiry=deadline + dep.system.config.safety_window + HOUR,
        carrier=cast.carrier.address,
    )
    trade_id = client.propose(biz.chain, biz.registry, cast.buyer.address, terms)
    client.transact(biz.chain, biz.registry.functions.accept(trade_id), cast.seller.address)
    hold = client.hold_for(trade_id, terms, pay.settlement)
    valid_before = dep.payment.now() + HOUR
    signature = client.sign_hold(pay.token, cast.buyer, hold, valid_before)
    receipt = client.place_hold_and_announce(
        pay.chain, pay.settlement, hold, valid_before, signature, cast.stranger.address
    )
    (announced,) = pay.settlement.events.HoldAnnounced().process_receipt(receipt, errors=DISCARD)
    return Trade(
        trade_id,
        terms,
        hold,
        bytes(announced["args"]["holdId"]),
        hexid(announced["args"]["messageId"]),
    )


def ship_and_confirm(dep: Deployment, trade: Trade) -> str:
    """Seller ships, buyer confirms delivery: the trade is Delivered and the registry sends
    the Delivered outcome. Returns the outcome message's id."""
    biz, cast = dep.system.business, dep.cast
    registry = biz.registry
    client.transact(
        biz.chain, registry.functions.ship(trade.trade_id, b"\x01" * 32), cast.seller.address
    )
    receipt = client.transact(
        biz.chain, registry.functions.confirmDelivery(trade.trade_id), cast.buyer.address
    )
    return outcome_message(registry, receipt)


def expire(dep: Deployment, trade: Trade) -> str:
    """Move the business chain's clock past the deadline; anyone expires the trade.
    Returns the Expired outcome message's id."""
    biz = dep.system.business
    advance_to(dep.business, trade.terms.deadline + 1)
    receipt = client.transact(
        biz.chain, biz.registry.functions.expire(trade.trade_id), dep.cast.stranger.address
    )
    return outcome_message(biz.registry, receipt)


def outcome_message(registry: Contract, receipt: Any) -> str:
    (sent,) = registry.events.OutcomeSent().process_receipt(receipt, errors=DISCARD)
    return hexid(sent["args"]["messageId"])


def advance_to(chain: Any, timestamp: int) -> None:
    """anvil: the next block gets `timestamp` (evm_setNextBlockTimestamp), then mine it."""
    rpc(chain, "evm_setNextBlockTimestamp", timestamp)
    rpc(chain, "evm_mine")


# --- reading state back ---------------------------------------------------------------


def status(dep: Deployment, trade: Trade) -> str:
    return client.trade_view(dep.system.business.registry, trade.trade_id)["status"]


def settlement(dep: Deployment, trade: Trade) -> str:
    return client.trade_view(dep.system.business.registry, trade.trade_id)["settlement"]


def hold_state(dep: Deployment, trade: Trade) -> str:
    return client.hold_view(dep.system.payment.token, trade.hold_id)


def balance(dep: Deployment, account: str) -> int:
    return int(dep.system.payment.token.functions.balanceOf(account).call())


def spendable(dep: Deployment, account: str) -> int:
    return int(dep.system.payment.token.functions.spendableBalanceOf(account).call())


def delivery(inbox: Contract, message_id: str) -> str:
    """The inbox's word on a message: None, Delivered or Failed (its failure record, else
    Delivered once a MessageDelivered or MessageRetried names it)."""
    mid = HexBytes(message_id)
    failure, _epoch = inbox.functions.failureOf(mid).call()
    if failure:
        return DELIVERY[failure]
    took_effect = events(inbox.events.MessageDelivered, messageId=mid) or events(
        inbox.events.MessageRetried, messageId=mid
    )
    return DELIVERY[1 if took_effect else 0]


def events(event: Any, **filters: Any) -> list[Any]:
    """Every log of `event` (a contract's events.X) from block 0, filtered by indexed args."""
    return list(event.get_logs(from_block=0, argument_filters=filters or None))


def delivered_count(inbox: Contract, message_id: str) -> int:
    """How many MessageDelivered (or MessageRetried) logs the inbox emitted for the id."""
    mid = HexBytes(message_id)
    return len(events(inbox.events.MessageDelivered, messageId=mid)) + len(
        events(inbox.events.MessageRetried, messageId=mid)
    )


def payouts(dep: Deployment, trade: Trade) -> int:
    """HoldExecuted logs for the trade's hold: payouts to the seller (must be <= 1)."""
    return len(events(dep.system.payment.token.events.HoldExecuted, holdId=trade.hold_id))
