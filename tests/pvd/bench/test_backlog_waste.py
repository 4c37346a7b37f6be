"""pvd.bench.processes' backlog figures count a delivery that reverted: it leaves no log
for the bench's watch, so it is found by its receipt (`reverted_receipts`) and all the
gas it used is wasted gas."""

from __future__ import annotations

from web3 import Web3
from web3.types import TxParams, Wei

from pvd.bench.processes import reverted_receipts
from pvd.chain.anvil import AnvilNode

# init code of a contract whose every call reverts (runtime: PUSH1 0 PUSH1 0 REVERT)
ALWAYS_REVERTS = "0x6460006000fd6000526005601bf3"


def test_only_the_reverted_transactions_to_the_inbox_are_found(node: AnvilNode) -> None:
    w3 = Web3(Web3.HTTPProvider(node.url))
    sender, other = list(w3.eth.accounts)[:2]
    deployed = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": sender, "data": ALWAYS_REVERTS})
    )
    inbox = deployed["contractAddress"]
    first = w3.eth.block_number + 1

    def send(to: str, gas: int) -> int:
        tx: TxParams = {"from": sender, "to": to, "value": Wei(0), "gas": gas}
        return int(w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))["status"])

    assert send(inbox, 60_000) == 0  # reverted, and mined
    assert send(other, 21_000) == 1  # not the inbox
    assert send(inbox, 70_000) == 0

    found = reverted_receipts(w3, inbox, first)
    assert len(found) == 2
    assert all(int(r["status"], 16) == 0 and int(r["gasUsed"], 16) > 21_000 for r in found)
    assert reverted_receipts(w3, inbox, w3.eth.block_number + 1) == []
    assert reverted_receipts(w3, other, first) == []
