"""End-to-end settlements on two anvil chains with three `pvd relay` processes (2-of-3):
paid by delivery, refunded at expiry, stalled without a quorum, and the buyer's own way
out when every attester is down (docs/design.md: X1-X3, L1)."""

from __future__ import annotations

from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from pvd.client import trade as client
from tests.integration.harness import (
    PRICE,
    Attester,
    Deployment,
    Relays,
    eventually,
    scrape,
    store_row,
)
from tests.integration.reconcile_check import assert_reconciles
from tests.integration.trades import (
    advance_to,
    balance,
    delivered_count,
    delivery,
    expire,
    hold_state,
    open_trade,
    payouts,
    settlement,
    ship_and_confirm,
    spendable,
    status,
)


def test_a_delivered_trade_pays_the_seller_once_through_two_of_three_attesters(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep, cast = deployment, deployment.cast
    relays.start_many(*attesters)
    buyer_before, seller_before = (
        balance(dep, cast.buyer.address),
        balance(dep, cast.seller.address),
    )

    trade = open_trade(dep)
    assert hold_state(dep, trade) == "Held"
    assert spendable(dep, cast.buyer.address) == buyer_before - PRICE
    eventually(lambda: status(dep, trade) == "Funded", "the trade to be Funded")

    outcome = ship_and_confirm(dep, trade)
    eventually(lambda: settlement(dep, trade) == "Paid", "settlement Paid on the business chain")

    assert status(dep, trade) == "Delivered"
    assert hold_state(dep, trade) == "Executed"
    assert payouts(dep, trade) == 1
    assert balance(dep, cast.seller.address) == seller_before + PRICE
    assert balance(dep, cast.buyer.address) == buyer_before - PRICE
    pay_inbox, biz_inbox = dep.system.payment.inbox, dep.system.business.inbox
    assert delivery(biz_inbox, trade.held_message) == "Delivered"
    assert delivered_count(biz_inbox, trade.held_message) == 1
    assert delivery(pay_inbox, outcome) == "Delivered"
    assert delivered_count(pay_inbox, outcome) == 1
    assert_reconciles(dep)


def test_with_two_of_three_attesters_killed_nothing_is_delivered_until_one_returns(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    first, second, third = attesters
    relays.start_many(*attesters)
    relays.kill(second)
    relays.kill(third)

    trade = open_trade(dep)
    # The survivor sees and signs PAYMENT_HELD, then keeps asking its dead peers: wait
    # until it has failed to reach them several more times after signing.
    eventually(
        lambda: (row := store_row(first.store, trade.held_message)) and row.stage_name == "signed",
        "the surviving attester to sign PAYMENT_HELD",
    )
    unreachable = 'pvd_relay_failures_total{reason="peer_unreachable",route="payment->business"}'
    after_signing = scrape(first.metrics_url).get(unreachable, 0.0)
    eventually(
        lambda: scrape(first.metrics_url).get(unreachable, 0.0) >= after_signing + 6,
        "three more quorum rounds against the dead peers",
    )
    assert status(dep, trade) == "Accepted"
    assert delivery(dep.system.business.inbox, trade.held_message) == "None"
    row = store_row(first.store, trade.held_message)
    assert row is not None and row.stage_name == "signed"
    assert row.signers == (first.key.address,)

    relays.start(second)
    eventually(lambda: status(dep, trade) == "Funded", "Funded once a second attester is back")
    assert delivered_count(dep.system.business.inbox, trade.held_message) == 1
    assert_reconciles(dep)


def test_an_expired_trade_refunds_the_buyer(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep, cast = deployment, deployment.cast
    relays.start_many(*attesters[:2])  # a quorum, no more
    buyer_before, seller_before = (
        balance(dep, cast.buyer.address),
        balance(dep, cast.seller.address),
    )
    trade = open_trade(dep)
    eventually(lambda: status(dep, trade) == "Funded", "the trade to be Funded")

    outcome = expire(dep, trade)
    assert status(dep, trade) == "Expired"
    eventually(lambda: settlement(dep, trade) == "Refunded", "settlement Refunded")

    assert hold_state(dep, trade) == "Released"
    assert payouts(dep, trade) == 0
    assert delivered_count(dep.system.payment.inbox, outcome) == 1
    assert balance(dep, cast.buyer.address) == buyer_before
    assert spendable(dep, cast.buyer.address) == buyer_before
    assert balance(dep, cast.seller.address) == seller_before
    assert_reconciles(dep)


def test_with_every_attester_down_the_buyer_releases_the_hold_after_its_expiry(
    deployment: Deployment,
) -> None:
    """L1: no relayer, no off-chain component: the token's own expiry rule."""
    dep, cast = deployment, deployment.cast
    token = dep.system.payment.token
    buyer_before = balance(dep, cast.buyer.address)
    trade = open_trade(dep)
    assert spendable(dep, cast.buyer.address) == buyer_before - PRICE
    assert status(dep, trade) == "Accepted"  # nobody relayed anything

    release = token.functions.releaseHold(trade.hold.as_tuple())
    try:  # before expiry only the notary may release: the buyer's call reverts
        release.call({"from": cast.buyer.address})
        raise AssertionError("releaseHold before expiry by the buyer did not revert")
    except ContractLogicError:
        pass
    assert hold_state(dep, trade) == "Held"

    advance_to(dep.payment, trade.hold.expiry)
    receipt = client.transact(dep.payment, release, cast.buyer.address)
    (released,) = token.events.HoldReleased().process_receipt(receipt, errors=DISCARD)
    assert bytes(released["args"]["holdId"]) == trade.hold_id
    assert released["args"]["releasedBy"] == cast.buyer.address
    assert hold_state(dep, trade) == "Released"
    assert balance(dep, cast.buyer.address) == buyer_before
    assert spendable(dep, cast.buyer.address) == buyer_before
    assert payouts(dep, trade) == 0
    assert_reconciles(dep)
