"""A delivery is confirmed only at the destination's confirmation depth, with its block
hash re-checked; a delivery that leaves the destination chain is delivered again.

On two anvil processes (evm_snapshot / evm_revert is the reorg): PAYMENT_HELD is relayed
to the business chain, whose confirmation depth is 2 for these relayers. The inbox's own
record (`failureOf`) and its delivery logs are read with web3 in the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hexbytes import HexBytes

from pvd.bench.relay import funded, open_trades
from pvd.cli.demo import status, two_chains
from pvd.deploy.compiler import Artifact
from pvd.protocol.statuses import DeliveryStatus
from pvd.relayer import route as route_module
from pvd.relayer.config import Route
from pvd.relayer.route import RouteSettings
from pvd.relayer.service import Relayer
from pvd.relayer.store import Stage
from tests.pvd.relayer.helpers import funded_system, inbox_delivery
from tests.pvd.relayer.test_failures import World, relay_until, sample
from tests.pvd.relayer.test_failures import artifacts as artifacts  # the module fixture

P2B = Route.PAYMENT_TO_BUSINESS
DEPTH = 2


@pytest.fixture
def anvil_world(artifacts: dict[str, Artifact], tmp_path: Path) -> Iterator[World]:
    with two_chains("anvil") as (payment, business):
        system, cast = funded_system(payment, business, artifacts)
        made = World(system, cast, tmp_path)
        try:
            yield made
        finally:
            made.close()


def rpc(world: World, method: str, *params: Any) -> Any:
    answer = world.system.business.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


def held_id(world: World) -> str:
    (event,) = world.system.payment.outbox.events.MessageSent.get_logs(from_block=0)
    return "0x" + bytes(event["args"]["messageId"]).hex()


def on_inbox(world: World, message_id: str) -> tuple[DeliveryStatus, int]:
    return inbox_delivery(world.system.business.inbox, message_id)


def deliveries(world: World, message_id: str) -> int:
    inbox = world.system.business.inbox
    logs = inbox.events.MessageDelivered.get_logs(
        from_block=0, argument_filters={"messageId": HexBytes(message_id)}
    )
    return len(logs)


def deliver_again_and_confirm(world: World, relayer: Relayer, mid: str) -> None:
    """Relay until the lost message is delivered again, then mine the depth and relay
    until the new delivery is confirmed."""
    relay_until(
        relayer, lambda: on_inbox(world, mid)[0] is DeliveryStatus.DELIVERED, "delivered again"
    )
    rpc(world, "anvil_mine", hex(DEPTH))
    relay_until(
        relayer,
        lambda: (r := relayer.store.get(mid)) is not None and r.stage is Stage.CONFIRMED,
        "confirmed at the depth",
    )


def test_a_delivery_is_confirmed_only_once_its_block_is_at_the_destination_depth(
    anvil_world: World,
) -> None:
    world = anvil_world
    relayer = world.relayer("attester", business_settings=RouteSettings(confirmations=DEPTH))
    (trade,) = open_trades(world.system, world.cast, 1)
    mid = held_id(world)
    relay_until(relayer, lambda: on_inbox(world, mid)[0] is DeliveryStatus.DELIVERED, "delivered")
    _, block = on_inbox(world, mid)
    for _ in range(3):
        relayer.tick()

    record = relayer.store.get(mid)
    assert record is not None and record.stage is not Stage.CONFIRMED  # at depth 0 only
    assert record.included is not None and record.included.block == block
    chain_hash = world.system.business.chain.w3.eth.get_block(block)["hash"].to_0x_hex()
    assert record.included.block_hash == chain_hash

    rpc(world, "anvil_mine", hex(DEPTH))
    relayer.tick()

    record = relayer.store.get(mid)
    assert record is not None and record.stage is Stage.CONFIRMED
    assert record.confirmed_block == block
    assert sample(relayer, "pvd_relay_messages_confirmed_total", route=P2B.value) == 1
    assert sample(relayer, "pvd_relay_messages_relayed_total", route=P2B.value) == 1
    assert funded(world.system, trade)


def test_a_delivery_removed_by_a_reorg_before_the_depth_is_delivered_again_once(
    anvil_world: World,
) -> None:
    world = anvil_world
    relayer = world.relayer("attester", business_settings=RouteSettings(confirmations=DEPTH))
    (trade,) = open_trades(world.system, world.cast, 1)
    mid = held_id(world)
    snapshot = rpc(world, "evm_snapshot")
    relay_until(relayer, lambda: on_inbox(world, mid)[0] is DeliveryStatus.DELIVERED, "delivered")
    assert funded(world.system, trade)

    assert rpc(world, "evm_revert", snapshot) is True  # the delivery's block is gone
    assert on_inbox(world, mid)[0] is DeliveryStatus.NONE
    assert status(world.system, trade.trade_id) == "Accepted"
    deliver_again_and_confirm(world, relayer, mid)

    assert funded(world.system, trade)
    assert deliveries(world, mid) == 1  # on the chain as it is now: one delivery
    assert sample(relayer, "pvd_relay_deliveries_lost_total", route=P2B.value) == 1
    assert sample(relayer, "pvd_relay_messages_confirmed_total", route=P2B.value) == 1


def test_a_reorg_between_a_step_s_inbox_read_and_its_block_hashes_is_read_again_next_tick(
    anvil_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deliver step reads the inbox (Delivered, at block B), then the chain loses B
    before the step asks for B's hash: the step gives up (a passing fault), the relayer
    goes on, and the next ticks deliver the message again and confirm it at the depth."""
    world = anvil_world
    relayer = world.relayer("attester", business_settings=RouteSettings(confirmations=DEPTH))
    (trade,) = open_trades(world.system, world.cast, 1)
    mid = held_id(world)
    snapshot = rpc(world, "evm_snapshot")
    relay_until(relayer, lambda: on_inbox(world, mid)[0] is DeliveryStatus.DELIVERED, "delivered")
    reverted: list[bool] = []
    real_view = route_module.inbox_view

    def view_then_reorg(*args: Any, **kwargs: Any) -> Any:
        view = real_view(*args, **kwargs)
        if not reverted and mid in view.records:
            reverted.append(rpc(world, "evm_revert", snapshot))  # the delivery's block is gone
        return view

    monkeypatch.setattr(route_module, "inbox_view", view_then_reorg)
    relayer.tick()  # raised TypeError (a crash of the relayer) before
    assert reverted == [True]
    assert on_inbox(world, mid)[0] is DeliveryStatus.NONE

    deliver_again_and_confirm(world, relayer, mid)
    assert funded(world.system, trade)
    assert deliveries(world, mid) == 1


