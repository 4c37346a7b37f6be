"""The relayer's failure classes, its alert and its metrics, on two embedded chains with
the whole system deployed (reverts are real: the token paused, the seller frozen, the
payment inbox paused by its guardian).

- a pause or a freeze is waiting, not a failed attempt: however long it lasts (here far
  longer than a retry budget of two attempts) the message is not given up, and after the
  unpause (unfreeze) the seller is paid, once;
- a TRADE_OUTCOME whose hold is still executable is kept alive past the retry budget;
  other kinds are still given up;
- dead messages still open on chain are re-opened by a sweep while the relayer runs,
  not only at start;
- a Delivered outcome undelivered near its hold's expiry raises the alert (metric, log);
- "delivered by me" and "seen delivered" are separate metrics; log lines carry the
  message kind and the trade id.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from web3 import Web3

from pvd.bench.relay import deliver, executed, funded, open_trades
from pvd.cli.demo import Cast, DemoTrade, hold_state, settled, two_chains
from pvd.client import trade as client
from pvd.deploy.compiler import Artifact, compile_contracts
from pvd.deploy.system import System
from pvd.relayer import route as route_module
from pvd.relayer.config import Route
from pvd.relayer.ends import ends_from_system
from pvd.relayer.keys import Signer
from pvd.relayer.log import fields_of
from pvd.relayer.retry import RetryPolicy
from pvd.relayer.route import RelayRoute, RouteSettings
from pvd.relayer.sender import RpcUnavailable
from pvd.relayer.service import Relayer, RouteOptions
from pvd.relayer.store import Stage, Store
from tests.pvd.relayer.helpers import funded_system

P2B, B2P = Route.PAYMENT_TO_BUSINESS, Route.BUSINESS_TO_PAYMENT
TIGHT = RetryPolicy(base_delay=0.01, max_delay=0.02, max_attempts=2)  # a tiny retry budget


@dataclass
class World:
    system: System
    cast: Cast
    folder: Path
    relayers: list[Relayer] = field(default_factory=list)

    def relayer(
        self,
        name: str,
        retry: RetryPolicy = TIGHT,
        gas: LocalAccount | None = None,
        business_settings: RouteSettings | None = None,
    ) -> Relayer:
        payment, business = ends_from_system(self.system)
        key = Signer(gas or self.cast.gas)
        made = Relayer(
            payment,
            business,
            Store(self.folder / f"{name}.sqlite"),
            [Signer(a) for a in self.cast.attesters],
            {"payment": key, "business": key},
            RouteOptions(RouteSettings(), business_settings or RouteSettings(), retry),
            rng=random.Random(7),
        )
        self.relayers.append(made)
        return made

    def close(self) -> None:
        for made in self.relayers:
            made.close()
            made.store.close()

    def as_admin(self, call: Any) -> None:
        client.transact(self.system.payment.chain, call, self.cast.admin.address)


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Artifact]:
    return compile_contracts()


@pytest.fixture
def world(artifacts: dict[str, Artifact], tmp_path: Path) -> Iterator[World]:
    with two_chains("embedded") as (payment, business):
        system, cast = funded_system(payment, business, artifacts)
        token = system.payment.token
        made = World(system, cast, tmp_path)
        for role in ("PAUSER_ROLE", "COMPLIANCE_ROLE"):
            role_id = getattr(token.functions, role)().call()
            made.as_admin(token.functions.grantRole(role_id, cast.admin.address))
        try:
            yield made
        finally:
            made.close()


def route_of(relayer: Relayer, route: Route) -> RelayRoute:
    return next(r for r in relayer.routes if r.route is route)


def relay_until(relayer: Relayer, done: Callable[[], bool], what: str) -> None:
    assert relayer.run_until(done, timeout=60, poll=0.005), f"the relayer did not reach {what}"


def outcome_id(system: System) -> str:
    """The id of the last message the business outbox sent (the trade's outcome)."""
    *_, last = system.business.outbox.events.MessageSent.get_logs(from_block=0)
    return "0x" + bytes(last["args"]["messageId"]).hex()


def funded_trade(world: World, relayer: Relayer) -> DemoTrade:
    (trade,) = open_trades(world.system, world.cast, 1)
    relay_until(relayer, lambda: funded(world.system, trade), "Funded")
    return trade


def sample(relayer: Relayer, name: str, **labels: str) -> float | None:
    return relayer.metrics.registry.get_sample_value(name, labels)


# --- 8. a pause or a freeze is waiting, not a failed attempt ---------------------------------


def _pause_token(world: World) -> Callable[[], None]:
    token = world.system.payment.token
    world.as_admin(token.functions.pause())
    return lambda: world.as_admin(token.functions.unpause())


def _freeze_seller(world: World) -> Callable[[], None]:
    token, seller = world.system.payment.token, world.cast.seller.address
    world.as_admin(token.functions.freeze(seller))
    return lambda: world.as_admin(token.functions.unfreeze(seller))


def _pause_inbox(world: World) -> Callable[[], None]:
    inbox = world.system.payment.inbox  # the admin is the guardian in a default deployment
    world.as_admin(inbox.functions.pause())
    return lambda: world.as_admin(inbox.functions.unpause())


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        (_pause_token, "token_paused"),
        (_freeze_seller, "account_frozen"),
        (_pause_inbox, "inbox_paused"),
    ],
    ids=["token-paused", "seller-frozen", "inbox-paused"],
)
def test_a_pause_or_freeze_longer_than_the_retry_budget_waits_and_pays_after_it_ends(
    world: World, stop: Callable[[World], Callable[[], None]], reason: str
) -> None:
    system, seller = world.system, world.cast.seller.address
    relayer = world.relayer("attester")
    trade = funded_trade(world, relayer)
    before = int(system.payment.token.functions.balanceOf(seller).call())
    resume = stop(world)
    deliver(system, world.cast, trade)
    mid = outcome_id(system)

    # far more looks at the message than the budget of two attempts allows
    relay_until(
        relayer,
        lambda: (
            relayer.store.dead() != []
            or (sample(relayer, "pvd_relay_waits_total", route=B2P.value, reason=reason) or 0) >= 10
        ),
        "ten looks at the waiting message (or its death)",
    )

    assert relayer.store.dead() == []
    record = relayer.store.get(mid)
    assert record is not None and record.status == "waiting"
    assert record.attempts == 0  # not one failed attempt counted
    assert (record.fail_reason or "").startswith(reason)
    assert relayer.store.dead() == []
    assert hold_state(system, trade) == "Held"
    relayer.metrics.refresh_from_store(relayer.store)
    assert sample(relayer, "pvd_relay_waiting_messages", route=B2P.value) == 1

    resume()
    relay_until(relayer, lambda: settled(system, trade) == "Paid", "Paid after it ended")
    assert executed(system, trade)
    assert (
        int(system.payment.token.functions.balanceOf(seller).call()) == before + trade.hold.amount
    )
    token = system.payment.token
    assert len(token.events.HoldExecuted.get_logs(from_block=0)) == 1


