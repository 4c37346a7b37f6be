"""A route at `confirmations = N` acts on a source message on the head that puts N blocks
on top of the message's block: not one block earlier, and not one later (the relay's
depth latency is N block times plus the relayer's own work, never N + 1). Checked with
the head the subscription announces and with the node asked (no subscription), on a
real anvil.

Keys: the public development mnemonic's accounts only (TEST KEYS ONLY).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from web3 import Web3

from pvd.bench.relay import open_trades
from pvd.relayer.config import Route
from pvd.relayer.route import RelayRoute
from pvd.relayer.store import Stage
from tests.pvd.relayer.test_confirmation import anvil_world as anvil_world  # the fixture
from tests.pvd.relayer.test_failures import World
from tests.pvd.relayer.test_failures import artifacts as artifacts  # the module fixture

DEPTH = 2


def mine(w3: Web3) -> int:
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return int(w3.eth.block_number)


@pytest.mark.parametrize("announced", [True, False], ids=["subscribed", "polling"])
def test_a_message_is_seen_on_the_head_that_makes_it_depth_deep(
    anvil_world: World, announced: bool
) -> None:
    world = anvil_world
    relayer = world.relayer("attester")
    route: RelayRoute = next(r for r in relayer.routes if r.route is Route.PAYMENT_TO_BUSINESS)
    route.settings = replace(route.settings, confirmations=DEPTH)
    w3 = world.system.payment.chain.w3
    heads = [int(w3.eth.block_number)]
    if announced:
        route.head_hint = lambda: heads[-1]
    route.tick()  # the start sweep and first scan: the checkpoint is DEPTH below the head
    open_trades(world.system, world.cast, 1)  # the hold (and its message) is the last block
    message_block = int(w3.eth.block_number)
    heads.append(message_block)
    for on_top in range(DEPTH):
        assert route.scan() == [], f"seen with {on_top} blocks on top, not {DEPTH}"
        heads.append(mine(w3))
    assert heads[-1] == message_block + DEPTH
    (seen,) = route.scan()
    record = route.store.get(seen)
    assert record is not None and record.stage is Stage.SEEN
    assert record.source.block == message_block
    checkpoint = route.store.checkpoint(Route.PAYMENT_TO_BUSINESS)
    assert checkpoint is not None and checkpoint.block == message_block
