"""Faults on the chains themselves: a paused token at payout (L2), a reorg of the source
(R3), a log whose contract state was altered (the Qubit/Meter class), and a forged message
submitted straight to an inbox (C6). Nothing may be paid that should not be, and what
should be paid is paid once."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError

from pvd.client import trade as client
from pvd.protocol.attestation import InboxDomain, sign
from pvd.protocol.messages import Message, Outcome, TradeOutcome
from tests.integration.harness import (
    BUSINESS_DOMAIN,
    PAYMENT_DOMAIN,
    PRICE,
    ROOT,
    Attester,
    Deployment,
    Relays,
    RpcProxy,
    eventually,
    pvd_command,
    rpc,
    store_checkpoint,
    store_row,
    subprocess_env,
    write_config,
)
from tests.integration.reconcile_check import assert_reconciles
from tests.integration.trades import (
    balance,
    delivered_count,
    delivery,
    events,
    expire,
    hold_state,
    open_trade,
    payouts,
    settlement,
    ship_and_confirm,
    status,
)


def test_a_payout_while_the_token_is_paused_fails_verified_and_is_paid_after_unpause(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    """L2: the Delivered outcome is consumed as verified-but-failed, stays retryable (the
    relayers wait on the pause, counting no failed attempt), blocks no other trade (a
    refund goes through meanwhile), and pays once unpaused."""
    dep, cast = deployment, deployment.cast
    token, inbox = dep.system.payment.token, dep.system.payment.inbox
    first, second, _ = attesters
    relays.start_many(first, second)
    paused_trade, other_trade = open_trade(dep), open_trade(dep)
    for trade in (paused_trade, other_trade):
        eventually(lambda t=trade: status(dep, t) == "Funded", "both trades Funded")
    seller_before = balance(dep, cast.seller.address)

    client.transact(dep.payment, token.functions.pause(), cast.admin.address)
    outcome = ship_and_confirm(dep, paused_trade)
    eventually(lambda: delivery(inbox, outcome) == "Failed", "the outcome held as Failed")
    (failed,) = events(inbox.events.MessageFailed, messageId=HexBytes(outcome))
    assert failed["args"]["reason"][:4] == Web3.keccak(text="EnforcedPause()")[:4]
    eventually(
        lambda: (
            (row := store_row(first.store, outcome)) is not None
            and row.condition == "waiting"
            and (row.fail_reason or "").startswith("token_paused")
        ),
        "the relayer waiting on the paused token (not a failed attempt)",
    )
    assert hold_state(dep, paused_trade) == "Held"
    assert (status(dep, paused_trade), settlement(dep, paused_trade)) == ("Delivered", "None")
    assert balance(dep, cast.seller.address) == seller_before

    refund = expire(dep, other_trade)  # the failed message blocks no other trade
    eventually(lambda: settlement(dep, other_trade) == "Refunded", "the other trade refunded")
    assert delivered_count(inbox, refund) == 1
    assert hold_state(dep, other_trade) == "Released"

    client.transact(dep.payment, token.functions.unpause(), cast.admin.address)
    eventually(lambda: settlement(dep, paused_trade) == "Paid", "Paid after unpause")
    assert len(events(inbox.events.MessageRetried, messageId=HexBytes(outcome))) == 1
    assert delivery(inbox, outcome) == "Delivered"
    assert payouts(dep, paused_trade) == 1
    assert balance(dep, cast.seller.address) == seller_before + PRICE
    assert_reconciles(dep)


class _NoRow:
    fail_reason = None


_NONE = _NoRow()


def test_a_hold_removed_by_a_reorg_after_it_was_seen_is_never_signed_nor_relayed(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    """R3: with confirmations = 3 on the payment chain, PAYMENT_HELD is not seen before
    3 blocks are on top of it; once seen, the relayers re-check its block hash before
    signing, and a reorg that replaced the block leaves it unsigned and undelivered.
    Each relayer reaches the payment chain through a proxy that holds its re-check
    (eth_getBlockByNumber of the log's block, once the message is in its store) until
    the test has reorganised the chain."""
    dep = deployment
    live = attesters[:2]  # a quorum: had they signed, it would have been delivered
    proxies = {a.name: RpcProxy(dep.payment_node.url) for a in live}
    route = "payment->business"
    try:
        for a in live:
            write_config(
                dep, a, attesters, payment_rpc=proxies[a.name].url, payment_confirmations=3
            )
        relays.start_many(*live)
        snapshot = rpc(dep.payment, "evm_snapshot")
        trade = open_trade(dep)
        (announced,) = events(dep.system.payment.settlement.events.HoldAnnounced)
        block = announced["blockNumber"]

        for a in live:  # hold each relayer at its re-check of the log's block
            proxies[a.name].hold(
                lambda method, params, a=a: (
                    method == "eth_getBlockByNumber"
                    and params[:1] == [hex(block)]
                    and store_row(a.store, trade.held_message) is not None
                )
            )
        for depth in (1, 2):  # below the confirmation depth: not seen
            rpc(dep.payment, "evm_mine")
            for a in live:
                eventually(
                    lambda a=a, d=depth: store_checkpoint(a.store, route) == block + d - 3,
                    f"{a.name} to scan up to depth 3",
                )
                assert store_row(a.store, trade.held_message) is None
        rpc(dep.payment, "evm_mine")  # 3 blocks on top: seen, then held at the re-check
        for a in live:
            eventually(
                lambda a=a: store_row(a.store, trade.held_message) and proxies[a.name].held,
                f"{a.name} to see PAYMENT_HELD and re-check its block",
            )

        assert rpc(dep.payment, "evm_revert", snapshot) is True  # the reorg
        rpc(dep.payment, "anvil_mine", hex(8))  # another history, past the depth
        for proxy in proxies.values():
            proxy.release()

        for a in live:
            eventually(
                lambda a=a: (
                    "source_reorged"
                    in ((store_row(a.store, trade.held_message) or _NONE).fail_reason or "")
                ),
                f"{a.name} to refuse the reorged message",
            )
            head = dep.payment.w3.eth.block_number
            eventually(
                lambda a=a, h=head: (store_checkpoint(a.store, route) or 0) >= h - 3,
                f"{a.name} to rescan the new history",
            )
            row = store_row(a.store, trade.held_message)
            assert row is not None and row.stage_name == "seen" and row.signers == ()
        assert delivery(dep.system.business.inbox, trade.held_message) == "None"
        assert status(dep, trade) == "Accepted"
        assert hold_state(dep, trade) == "None"  # the hold went with the reorged block
        assert_reconciles(dep)
    finally:
        relays.close()
        for proxy in proxies.values():
            proxy.close()


def test_a_log_whose_contract_state_was_altered_is_refused(
    deployment: Deployment, attesters: tuple[Attester, ...], relays: Relays
) -> None:
    """The hold's announced mark (the token's acknowledgement bit in the hold's record) is
    cleared (anvil_setStorageAt) at the block of its PAYMENT_HELD log: the log stands, the
    state no longer backs it. The relayers mark it dead with source_state_disagrees and
    nothing is delivered."""
    dep = deployment
    settlement_contract = dep.system.payment.settlement
    trade = open_trade(dep)  # no relayer runs yet
    block = dep.payment.w3.eth.block_number  # the announce is the latest block
    # YuanHolds: mapping(bytes32 holdId => uint256 record) _holds; bits 6..0 the status,
    # bit 7 the acknowledgement. Its slot depends on the inheritance chain: find it.
    address = dep.system.payment.token.address
    w3 = dep.payment.w3

    def key(slot: int) -> bytes:
        return Web3.keccak(abi_encode(["bytes32", "uint256"], [trade.hold_id, slot]))

    slot = next(s for s in range(64) if w3.eth.get_storage_at(address, key(s))[-1] & 0x7F == 1)
    record = int.from_bytes(w3.eth.get_storage_at(address, key(slot)), "big")
    assert record & 0x80  # placed by the settlement, its notary: acknowledged
    rpc(
        dep.payment,
        "anvil_setStorageAt",
        address,
        key(slot).to_0x_hex(),
        f"0x{record & ~0x80:064x}",
    )
    assert (
        settlement_contract.functions.isAnnounced(trade.hold_id).call(block_identifier=block)
        is False
    )

    first, second, _ = attesters
    relays.start_many(first, second)
    for a in (first, second):
        eventually(
            lambda a=a: (
                (row := store_row(a.store, trade.held_message)) is not None
                and row.condition == "dead"
            ),
            f"{a.name} to refuse PAYMENT_HELD",
        )
        row = store_row(a.store, trade.held_message)
        assert row is not None and row.stage_name == "seen" and row.signers == ()
        assert (row.fail_reason or "").startswith("source_state_disagrees")
        status_json = subprocess.run(
            pvd_command("status", "--config", str(a.config), "--json"),
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        dead = json.loads(status_json.stdout)["dead"]
        assert [(d["id"], d["route"]) for d in dead] == [(trade.held_message, "payment->business")]
        assert "never announced" in dead[0]["reason"]
    assert delivery(dep.system.business.inbox, trade.held_message) == "None"
    assert status(dep, trade) == "Accepted"
    assert hold_state(dep, trade) == "Held"
    assert_reconciles(dep)


def _selector(signature: str) -> str:
    return Web3.keccak(text=signature)[:4].to_0x_hex()


@pytest.mark.parametrize(
    ("signers", "error"),
    [
        (("stranger", "carrier"), "InboxSignerNotAttester(uint256,address)"),
        (("attester",), "InboxSignaturesLength(uint256,uint256)"),
        (("attester", "stranger"), "InboxSignerNotAttester(uint256,address)"),
    ],
    ids=["by-non-attesters", "by-one-attester-only", "by-an-attester-and-a-stranger"],
)
def test_a_forged_delivered_outcome_submitted_to_the_inbox_is_rejected(
    deployment: Deployment,
    signers: tuple[str, ...],
    error: str,
) -> None:
    """C6: a Delivered outcome for a trade that was not delivered, never sent by the
    registry, signed by keys that are not a quorum of attesters, is refused by the
    payment inbox; the buyer's hold is not paid. (No relayer is needed to attack.)"""
    dep, cast = deployment, deployment.cast
    pay = dep.system.payment
    trade = open_trade(dep)
    forged = Message(
        source_domain=BUSINESS_DOMAIN,
        source_app=dep.system.business.registry.address,
        destination_domain=PAYMENT_DOMAIN,
        destination_app=pay.settlement.address,
        nonce=10_000,
        kind=TradeOutcome.KIND,
        body=TradeOutcome(
            trade.trade_id,
            trade.hold_id,
            Outcome.DELIVERED,
            trade.hold.payer,
            trade.hold.payee,
            trade.hold.amount,
            trade.hold.expiry,
        ).encode(),
    )
    domain = InboxDomain(
        dep.payment.w3.eth.chain_id,
        pay.inbox.address,
        PAYMENT_DOMAIN,
        pay.inbox.functions.deploymentId().call(),
    )
    keys: dict[str, Any] = {
        "stranger": cast.stranger,
        "carrier": cast.carrier,
        "attester": cast.attesters[0],
    }
    accounts = sorted((keys[name] for name in signers), key=lambda a: int(a.address, 16))
    signatures = b"".join(sign(forged, domain, account) for account in accounts)
    before = (balance(dep, cast.seller.address), balance(dep, cast.buyer.address))

    deliver = pay.inbox.functions.deliver(forged.encode(), signatures)
    with pytest.raises(ContractCustomError) as refused:
        deliver.call({"from": cast.stranger.address})
    assert str(refused.value.data).startswith(_selector(error))
    tx = deliver.transact({"from": cast.stranger.address, "gas": 500_000})
    assert dep.payment.w3.eth.wait_for_transaction_receipt(tx)["status"] == 0

    assert delivery(pay.inbox, "0x" + forged.id.hex()) == "None"
    assert hold_state(dep, trade) == "Held"
    assert payouts(dep, trade) == 0
    assert before == (balance(dep, cast.seller.address), balance(dep, cast.buyer.address))
    assert status(dep, trade) == "Accepted"
    assert_reconciles(dep)