def test_a_confirmed_delivery_a_deeper_reorg_removed_is_reopened_by_the_next_sweep(
    anvil_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the depth the relayer takes a delivery as final; if the chain still drops it
    (a reorg deeper than the configured depth), the sweep that runs while the relayer
    runs finds the message open on the inbox again and re-opens it in a new round."""
    world = anvil_world
    relayer = world.relayer("attester")  # depth 0: confirmed at once
    (trade,) = open_trades(world.system, world.cast, 1)
    mid = held_id(world)
    snapshot = rpc(world, "evm_snapshot")
    relay_until(
        relayer,
        lambda: (r := relayer.store.get(mid)) is not None and r.stage is Stage.CONFIRMED,
        "confirmed",
    )
    assert rpc(world, "evm_revert", snapshot) is True
    rpc(world, "anvil_mine", hex(4))  # the new branch is the longer one, as in a real reorg
    for _ in range(3):
        relayer.tick()
    assert status(world.system, trade.trade_id) == "Accepted"  # no sweep yet

    later = route_module.time.monotonic() + RouteSettings().sweep_interval + 1
    monkeypatch.setattr(route_module.time, "monotonic", lambda: later)
    relay_until(relayer, lambda: funded(world.system, trade), "Funded again")

    record = relayer.store.get(mid)
    assert record is not None and (record.stage, record.round) == (Stage.CONFIRMED, 1)
    assert deliveries(world, mid) == 1
    assert sample(relayer, "pvd_relay_deliveries_lost_total", route=P2B.value) == 1
