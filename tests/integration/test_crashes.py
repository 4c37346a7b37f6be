"""Attesters that crash (SIGKILL) at each step of a delivery and come back, and two that
race to submit the same message: the settlement happens exactly once (R1,
R2; "relayer killed before signing, after signing, after sending", "two relayers at
once").

The message under test is the Delivered outcome (business -> payment), the one that
moves money. Each test first funds a trade with all three attesters, then leaves only
the attesters it needs, so the step at which the victim dies is known from its store:

- after seeing: the victim's RPC to the business chain goes through a proxy that holds
  its source-state check (eth_call to the registry), so it stops right after storing the
  message as seen;
- after signing: the victim runs alone, so it signs and can never reach a quorum;
- after submitting: the payment chain stops mining (evm_setAutomine false), so the
  delivery transaction is sent and stays pending.
"""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes

from tests.integration.harness import (
    PRICE,
    Attester,
    Deployment,
    Relays,
    RpcProxy,
    eventually,
    rpc,
    store_row,
    write_config,
)
from tests.integration.reconcile_check import assert_reconciles
from tests.integration.trades import (
    Trade,
    balance,
    delivered_count,
    delivery,
    events,
    hold_state,
    open_trade,
    payouts,
    settlement,
    ship_and_confirm,
    status,
)


def funded_trade(dep: Deployment, relays: Relays, attesters: tuple[Attester, ...]) -> Trade:
    """All three attesters up until the trade is Funded."""
    relays.start_many(*attesters)
    trade = open_trade(dep)
    eventually(lambda: status(dep, trade) == "Funded", "the trade to be Funded")
    return trade


def at_stage(attester: Attester, message_id: str, stage: str) -> bool:
    row = store_row(attester.store, message_id)
    return row is not None and row.stage_name == stage


def assert_paid_exactly_once(
    dep: Deployment, trade: Trade, outcome: str, seller_before: int
) -> None:
    eventually(lambda: settlement(dep, trade) == "Paid", "settlement Paid")
    assert hold_state(dep, trade) == "Executed"
    assert payouts(dep, trade) == 1
    assert delivered_count(dep.system.payment.inbox, outcome) == 1
    assert balance(dep, dep.cast.seller.address) == seller_before + PRICE
    assert_reconciles(dep)


