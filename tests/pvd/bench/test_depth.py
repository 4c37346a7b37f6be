"""pvd.bench.processes' depth run: which chain mines how in each step, and that
`set_mining` really switches a node between a block per transaction and a clock."""

from __future__ import annotations

import time

from web3 import Web3
from web3.types import TxParams, Wei

from pvd.bench.processes import Mining, depth_mining, set_mining
from pvd.chain.anvil import AnvilNode


def test_each_step_has_its_source_on_the_clock_and_its_destination_per_transaction() -> None:
    steps = depth_mining(3, both=False)
    assert steps == {
        "hold_to_funded": Mining(payment=3, business=None),
        "delivered_to_payout": Mining(payment=None, business=3),
    }
    assert steps["hold_to_funded"].described() == {
        "payment": "a block every 3 s",
        "business": "automine",
    }


def test_with_both_on_the_clock_every_step_has_both_chains_on_it() -> None:
    steps = depth_mining(1, both=True)
    assert set(steps.values()) == {Mining(payment=1, business=1)}
    assert set(steps) == {"hold_to_funded", "delivered_to_payout"}


def wait_for_block(w3: Web3, number: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if w3.eth.block_number >= number:
            return True
        time.sleep(0.05)
    return False


def test_set_mining_switches_between_a_clock_and_a_block_per_transaction(node: AnvilNode) -> None:
    w3 = Web3(Web3.HTTPProvider(node.url))
    sender, receiver = list(w3.eth.accounts)[:2]
    transfer: TxParams = {"from": sender, "to": receiver, "value": Wei(1)}

    set_mining(w3, 1)
    start = w3.eth.block_number
    assert wait_for_block(w3, start + 2)  # blocks come with no transaction sent
    set_mining(w3, None)
    time.sleep(0.2)  # a block the clock was making as it stopped is in
    still = w3.eth.block_number
    time.sleep(1.5)
    assert w3.eth.block_number == still  # no clock any more
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(transfer), timeout=5)
    assert receipt["blockNumber"] == still + 1  # mined on arrival
