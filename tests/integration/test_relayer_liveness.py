"""The relayer's liveness under the destination's own faults, with real `pvd relay`
subprocesses on two anvils:

- a pause (the token) or a freeze (the seller) lasting far longer than the relayers'
  retry budget: the Delivered outcome waits (never dead), and once it ends the seller is
  paid, once;
- a reorg of the destination chain (evm_snapshot / evm_revert) that removes the block
  holding the outcome's delivery before it reached the confirmation depth: the
  relayers deliver it again, once, and confirm it at the depth.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pvd.client import trade as client
from tests.integration.harness import (
    PRICE,
    Attester,
    Deployment,
    Relays,
    eventually,
    rpc,
    scrape,
    store_row,
    write_config,
)
from tests.integration.reconcile_check import assert_reconciles
from tests.integration.trades import (
    balance,
    delivered_count,
    delivery,
    hold_state,
    open_trade,
    payouts,
    settlement,
    ship_and_confirm,
    status,
)

TO_PAYMENT = 'route="business->payment"'
BUDGET = 2  # failed attempts before a message is given up (the harness default is 1000)


def tight_budget(attester: Attester) -> None:
    """Give the attester's relayer a retry budget of two attempts."""
    text = attester.config.read_text()
    assert "max_attempts = 1000" in text
    attester.config.write_text(text.replace("max_attempts = 1000", f"max_attempts = {BUDGET}"))


def _pause_token(dep: Deployment) -> Callable[[], None]:
    token, admin = dep.system.payment.token, dep.cast.admin.address
    client.transact(dep.payment, token.functions.pause(), admin)
    return lambda: client.transact(dep.payment, token.functions.unpause(), admin) and None


def _freeze_seller(dep: Deployment) -> Callable[[], None]:
    token, admin, seller = dep.system.payment.token, dep.cast.admin.address, dep.cast.seller
    role = token.functions.COMPLIANCE_ROLE().call()
    client.transact(dep.payment, token.functions.grantRole(role, admin), admin)
    client.transact(dep.payment, token.functions.freeze(seller.address), admin)
    return lambda: (
        client.transact(dep.payment, token.functions.unfreeze(seller.address), admin) and None
    )


@pytest.mark.parametrize(
    ("stop", "reason"),
    [(_pause_token, "token_paused"), (_freeze_seller, "account_frozen")],
    ids=["token-paused", "seller-frozen"],
)
def test_a_pause_or_freeze_longer_than_the_retry_budget_then_lifted_pays_the_seller_once(
    deployment: Deployment,
    attesters: tuple[Attester, ...],
    relays: Relays,
    stop: Callable[[Deployment], Callable[[], None]],
    reason: str,
) -> None:
    dep, cast = deployment, deployment.cast
    inbox = dep.system.payment.inbox
    live = attesters[:2]
    for attester in live:
        tight_budget(attester)
    relays.start_many(*live)
    trade = open_trade(dep)
    eventually(lambda: status(dep, trade) == "Funded", "the trade Funded")
    seller_before = balance(dep, cast.seller.address)

    resume = stop(dep)
    outcome = ship_and_confirm(dep, trade)

    def looks(attester: Attester) -> float:
        waits = scrape(attester.metrics_url)
        return waits.get(f'pvd_relay_waits_total{{reason="{reason}",{TO_PAYMENT}}}', 0.0)

    # five looks each: more than twice the budget of failed attempts
    for attester in live:
        eventually(lambda a=attester: looks(a) >= 5, f"{attester.name} to wait ({reason})", 60)
    for attester in live:
        row = store_row(attester.store, outcome)
        assert row is not None and row.condition == "waiting", row
        assert (row.fail_reason or "").startswith(reason)
    assert delivery(inbox, outcome) in ("None", "Failed")
    assert hold_state(dep, trade) == "Held"
    assert balance(dep, cast.seller.address) == seller_before

    resume()
    eventually(lambda: settlement(dep, trade) == "Paid", "Paid after it was lifted", 60)
    assert delivery(inbox, outcome) == "Delivered"
    assert payouts(dep, trade) == 1
    assert balance(dep, cast.seller.address) == seller_before + PRICE
    for attester in live:
        eventually(
            lambda a=attester: (
                (r := store_row(a.store, outcome)) is not None and r.stage_name == "confirmed"
            ),
            f"{attester.name} to confirm the outcome",
        )
    assert_reconciles(dep)


def test_a_destination_reorg_removing_the_delivery_block_delivers_it_again_once(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    """Confirmation depth 2 on the payment chain (the outcome's destination). The block
    with the outcome's delivery (and the seller's payout) is removed by evm_revert before
    it is 2 deep: the relayers see the inbox no longer holds it, deliver it again, and
    confirm it only once the new delivery is 2 blocks deep."""
    dep, cast = deployment, deployment.cast
    inbox = dep.system.payment.inbox
    live = attesters[:2]
    for attester in live:
        write_config(dep, attester, attesters, payment_confirmations=2)
    relays.start_many(*live)
    trade = open_trade(dep)
    rpc(dep.payment, "anvil_mine", hex(2))  # PAYMENT_HELD is read at depth 2 too
    eventually(lambda: status(dep, trade) == "Funded", "the trade Funded")
    seller_before = balance(dep, cast.seller.address)

    snapshot = rpc(dep.payment, "evm_snapshot")
    outcome = ship_and_confirm(dep, trade)
    eventually(lambda: delivery(inbox, outcome) == "Delivered", "the outcome delivered")
    assert balance(dep, cast.seller.address) == seller_before + PRICE
    for attester in live:  # delivered, not yet 2 deep: not confirmed
        row = store_row(attester.store, outcome)
        assert row is not None and row.stage_name != "confirmed", row

    with relays.frozen(*live):  # else they may deliver it again before we look
        assert rpc(dep.payment, "evm_revert", snapshot) is True  # the delivery's block is gone
        assert delivery(inbox, outcome) == "None"
        assert hold_state(dep, trade) == "Held"
        assert balance(dep, cast.seller.address) == seller_before

    eventually(lambda: delivery(inbox, outcome) == "Delivered", "the outcome delivered again")
    rpc(dep.payment, "anvil_mine", hex(2))
    for attester in live:
        eventually(
            lambda a=attester: (
                (r := store_row(a.store, outcome)) is not None and r.stage_name == "confirmed"
            ),
            f"{attester.name} to confirm the new delivery at depth 2",
        )
    lost = sum(
        scrape(a.metrics_url).get(f"pvd_relay_deliveries_lost_total{{{TO_PAYMENT}}}", 0.0)
        for a in live
    )
    assert lost >= 1  # at least the relayer that had seen the first delivery
    assert delivered_count(inbox, outcome) == 1  # on the chain as it is now
    assert payouts(dep, trade) == 1
    assert hold_state(dep, trade) == "Executed"
    assert balance(dep, cast.seller.address) == seller_before + PRICE
    rpc(dep.payment, "anvil_mine", hex(2))  # PAYMENT_SETTLED at depth 2 too
    eventually(lambda: settlement(dep, trade) == "Paid", "settlement Paid")
    assert_reconciles(dep)
