"""The reconcile check the other integration tests end with is not vacuous: a state
broken on purpose (the token's record of a hold edited with anvil_setStorageAt so that
it looks paid, with no delivered trade and no payout) is reported."""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode
from web3 import Web3

from tests.integration.harness import Deployment, rpc
from tests.integration.reconcile_check import assert_reconciles, reconcile_report
from tests.integration.trades import hold_state, open_trade, status

HOLD_EXECUTED = 2


def test_a_hold_edited_to_look_paid_without_a_delivered_trade_fails_the_reconcile_check(
    deployment: Deployment,
) -> None:
    dep = deployment
    token = dep.system.payment.token
    trade = open_trade(dep)
    assert_reconciles(dep)  # consistent before the edit

    # YuanHolds: mapping(bytes32 holdId => uint256 record) _holds, the status in bits 6..0
    # (bit 7: acknowledged by the notary). Its slot depends on the inheritance chain: find
    # the one holding this hold.
    def key(slot: int) -> bytes:
        return Web3.keccak(abi_encode(["bytes32", "uint256"], [trade.hold_id, slot]))

    w3 = dep.payment.w3
    slot = next(
        s for s in range(64) if w3.eth.get_storage_at(token.address, key(s))[-1] & 0x7F == 1
    )
    record = int.from_bytes(w3.eth.get_storage_at(token.address, key(slot)), "big")
    edited = (record & ~0x7F) | HOLD_EXECUTED
    rpc(dep.payment, "anvil_setStorageAt", token.address, key(slot).to_0x_hex(), f"0x{edited:064x}")
    assert hold_state(dep, trade) == "Executed"
    assert status(dep, trade) == "Accepted"

    report = reconcile_report(dep)
    assert not report.ok
    invariants = {finding.invariant for finding in report.findings}
    assert {"X1", "C4"} <= invariants, report.to_text()
