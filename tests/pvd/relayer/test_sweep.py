"""pvd.relayer.sweep: the relayer's start-up sweep of open messages on both chains.

On two embedded chains with the whole system deployed, trades are opened and relayed as
each test needs; a relayer store is then made to miss messages the way a real one can
(checkpoint moved past a message it never held, a message left dead), and the sweep
must make the store agree with the chains — and the relayer then finish the trade. The
last test does the same on two anvil processes, where the inbox reads go as JSON-RPC
batches. Messages and their logs are read in the tests with web3's own ABI decoding,
not with the code under test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from web3.contract import Contract

from pvd.bench.relay import deliver, executed, funded, open_trades
from pvd.chain.connection import Chain
from pvd.cli.demo import (
    Cast,
    DemoTrade,
    hold_state,
    in_process_relayer,
    settled,
    status,
    two_chains,
)
from pvd.client import trade as client
from pvd.deploy.compiler import Artifact, compile_contracts
from pvd.deploy.system import System
from pvd.protocol.messages import Message, PaymentSettled, SettlementResult
from pvd.protocol.statuses import DeliveryStatus
from pvd.relayer import route as route_module
from pvd.relayer.config import Route
from pvd.relayer.route import RelayRoute
from pvd.relayer.service import Relayer
from pvd.relayer.store import Condition, SeenMessage, SourceLocation, Stage, Store
from pvd.relayer.sweep import SweepReport
from tests.pvd.relayer.helpers import funded_system, inbox_delivery

P2B, B2P = Route.PAYMENT_TO_BUSINESS, Route.BUSINESS_TO_PAYMENT
OTHER_DOMAIN = 3  # neither chain's: no route of this relayer relays it


@dataclass
class World:
    """A deployed system with funds issued, and the relayers a test made (closed after)."""

    system: System
    cast: Cast
    folder: Path
    relayers: list[Relayer] = field(default_factory=list)

    def relayer(self, name: str) -> Relayer:
        made = in_process_relayer(self.system, self.cast, self.folder / f"{name}.sqlite")
        self.relayers.append(made)
        return made

    def close(self) -> None:
        for made in self.relayers:
            made.close()
            made.store.close()


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Artifact]:
    return compile_contracts()


@pytest.fixture
def world(artifacts: dict[str, Artifact], tmp_path: Path) -> Iterator[World]:
    with two_chains("embedded") as (payment, business):
        made = World(*funded_system(payment, business, artifacts), tmp_path)
        try:
            yield made
        finally:
            made.close()


# --- reading the chains (web3's ABI decoding, not the code under test) ----------------------


def sent(outbox: Contract) -> list[SeenMessage]:
    """Every MessageSent of `outbox`, in chain order, as the store would take it."""
    return [
        SeenMessage(
            "0x" + bytes(event["args"]["messageId"]).hex(),
            bytes(event["args"]["message"]),
            SourceLocation(
                event["blockNumber"],
                event["blockHash"].to_0x_hex(),
                event["transactionHash"].to_0x_hex(),
                event["logIndex"],
            ),
        )
        for event in outbox.events.MessageSent.get_logs(from_block=0)
    ]


def only(messages: list[SeenMessage]) -> SeenMessage:
    (message,) = messages
    return message


def route_of(relayer: Relayer, route: Route) -> RelayRoute:
    return next(r for r in relayer.routes if r.route is route)


def checkpoints_at_heads(store: Store, system: System) -> None:
    """Both checkpoints at their source chain's head: the store says every block is done."""
    for route, chain in ((P2B, system.payment.chain), (B2P, system.business.chain)):
        block = chain.w3.eth.get_block("latest")
        store.advance_checkpoint(route, block["number"], block["hash"].to_0x_hex())


def relay_until(relayer: Relayer, done: Callable[[], bool], what: str) -> None:
    assert relayer.run_until(done, timeout=60), f"the relayer did not reach {what}"


def funded_trade(world: World) -> tuple[DemoTrade, SeenMessage]:
    """One trade Funded by a first relayer (its own store); its PAYMENT_HELD message."""
    (trade,) = open_trades(world.system, world.cast, 1)
    relay_until(world.relayer("first"), lambda: funded(world.system, trade), "Funded")
    return trade, only(sent(world.system.payment.outbox))