def test_an_attester_killed_after_seeing_the_outcome_settles_it_once_after_restart(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    victim, other, third = attesters
    proxy = RpcProxy(dep.business_node.url)
    try:
        write_config(dep, victim, attesters, business_rpc=proxy.url)
        trade = funded_trade(dep, relays, attesters)
        relays.stop(other)
        relays.stop(third)
        seller_before = balance(dep, dep.cast.seller.address)
        registry = dep.system.business.registry.address.lower()
        proxy.hold(lambda method, params: registry in _read_targets(method, params))

        outcome = ship_and_confirm(dep, trade)
        eventually(lambda: at_stage(victim, outcome, "seen") and proxy.held, "victim at seen")
        relays.kill(victim)
        row = store_row(victim.store, outcome)
        assert row is not None and row.stage_name == "seen" and row.signers == ()
        assert delivery(dep.system.payment.inbox, outcome) == "None"
        assert hold_state(dep, trade) == "Held"

        proxy.release()
        relays.start_many(victim, other)
        assert_paid_exactly_once(dep, trade, outcome, seller_before)
        eventually(lambda: at_stage(victim, outcome, "confirmed"), "the victim's store: confirmed")
    finally:
        relays.close()
        proxy.close()


def test_an_attester_killed_after_signing_the_outcome_settles_it_once_after_restart(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    victim, other, third = attesters
    trade = funded_trade(dep, relays, attesters)
    relays.stop(other)
    relays.stop(third)
    seller_before = balance(dep, dep.cast.seller.address)

    outcome = ship_and_confirm(dep, trade)
    eventually(lambda: at_stage(victim, outcome, "signed"), "the victim to sign the outcome")
    relays.kill(victim)
    row = store_row(victim.store, outcome)
    assert row is not None and row.stage_name == "signed"
    assert row.signers == (victim.key.address,)
    assert delivery(dep.system.payment.inbox, outcome) == "None"
    assert hold_state(dep, trade) == "Held"

    relays.start_many(victim, other)
    assert_paid_exactly_once(dep, trade, outcome, seller_before)
    eventually(lambda: at_stage(victim, outcome, "confirmed"), "the victim's store: confirmed")


def test_an_attester_killed_after_submitting_the_outcome_settles_it_once_after_restart(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    victim, _other, third = attesters
    trade = funded_trade(dep, relays, attesters)
    relays.stop(third)
    seller_before = balance(dep, dep.cast.seller.address)

    rpc(dep.payment, "evm_setAutomine", False)  # deliveries stay pending
    try:
        outcome = ship_and_confirm(dep, trade)
        eventually(
            lambda: (row := store_row(victim.store, outcome)) is not None and row.stage == 2,
            "the victim to submit the outcome's delivery",
        )
        relays.kill(victim)
        row = store_row(victim.store, outcome)
        assert row is not None and row.stage_name == "submitted" and row.tx_hash
        assert delivery(dep.system.payment.inbox, outcome) == "None"
        assert hold_state(dep, trade) == "Held"
    finally:
        rpc(dep.payment, "evm_setAutomine", True)
    rpc(dep.payment, "evm_mine")  # the pending deliveries (the victim's, maybe the other's)
    eventually(
        lambda: delivery(dep.system.payment.inbox, outcome) == "Delivered", "the delivery mined"
    )

    relays.start(victim)
    assert_paid_exactly_once(dep, trade, outcome, seller_before)
    eventually(lambda: at_stage(victim, outcome, "confirmed"), "the victim's store: confirmed")


def test_two_attesters_racing_to_submit_the_same_outcome_have_one_effect(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    dep = deployment
    first, second, third = attesters
    inbox = dep.system.payment.inbox
    trade = funded_trade(dep, relays, attesters)
    relays.stop(third)
    seller_before = balance(dep, dep.cast.seller.address)

    rpc(dep.payment, "evm_setAutomine", False)
    try:
        outcome = ship_and_confirm(dep, trade)
        for attester in (first, second):
            eventually(
                lambda a=attester: (r := store_row(a.store, outcome)) is not None and r.stage >= 2,
                f"{attester.name} to submit its delivery",
            )
        rpc(dep.payment, "evm_mine")  # both deliveries land in one block
    finally:
        rpc(dep.payment, "evm_setAutomine", True)

    delivered = events(inbox.events.MessageDelivered, messageId=HexBytes(outcome))
    consumed = events(inbox.events.MessageAlreadyConsumed, messageId=HexBytes(outcome))
    assert len(delivered) == 1
    assert len(consumed) >= 1
    assert delivered[0]["blockNumber"] == consumed[0]["blockNumber"]
    gas_keys = {first.gas.address, second.gas.address}
    losers = {event["args"]["caller"] for event in consumed}
    assert {delivered[0]["args"]["deliverer"]} | losers == gas_keys
    block = dep.payment.w3.eth.get_block(delivered[0]["blockNumber"], full_transactions=True)
    for tx in block["transactions"]:  # the loser's delivery is a no-op, not a revert
        assert dep.payment.w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1
    assert_paid_exactly_once(dep, trade, outcome, seller_before)
    for attester in (first, second):
        eventually(
            lambda a=attester: at_stage(a, outcome, "confirmed"), f"{attester.name}: confirmed"
        )


def _to(params: list[Any]) -> str:
    call = params[0] if params and isinstance(params[0], dict) else {}
    return str(call.get("to", "")).lower()


def _read_targets(method: str, params: list[Any]) -> set[str]:
    """The contracts a state read calls: an eth_call's `to`, or every call of an
    eth_simulateV1 (how the source checks read a block's state)."""
    if method == "eth_call":
        return {_to(params)}
    if method != "eth_simulateV1" or not params or not isinstance(params[0], dict):
        return set()
    blocks = params[0].get("blockStateCalls") or []
    return {str(c.get("to", "")).lower() for b in blocks for c in b.get("calls") or []}