# --- 8. outcomes are kept alive until their hold expires ----------------------------------


def test_an_outcome_failing_past_the_retry_budget_is_kept_alive_while_its_hold_is_executable(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    relayer = world.relayer("attester")
    trade = funded_trade(world, relayer)
    deliver(system, world.cast, trade)
    mid = outcome_id(system)
    route = route_of(relayer, B2P)
    send = route.sender.send

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise RpcUnavailable("payment chain: the RPC is unreachable (test)", "rpc_unreachable")

    monkeypatch.setattr(route.sender, "send", unreachable)
    relay_until(
        relayer,
        lambda: (
            relayer.store.dead() != []
            or ((record := relayer.store.get(mid)) is not None and record.attempts >= 6)
        ),
        "six failed attempts (or its death)",
    )
    assert relayer.store.dead() == []
    record = relayer.store.get(mid)
    assert record is not None and record.status == "failed"  # three times the budget, alive

    monkeypatch.setattr(route.sender, "send", send)
    relay_until(relayer, lambda: settled(system, trade) == "Paid", "Paid once the RPC is back")


def test_other_messages_are_still_given_up_after_the_retry_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    relayer = world.relayer("attester")
    (trade,) = open_trades(world.system, world.cast, 1)
    route = route_of(relayer, P2B)

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise RpcUnavailable("business chain: the RPC is unreachable (test)", "rpc_unreachable")

    monkeypatch.setattr(route.sender, "send", unreachable)
    relay_until(relayer, lambda: len(relayer.store.dead()) == 1, "PAYMENT_HELD given up")
    (dead,) = relayer.store.dead()
    assert dead.attempts == TIGHT.max_attempts
    assert not funded(world.system, trade)


# --- 8. dead messages re-opened while running ---------------------------------------------


def test_a_dead_message_still_open_on_chain_is_reopened_by_a_later_sweep_while_running(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = world.system
    relayer = world.relayer("attester")
    relayer.tick()  # the first tick's sweep (nothing stored yet)
    (trade,) = open_trades(system, world.cast, 1)
    route = route_of(relayer, P2B)
    send = route.sender.send

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise RpcUnavailable("business chain: the RPC is unreachable (test)", "rpc_unreachable")

    monkeypatch.setattr(route.sender, "send", unreachable)
    relay_until(relayer, lambda: len(relayer.store.dead()) == 1, "PAYMENT_HELD given up")
    monkeypatch.setattr(route.sender, "send", send)
    for _ in range(5):
        relayer.tick()
    assert len(relayer.store.dead()) == 1  # no sweep yet: still dead

    later = route_module.time.monotonic() + RouteSettings().sweep_interval + 1
    monkeypatch.setattr(route_module.time, "monotonic", lambda: later)
    relay_until(relayer, lambda: funded(system, trade), "Funded after a later sweep")
    assert relayer.store.dead() == []


# --- 8. the alert -------------------------------------------------------------------------


class Records(logging.Handler):
    """Every record logged to one logger (INFO and above, or from `level`)."""

    def __init__(self, name: str, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.logger = logging.getLogger(name)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> Records:
        self.was = self.logger.level
        self.logger.setLevel(self.level)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.was)


def test_a_delivered_outcome_undelivered_near_its_hold_expiry_raises_the_alert(
    world: World,
) -> None:
    system = world.system
    relayer = world.relayer("attester")
    trade = funded_trade(world, relayer)
    _pause_token(world)
    deliver(system, world.cast, trade)
    route = route_of(relayer, B2P)
    relayer.tick()
    expiry = trade.hold.expiry
    now = system.payment.chain.now()
    assert route.check_expiries() == (0, float(expiry - now))  # far from expiry: no alert
    assert sample(relayer, "pvd_relay_payouts_near_expiry", route=B2P.value) == 0

    system.payment.chain.advance_time_to(expiry - 600)  # ten minutes before it expires
    with Records("pvd.relayer.route") as logged:
        near, soonest = route.check_expiries()

    latest = system.payment.chain.w3.eth.get_block("latest")["timestamp"]
    assert near == 1 and soonest == float(expiry - latest) and 0 < soonest <= 601
    assert sample(relayer, "pvd_relay_payouts_near_expiry", route=B2P.value) == 1
    assert sample(relayer, "pvd_relay_payout_expiry_seconds", route=B2P.value) == soonest
    (alert,) = [r for r in logged.records if r.getMessage().startswith("ALERT")]
    assert alert.levelno == logging.ERROR
    assert fields_of(alert)["trade_id"] == "0x" + trade.trade_id.hex()
    assert fields_of(alert)["kind"] == "TRADE_OUTCOME"


# --- 11. metrics and log fields ---------------------------------------------------------------


def test_each_delivery_counts_once_as_relayed_across_relayers_and_as_confirmed_by_each(
    world: World,
) -> None:
    """Two attesters (their own keys, gas keys and stores) relay the same trades: the sum
    of messages_relayed_total is the number of messages delivered, and each relayer's
    messages_confirmed_total is that number too."""
    cast, system = world.cast, world.system
    first = world.relayer("first", gas=cast.gas)
    second = world.relayer("second", gas=cast.carrier)  # another gas key
    trades = open_trades(system, cast, 2)

    def both_until(done: Callable[[], bool]) -> Callable[[], bool]:
        def tick_first_then_ask() -> bool:
            first.tick()
            return done()

        return tick_first_then_ask

    relay_until(second, both_until(lambda: all(funded(system, t) for t in trades)), "Funded")
    for trade in trades:
        deliver(system, cast, trade)
    relay_until(
        second, both_until(lambda: all(settled(system, t) == "Paid" for t in trades)), "Paid"
    )
    for _ in range(2):
        first.tick()
        second.tick()

    for route in Route:
        delivered = len(
            route_of(first, route).destination.inbox.events.MessageDelivered.get_logs(from_block=0)
        )
        relayed = [
            sample(r, "pvd_relay_messages_relayed_total", route=route.value)
            for r in (first, second)
        ]
        confirmed = [
            sample(r, "pvd_relay_messages_confirmed_total", route=route.value)
            for r in (first, second)
        ]
        assert sum(v or 0 for v in relayed) == delivered, route
        assert confirmed == [delivered, delivered], route


def test_log_lines_about_a_message_carry_its_kind_and_trade_id(world: World) -> None:
    relayer = world.relayer("attester")
    with Records("pvd.relayer.route") as logged:
        trade = funded_trade(world, relayer)
    about = [fields_of(r) for r in logged.records if "message_id" in fields_of(r)]
    assert about, "no log line about a message"
    for fields in about:
        assert fields["kind"] == "PAYMENT_HELD"
        assert fields["trade_id"] == "0x" + trade.trade_id.hex()
    messages = {r.getMessage() for r in logged.records if "message_id" in fields_of(r)}
    assert {"seen", "signed", "delivered"} <= messages


def test_a_step_of_many_messages_logs_one_line_for_all_and_each_one_at_debug(
    world: World,
) -> None:
    relayer = world.relayer("attester")
    many = route_module.LOG_EACH_UP_TO + 2  # the first delivery goes alone, the rest batched
    trades = open_trades(world.system, world.cast, many)
    with Records("pvd.relayer.route", logging.DEBUG) as logged:
        route_of(relayer, P2B).tick()
    assert all(funded(world.system, t) for t in trades)

    def lines(level: int) -> list[tuple[str, dict[str, object]]]:
        return [(r.getMessage(), fields_of(r)) for r in logged.records if r.levelno == level]

    info = lines(logging.INFO)
    assert (
        f"seen: {many} messages",
        {"route": P2B.value, "chain": "payment", "count": many},
    ) in info
    assert (f"signed: {many} messages", {"route": P2B.value, "count": many}) in info
    summary = [f for m, f in info if m.startswith("delivered: ")]
    assert [f["count"] for f in summary] == [many - 1]  # the lone first one: its own line
    assert len([m for m, f in info if m == "delivered" and "message_id" in f]) == 1
    for text in ("seen", "signed"):
        each = [f for m, f in lines(logging.DEBUG) if m == text]
        assert len(each) == many and {f["kind"] for f in each} == {"PAYMENT_HELD"}
    debug_delivered = [f for m, f in lines(logging.DEBUG) if m == "delivered"]
    assert len({f["message_id"] for f in debug_delivered}) == many - 1


def test_a_revert_reason_code_is_a_short_label_named_after_the_error() -> None:
    from pvd.relayer.failures import RevertJudge

    judge = RevertJudge.for_abis(
        [
            [
                {"type": "error", "name": "HoldNotFound", "inputs": [{"type": "bytes32"}]},
                {"type": "error", "name": "EnforcedPause", "inputs": []},
                {
                    "type": "error",
                    "name": "InboxRetryFailed",
                    "inputs": [
                        {"type": "bytes32", "name": "messageId", "internalType": "bytes32"},
                        {"type": "bytes", "name": "reason", "internalType": "bytes"},
                    ],
                },
            ]
        ]
    )
    not_found = Web3.keccak(text="HoldNotFound(bytes32)")[:4] + b"\x01" * 32
    verdict = judge.judge(not_found)
    assert (verdict.waiting, verdict.code) == (False, "reverted_hold_not_found")
    paused = Web3.keccak(text="EnforcedPause()")[:4]
    wrapped = Web3.keccak(text="InboxRetryFailed(bytes32,bytes)")[:4] + encode(
        ["bytes32", "bytes"], [b"\x02" * 32, paused]
    )
    verdict = judge.judge(wrapped)
    assert (verdict.waiting, verdict.code, verdict.cause.name) == (
        True,
        "token_paused",
        "EnforcedPause",
    )
    assert judge.judge(b"\xde\xad\xbe\xef").code == "reverted_unknown"


def test_messages_waiting_for_another_attester_s_turn_are_known_from_the_inbox_events(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_trades(world.system, world.cast, 12)
    sent = world.system.payment.outbox.events.MessageSent.get_logs(from_block=0)
    ids = [int.from_bytes(bytes(e["args"]["messageId"]), "big") for e in sent]
    members = sorted((a.address for a in world.cast.attesters), key=lambda a: int(a, 16))
    firsts = {members[mid % len(members)] for mid in ids}
    assert firsts  # one key that is first for some of the messages and not for others:
    key_of = {a.address: a for a in world.cast.attesters}
    attester = key_of[next(iter(firsts))] if len(firsts) > 1 else None
    assert attester is not None, "all twelve messages have the same first in turn"
    payment, business = ends_from_system(world.system)
    gas = Signer(world.cast.gas)
    relayer = Relayer(
        payment,
        business,
        Store(world.folder / "one-key.sqlite"),
        [Signer(attester)],  # one key of the three: no quorum alone
        {"payment": gas, "business": gas},
        RouteOptions(RouteSettings(), RouteSettings(), TIGHT),
    )
    world.relayers.append(relayer)
    route = route_of(relayer, P2B)
    route.scan()
    route.attest()
    read: list[set[str]] = []  # the ids of each inbox_view of the route's deliver steps
    real_view = route_module.inbox_view

    def counted(destination: Any, messages: Any, with_head: bool = False) -> Any:
        read.append(set(messages))
        return real_view(destination, messages, with_head)

    monkeypatch.setattr(route_module, "inbox_view", counted)
    route.deliver()  # the first step reads every signed message, the set and the head
    attesters = route._attesters
    assert attesters is not None and route._events_after is not None
    signed = relayer.store.actionable(P2B, stages=(Stage.SIGNED,))
    assert len(signed) == 12 and read == [{r.message_id for r in signed}]
    mine = [r for r in signed if route._place_in_turn(r, attesters) == 0]
    others = [r for r in signed if route._place_in_turn(r, attesters) > 0]
    assert mine and others
    route.deliver()  # no new block: only the messages it may submit now are read
    assert read[-1] == {r.message_id for r in mine}

    # another relayer (all three keys) delivers all twelve; the one-key route learns it
    # from the inbox's delivery events of the new blocks, reading none of them
    full = world.relayer("full")
    relay_until(
        full,
        lambda: full.store.status_counts(P2B) == {"confirmed": 12},
        "twelve confirmed",
    )
    views = len(read)
    route.deliver()
    assert len(read) == views + 1 and read[-1] == set()
    assert relayer.store.status_counts(P2B) == {"confirmed": 12}
    assert route._events_after == world.system.business.chain.w3.eth.block_number

    # a waiting message whose place's wait is over is read at every step too
    now = 100.0
    route._progress_at.clear()
    route._ready_at = {r.message_id: now for r in others}
    late = others[0]
    route._ready_at[late.message_id] = now - 10 * route.settings.submit_turn_seconds
    events = route_module.DeliveryEvents(0, {}, frozenset())
    assert route._to_read(signed, now, events) == (
        [r for r in signed if r in mine or r is late],
        {},
    )
    assert route._to_read(signed, now, None) == (signed, {})  # no events: all read


def test_a_new_store_s_second_scan_does_not_read_the_first_one_s_blocks_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    relayer = world.relayer("attester")
    route = route_of(relayer, P2B)
    route.settings = replace(route.settings, rescan_margin=8)  # for a restart only
    open_trades(world.system, world.cast, 3)
    decoded: list[int] = []
    real = route_module.seen_message

    def counted(log: Any, domain: int, relay_log: Any) -> Any:
        decoded.append(log.block_number)
        return real(log, domain, relay_log)

    monkeypatch.setattr(route_module, "seen_message", counted)
    assert len(route.scan()) == 3
    assert len(decoded) == 3
    assert route.scan() == []
    assert len(decoded) == 3  # nothing read again