def snapshot(store: Store, ids: list[str]) -> dict[str, Any]:
    return {mid: store.get(mid) for mid in ids} | {r: store.checkpoint(r) for r in Route}


# --- messages the store missed ------------------------------------------------------------


def test_a_payment_held_below_the_checkpoint_the_store_never_held_is_added_and_funds_the_trade(
    world: World,
) -> None:
    system = world.system
    (trade,) = open_trades(system, world.cast, 1)
    held = only(sent(system.payment.outbox))
    relayer = world.relayer("restored")
    checkpoints_at_heads(relayer.store, system)
    route = route_of(relayer, P2B)
    assert route.scan() == []  # the scan alone never reads below its checkpoint
    assert relayer.store.get(held.message_id) is None

    report = route.sweep()

    assert (report.open, report.added, report.reopened, report.confirmed) == (
        (held.message_id,),
        (held.message_id,),
        (),
        (),
    )
    assert report.through_block == system.payment.chain.w3.eth.block_number
    record = relayer.store.get(held.message_id)
    assert record is not None and (record.stage, record.condition) == (Stage.SEEN, Condition.OPEN)
    assert (record.route, record.message, record.source) == (P2B, held.message, held.source)
    assert status(system, trade.trade_id) == "Accepted"  # the sweep itself sends nothing
    relay_until(relayer, lambda: funded(system, trade), "Funded")
    record = relayer.store.get(held.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED
    status_, block = inbox_delivery(system.business.inbox, held.message_id)
    assert (status_, record.confirmed_block) == (DeliveryStatus.DELIVERED, block)
    assert status(system, trade.trade_id) == "Funded"


def test_an_outcome_below_the_checkpoint_the_store_never_held_is_added_and_pays_the_seller(
    world: World,
) -> None:
    system = world.system
    trade, _held = funded_trade(world)
    deliver(system, world.cast, trade)  # Delivered: TRADE_OUTCOME sent, no relayer running
    outcome = only(sent(system.business.outbox))
    relayer = world.relayer("restored")
    checkpoints_at_heads(relayer.store, system)

    relay_until(relayer, lambda: settled(system, trade) == "Paid", "Paid")  # first tick sweeps

    assert hold_state(system, trade) == "Executed"
    record = relayer.store.get(outcome.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED and record.route is B2P
    assert inbox_delivery(system.payment.inbox, outcome.message_id)[0] is DeliveryStatus.DELIVERED
    # the PAYMENT_SETTLED it caused lies above the checkpoint: the scan read it
    settled_message = sent(system.payment.outbox)[-1]
    assert Message.decode(settled_message.message).kind == PaymentSettled.KIND
    assert inbox_delivery(system.business.inbox, settled_message.message_id)[0] is (
        DeliveryStatus.DELIVERED
    )


def test_a_message_the_inbox_holds_as_failed_is_open_added_and_retried_after_unpause(
    world: World,
) -> None:
    system, cast = world.system, world.cast
    token, inbox = system.payment.token, system.payment.inbox
    trade, _held = funded_trade(world)
    first = world.relayers[0]
    pauser = token.functions.PAUSER_ROLE().call()
    client.transact(
        system.payment.chain,
        token.functions.grantRole(pauser, cast.admin.address),
        cast.admin.address,
    )
    client.transact(system.payment.chain, token.functions.pause(), cast.admin.address)
    deliver(system, cast, trade)
    outcome = only(sent(system.business.outbox))
    relay_until(
        first,
        lambda: inbox_delivery(inbox, outcome.message_id)[0] is DeliveryStatus.FAILED,
        "the outcome held as Failed",
    )
    relayer = world.relayer("restored")
    checkpoints_at_heads(relayer.store, system)

    report = route_of(relayer, B2P).sweep()

    assert (report.open, report.added) == ((outcome.message_id,), (outcome.message_id,))
    assert hold_state(system, trade) == "Held"
    client.transact(system.payment.chain, token.functions.unpause(), cast.admin.address)
    relay_until(relayer, lambda: executed(system, trade), "the hold Executed")
    assert inbox_delivery(inbox, outcome.message_id)[0] is DeliveryStatus.DELIVERED
    record = relayer.store.get(outcome.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED


# --- dead messages --------------------------------------------------------------------------


def test_a_dead_message_still_open_on_chain_is_reopened_and_delivered(world: World) -> None:
    system = world.system
    (trade,) = open_trades(system, world.cast, 1)
    held = only(sent(system.payment.outbox))
    relayer = world.relayer("restarted")
    relayer.store.record_scan(P2B, [held])
    relayer.store.mark_dead(held.message_id, "test: retries exhausted")
    checkpoints_at_heads(relayer.store, system)

    report = route_of(relayer, P2B).sweep()

    assert (report.open, report.added, report.reopened, report.confirmed) == (
        (held.message_id,),
        (),
        (held.message_id,),
        (),
    )
    record = relayer.store.get(held.message_id)
    assert record is not None and (record.condition, record.round) == (Condition.FAILED, 1)
    relay_until(relayer, lambda: funded(system, trade), "Funded")
    record = relayer.store.get(held.message_id)
    assert record is not None and (record.stage, record.round) == (Stage.CONFIRMED, 1)
    assert inbox_delivery(system.business.inbox, held.message_id)[0] is DeliveryStatus.DELIVERED


def test_a_dead_message_already_consumed_on_the_destination_is_confirmed_not_reopened(
    world: World,
) -> None:
    system = world.system
    trade, held = funded_trade(world)
    relayer = world.relayer("restarted")
    relayer.store.record_scan(P2B, [held])
    relayer.store.mark_dead(held.message_id, "test: retries exhausted")
    checkpoints_at_heads(relayer.store, system)
    business_block = system.business.chain.w3.eth.block_number

    report = route_of(relayer, P2B).sweep()

    assert (report.open, report.added, report.reopened, report.confirmed) == (
        (),
        (),
        (),
        (held.message_id,),
    )
    record = relayer.store.get(held.message_id)
    _, block = inbox_delivery(system.business.inbox, held.message_id)
    assert record is not None
    assert (record.stage, record.condition, record.round, record.attempts) == (
        Stage.CONFIRMED,
        Condition.OPEN,
        0,
        0,
    )
    assert (record.confirmed_block, record.confirmed_tx_hash) == (block, None)
    assert relayer.store.dead() == []
    relayer.tick()
    assert system.business.chain.w3.eth.block_number == business_block  # nothing sent
    assert status(system, trade.trade_id) == "Funded"


def test_a_pending_message_already_consumed_on_the_destination_is_confirmed_without_a_delivery(
    world: World,
) -> None:
    system = world.system
    _trade, held = funded_trade(world)
    relayer = world.relayer("behind")
    relayer.store.record_scan(P2B, [held])
    checkpoints_at_heads(relayer.store, system)
    business_block = system.business.chain.w3.eth.block_number

    report = route_of(relayer, P2B).sweep()

    assert (report.added, report.reopened, report.confirmed) == ((), (), (held.message_id,))
    record = relayer.store.get(held.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED
    relayer.tick()
    assert system.business.chain.w3.eth.block_number == business_block


def test_a_dead_message_no_longer_in_the_outbox_logs_stays_dead(world: World) -> None:
    """Its log left the chain (a reorg): re-opening it would only fail again."""
    system = world.system
    (_trade,) = open_trades(system, world.cast, 1)
    real = only(sent(system.payment.outbox))
    message = Message.decode(real.message)
    gone = replace(message, nonce=message.nonce + 1)  # never sent: no log carries it
    orphan = SeenMessage("0x" + gone.id.hex(), gone.encode(), real.source)
    relayer = world.relayer("restarted")
    relayer.store.record_scan(P2B, [real, orphan])
    relayer.store.mark_dead(orphan.message_id, "source_reorged: the log's block left the chain")
    checkpoints_at_heads(relayer.store, system)
    before = relayer.store.get(orphan.message_id)

    report = route_of(relayer, P2B).sweep()

    assert (report.open, report.added, report.reopened, report.confirmed) == (
        (real.message_id,),
        (),
        (),
        (),
    )
    assert inbox_delivery(system.business.inbox, orphan.message_id)[0] is DeliveryStatus.NONE
    assert relayer.store.get(orphan.message_id) == before
    assert [r.message_id for r in relayer.store.dead()] == [orphan.message_id]


# --- what the sweep leaves alone ------------------------------------------------------------


def test_delivered_messages_and_messages_for_another_domain_are_not_added(
    world: World, artifacts: dict[str, Artifact]
) -> None:
    system, cast = world.system, world.cast
    _trade, held = funded_trade(world)
    pay = system.payment
    factory = pay.chain.w3.eth.contract(
        abi=artifacts["MockApp"].abi, bytecode=artifacts["MockApp"].bytecode
    )
    receipt = client.transact(pay.chain, factory.constructor(pay.inbox.address), cast.admin.address)
    app = pay.chain.w3.eth.contract(address=receipt["contractAddress"], abi=factory.abi)
    # App changes wait for the outbox's governance delay once its setup phase is over.
    client.transact(
        pay.chain, pay.outbox.functions.proposeApp(app.address, True), cast.admin.address
    )
    pay.chain.w3.testing.timeTravel(pay.outbox.functions.pendingApp(app.address).call()[1])
    client.transact(pay.chain, pay.outbox.functions.applyApp(app.address), cast.admin.address)
    body = PaymentSettled(b"\x01" * 32, b"\x02" * 32, SettlementResult.PAID, 1).encode()
    client.transact(
        pay.chain,
        app.functions.sendVia(
            pay.outbox.address, OTHER_DOMAIN, cast.seller.address, PaymentSettled.KIND, body
        ),
        cast.admin.address,
    )
    elsewhere = sent(pay.outbox)[-1]
    assert Message.decode(elsewhere.message).destination_domain == OTHER_DOMAIN
    assert inbox_delivery(system.business.inbox, held.message_id)[0] is DeliveryStatus.DELIVERED
    assert inbox_delivery(system.business.inbox, elsewhere.message_id)[0] is DeliveryStatus.NONE
    relayer = world.relayer("new")
    checkpoints_at_heads(relayer.store, system)

    reports = [route_of(relayer, route).sweep() for route in (P2B, B2P)]

    assert [(r.open, r.added, r.reopened, r.confirmed) for r in reports] == [((), (), (), ())] * 2
    assert relayer.store.status_counts() == {}


def test_a_second_sweep_changes_nothing(world: World) -> None:
    system = world.system
    trades = open_trades(system, world.cast, 2)
    first, second = sent(system.payment.outbox)
    relayer = world.relayer("restored")
    relayer.store.record_scan(P2B, [second])
    relayer.store.mark_dead(second.message_id, "test: retries exhausted")
    checkpoints_at_heads(relayer.store, system)
    route = route_of(relayer, P2B)
    once = route.sweep()
    assert (once.added, once.reopened) == ((first.message_id,), (second.message_id,))
    ids = [first.message_id, second.message_id]
    before = snapshot(relayer.store, ids)

    again = route.sweep()

    assert again == replace(once, added=(), reopened=())
    assert snapshot(relayer.store, ids) == before
    relay_until(relayer, lambda: all(funded(system, t) for t in trades), "both Funded")
    done = route.sweep()
    assert (done.open, done.added, done.reopened, done.confirmed) == ((), (), (), ())


def test_a_store_that_knows_nothing_skips_the_sweep_and_the_first_scan_reads_everything(
    world: World,
) -> None:
    system = world.system
    (trade,) = open_trades(system, world.cast, 1)
    relayer = world.relayer("new")

    assert route_of(relayer, P2B).sweep() == SweepReport.skipped(P2B)
    assert relayer.store.status_counts() == {}
    relay_until(relayer, lambda: funded(system, trade), "Funded")


def test_a_new_store_confirms_what_the_inboxes_consumed_and_sends_no_delivery(
    world: World,
) -> None:
    """A relayer joining late scans every message from the deployment block and sends
    nothing for what another relayer delivered: the deliver step reads the inbox before
    it sends, and confirms the message."""
    system = world.system
    trade, held = funded_trade(world)
    blocks = (system.payment.chain.w3.eth.block_number, system.business.chain.w3.eth.block_number)
    late = world.relayer("late")

    late.tick()

    record = late.store.get(held.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED
    assert late.store.status_counts() == {"confirmed": 1}
    assert status(system, trade.trade_id) == "Funded"
    assert (
        system.payment.chain.w3.eth.block_number,
        system.business.chain.w3.eth.block_number,
    ) == blocks  # no transaction on either chain


def _consumed_seen_at(world: World, held: SeenMessage, block: int) -> SeenMessage:
    """`held` as a scan would store it had its log been in `block` (with that block's
    real hash): its source state is read there."""
    at = world.system.payment.chain.w3.eth.get_block(block)
    return SeenMessage(
        held.message_id,
        held.message,
        SourceLocation(block, at["hash"].to_0x_hex(), held.source.tx_hash, held.source.log_index),
    )


def test_a_consumed_message_its_source_no_longer_backs_is_confirmed_not_refused(
    world: World,
) -> None:
    """A PAYMENT_HELD whose hold was executed after it was delivered: the source check
    refuses it (read at a later block, as on a node that no longer keeps its log's
    block), the attest step then asks the inbox, and confirms it instead of refusing."""
    system = world.system
    trade, held = funded_trade(world)
    deliver(system, world.cast, trade)
    relay_until(world.relayers[0], lambda: executed(system, trade), "the hold Executed")
    late = world.relayer("late")
    seen = _consumed_seen_at(world, held, system.payment.chain.w3.eth.block_number)
    late.store.record_scan(P2B, [seen])
    route = route_of(late, P2B)

    assert route.attest() == 0

    record = late.store.get(held.message_id)
    assert record is not None and (record.stage, record.condition) == (
        Stage.CONFIRMED,
        Condition.OPEN,
    )
    assert late.store.signatures(held.message_id) == {}
    assert late.store.dead() == []


def test_a_message_its_source_no_longer_backs_and_not_consumed_is_refused(world: World) -> None:
    """The same check with the inbox knowing nothing of the message (a PAYMENT_HELD for
    a hold that is no longer Held, never delivered): dead, unsigned."""
    system = world.system
    trade, held = funded_trade(world)
    deliver(system, world.cast, trade)
    relay_until(world.relayers[0], lambda: executed(system, trade), "the hold Executed")
    message = Message.decode(held.message)
    copy = replace(message, nonce=message.nonce + 1_000)  # the same hold, never delivered
    never = SeenMessage("0x" + copy.id.hex(), copy.encode(), held.source)
    late = world.relayer("late")
    late.store.record_scan(
        P2B, [_consumed_seen_at(world, never, system.payment.chain.w3.eth.block_number)]
    )

    assert route_of(late, P2B).attest() == 0

    record = late.store.get(never.message_id)
    assert record is not None and (record.stage, record.condition) == (Stage.SEEN, Condition.DEAD)
    assert (record.fail_reason or "").startswith("source_state_disagrees")
    assert late.store.signatures(never.message_id) == {}


def test_a_consumed_message_whose_log_block_left_the_chain_is_confirmed_not_failed(
    world: World,
) -> None:
    _trade, held = funded_trade(world)
    moved = SeenMessage(
        held.message_id,
        held.message,
        replace(held.source, block_hash="0x" + "ab" * 32),  # the block was replaced
    )
    late = world.relayer("late")
    late.store.record_scan(P2B, [moved])

    assert route_of(late, P2B).attest() == 0

    record = late.store.get(held.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED
    assert record.condition is Condition.OPEN and record.attempts == 0


class Lines(logging.Handler):
    """The messages logged to one logger, at INFO and above."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.INFO)
        self.logger = logging.getLogger(name)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> Lines:
        self.level = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level)


def test_the_first_tick_sweeps_once_and_logs_what_it_did(world: World) -> None:
    system = world.system
    (early,) = open_trades(system, world.cast, 1)
    held = only(sent(system.payment.outbox))
    relayer = world.relayer("restored")
    checkpoints_at_heads(relayer.store, system)
    # each sweep reads up to its route's checkpoint: the blocks above are the scan's
    payment_head = system.payment.chain.w3.eth.block_number
    business_head = system.business.chain.w3.eth.block_number
    with Lines("pvd.relayer.route") as logged:
        relayer.tick()
    summaries = [line for line in logged.lines if line.startswith("sweep through block")]
    assert summaries == [  # one per route
        f"sweep through block {payment_head}: 1 open on chain, 1 added, 0 re-opened, 0 confirmed",
        f"sweep through block {business_head}: 0 open on chain, 0 added, 0 re-opened, 0 confirmed",
    ]
    assert "sweep: added" in logged.lines
    record = relayer.store.get(held.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED  # in the same first tick
    assert funded(system, early)

    (late,) = open_trades(system, world.cast, 1)  # after the first tick ...
    checkpoints_at_heads(relayer.store, system)  # ... and below the checkpoint
    with Lines("pvd.relayer.route") as logged:
        relayer.tick()
    assert not [line for line in logged.lines if line.startswith("sweep")]
    late_held = sent(system.payment.outbox)[-1]
    assert relayer.store.get(late_held.message_id) is None  # the sweep runs only at start
    assert status(system, late.trade_id) == "Accepted"


def test_a_node_fault_in_the_sweep_is_retried_on_the_next_tick_before_any_scan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    (trade,) = open_trades(system, world.cast, 1)
    held = only(sent(system.payment.outbox))
    relayer = world.relayer("restored")
    checkpoints_at_heads(relayer.store, system)
    checkpoint = relayer.store.checkpoint(P2B)
    route = route_of(relayer, P2B)
    reads = route.logs.logs

    def refused(start: int, end: int) -> Any:
        monkeypatch.setattr(route.logs, "logs", reads)  # the node is back after this one
        raise requests.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(route.logs, "logs", refused)
    relayer.tick()

    assert relayer.store.get(held.message_id) is None
    assert relayer.store.checkpoint(P2B) == checkpoint  # no scan ran either
    failures = relayer.metrics.registry.get_sample_value(
        "pvd_relay_failures_total", {"route": P2B.value, "reason": "rpc_unavailable"}
    )
    assert failures == 1
    relayer.tick()
    record = relayer.store.get(held.message_id)
    assert record is not None and record.stage is Stage.CONFIRMED
    assert funded(system, trade)


# --- on anvil: the inbox read in JSON-RPC batches --------------------------------------------


def test_on_anvil_the_sweep_adds_every_missed_message_and_the_relayer_delivers_them(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    with two_chains("anvil") as (payment, business):
        world = World(*funded_system(payment, business, artifacts), tmp_path)
        try:
            system = world.system
            (done,) = open_trades(system, world.cast, 1)
            relay_until(world.relayer("first"), lambda: funded(system, done), "Funded")
            missed = open_trades(system, world.cast, 3)  # no relayer running
            relayer = world.relayer("restored")
            checkpoints_at_heads(relayer.store, system)

            report = route_of(relayer, P2B).sweep()

            held = [m.message_id for m in sent(system.payment.outbox)]
            assert report.open == report.added == tuple(held[1:])
            relay_until(relayer, lambda: all(funded(system, t) for t in missed), "all Funded")
            for mid in held:
                assert inbox_delivery(system.business.inbox, mid)[0] is DeliveryStatus.DELIVERED
        finally:
            world.close()


# --- the window: what a sweep reads does not grow with the chain --------------------------------

WINDOW = 5  # blocks of outbox logs per sweep in these tests (RouteSettings.sweep_window)


def windowed(relayer: Relayer, route: Route, window: int = WINDOW) -> RelayRoute:
    made = route_of(relayer, route)
    made.settings = replace(made.settings, sweep_window=window)
    return made


def log_reads(monkeypatch: pytest.MonkeyPatch, chain: Chain) -> list[tuple[int, int]]:
    """The (fromBlock, toBlock) of every eth_getLogs the code makes on `chain` from now."""
    reads: list[tuple[int, int]] = []
    get_logs = chain.w3.eth.get_logs

    def counted(params: Any) -> Any:
        reads.append((int(params["fromBlock"]), int(params["toBlock"])))
        return get_logs(params)

    monkeypatch.setattr(chain.w3.eth, "get_logs", counted)
    return reads


def test_messages_the_store_holds_below_the_window_are_still_found_reopened_and_delivered(
    world: World,
) -> None:
    system = world.system
    trades = open_trades(system, world.cast, 2)
    pending, dead = sent(system.payment.outbox)
    relayer = world.relayer("long-running")
    relayer.store.record_scan(P2B, [pending, dead])
    relayer.store.mark_dead(dead.message_id, "test: retries exhausted")
    system.payment.chain.w3.testing.mine(3 * WINDOW)  # both logs now lie below the window
    checkpoints_at_heads(relayer.store, system)

    report = windowed(relayer, P2B).sweep()

    head = system.payment.chain.w3.eth.block_number
    assert (report.from_block, report.through_block) == (head + 1 - WINDOW, head)
    assert report.from_block > max(pending.source.block, dead.source.block)
    assert report.blocks_read == WINDOW
    assert report.stored_below == 2
    assert (report.open, report.added, report.reopened) == (
        (pending.message_id, dead.message_id),
        (),
        (dead.message_id,),
    )
    relay_until(relayer, lambda: all(funded(system, t) for t in trades), "both Funded")
    for message in (pending, dead):
        record = relayer.store.get(message.message_id)
        assert record is not None and record.stage is Stage.CONFIRMED


def test_a_stored_dead_message_whose_source_block_below_the_window_was_replaced_stays_dead(
    world: World,
) -> None:
    system = world.system
    (_trade,) = open_trades(system, world.cast, 1)
    real = only(sent(system.payment.outbox))
    moved = SourceLocation(
        real.source.block, "0x" + "11" * 32, real.source.tx_hash, real.source.log_index
    )
    relayer = world.relayer("restarted")
    relayer.store.record_scan(P2B, [SeenMessage(real.message_id, real.message, moved)])
    relayer.store.mark_dead(real.message_id, "source_reorged: the log's block left the chain")
    system.payment.chain.w3.testing.mine(3 * WINDOW)
    checkpoints_at_heads(relayer.store, system)
    before = relayer.store.get(real.message_id)

    report = windowed(relayer, P2B).sweep()

    assert (report.open, report.added, report.reopened, report.stored_below) == ((), (), (), 0)
    assert relayer.store.get(real.message_id) == before
    assert inbox_delivery(system.business.inbox, real.message_id)[0] is DeliveryStatus.NONE


def test_a_message_the_store_never_held_is_found_only_inside_the_window(world: World) -> None:
    """The bound the window sets (docs/relayer.md): a store restored with its checkpoint
    past a message it never held is caught only if the message lies in the window."""
    system = world.system
    (trade,) = open_trades(system, world.cast, 1)
    held = only(sent(system.payment.outbox))
    relayer = world.relayer("restored")
    system.payment.chain.w3.testing.mine(3 * WINDOW)
    checkpoints_at_heads(relayer.store, system)

    narrow = windowed(relayer, P2B).sweep()
    assert (narrow.open, narrow.added) == ((), ())
    assert relayer.store.get(held.message_id) is None

    wide = windowed(relayer, P2B, window=4 * WINDOW).sweep()
    assert (wide.open, wide.added) == ((held.message_id,), (held.message_id,))
    relay_until(relayer, lambda: funded(system, trade), "Funded")


def test_the_sweeps_log_reads_do_not_grow_with_the_chain(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    trades = open_trades(system, world.cast, 2)
    relayer = world.relayer("long-running")
    relayer.store.record_scan(P2B, sent(system.payment.outbox))
    checkpoints_at_heads(relayer.store, system)
    route = windowed(relayer, P2B)
    reads = log_reads(monkeypatch, system.payment.chain)
    spans: list[int] = []
    for _length in range(3):
        reads.clear()
        route.sweep()
        spans.append(sum(end - start + 1 for start, end in reads))
        system.payment.chain.w3.testing.mine(10 * WINDOW)  # the chain grows ...
        checkpoints_at_heads(relayer.store, system)  # ... and the scan keeps up

    assert spans == [WINDOW] * 3
    assert len({len(reads)}) == 1
    relay_until(relayer, lambda: all(funded(system, t) for t in trades), "both Funded")


def test_the_attest_step_asks_the_inbox_nothing_about_messages_their_source_backs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holds placed while no relayer ran: each is checked and signed without an inbox
    read (none is consumed yet); the deliver step reads the inbox before it sends."""
    system = world.system
    trades = open_trades(system, world.cast, 3)
    relayer = world.relayer("one")
    route = route_of(relayer, P2B)
    route.scan()
    asked: list[list[str]] = []
    real = route_module.inbox_records

    def counted(destination: Any, messages: Any) -> Any:
        asked.append(list(messages))
        return real(destination, messages)

    monkeypatch.setattr(route_module, "inbox_records", counted)

    assert route.attest() == 3
    assert asked == []
    relay_until(relayer, lambda: all(funded(system, t) for t in trades), "Funded")
