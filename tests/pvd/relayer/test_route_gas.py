"""The deliver step's gas limit: estimated until a delivery was mined, then learned from
the most gas a delivered message used (plus the sender's margin) and proved by the
pre-flight `eth_call` at that limit; estimated again when the pre-flight fails there.
On two embedded chains with the whole system deployed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pvd.bench.relay import funded, open_trades
from pvd.cli.demo import Cast
from pvd.deploy.compiler import Artifact, compile_contracts
from pvd.deploy.system import System
from pvd.protocol.messages import Kind
from pvd.relayer.config import Route
from pvd.relayer.route import TX_BASE_GAS, RelayRoute
from pvd.relayer.sender import Sender
from pvd.relayer.service import Relayer
from pvd.relayer.store import Stage
from tests.pvd.relayer.helpers import system_with_relayer


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Artifact]:
    return compile_contracts()


@pytest.fixture
def deployed(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> Iterator[tuple[System, Cast, Relayer]]:
    with system_with_relayer("embedded", artifacts, tmp_path / "store.sqlite") as deployed:
        yield deployed


class CountingEstimates:
    """Counts a Sender's gas estimates (the real ones still run)."""

    def __init__(self, sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = sender.estimate_gas

        def counted(call):  # type: ignore[no-untyped-def]
            self.count += 1
            return real(call)

        monkeypatch.setattr(sender, "estimate_gas", counted)


def payment_to_business(relayer: Relayer) -> RelayRoute:
    return next(r for r in relayer.routes if r.route is Route.PAYMENT_TO_BUSINESS)


def newest_delivery(system: System, relayer: Relayer) -> str:
    """The transaction that delivered the payment outbox's newest message."""
    (newest, *_) = reversed(system.payment.outbox.events.MessageSent.get_logs(from_block=0))
    record = relayer.store.get("0x" + bytes(newest["args"]["messageId"]).hex())
    assert record is not None and record.stage is Stage.CONFIRMED
    assert record.confirmed_tx_hash is not None
    return record.confirmed_tx_hash


def test_the_first_delivery_is_estimated_and_the_next_use_the_learned_limit(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    estimates = CountingEstimates(route.sender, monkeypatch)

    first = open_trades(system, cast, 1)
    assert relayer.run_until(lambda: all(funded(system, t) for t in first), timeout=60)
    assert estimates.count == 1
    learned = route._gas_per_message
    assert learned is not None

    second = open_trades(system, cast, 2)
    assert relayer.run_until(lambda: all(funded(system, t) for t in second), timeout=60)

    assert estimates.count == 1  # no estimate for the second delivery
    tx = system.business.chain.w3.eth.get_transaction(newest_delivery(system, relayer))
    margin = 100 + route.sender.settings.gas_margin_percent
    assert tx["gas"] == TX_BASE_GAS + 2 * learned * margin // 100


def test_a_learned_limit_the_pre_flight_refuses_falls_back_to_an_estimate(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    route._gas_per_message = 1_000  # far too little: the pre-flight runs out of gas
    estimates = CountingEstimates(route.sender, monkeypatch)

    trades = open_trades(system, cast, 1)
    assert relayer.run_until(lambda: all(funded(system, t) for t in trades), timeout=60)

    assert estimates.count == 1
    assert relayer.store.status_counts(Route.PAYMENT_TO_BUSINESS) == {"confirmed": 1}
    assert route._gas_per_message > 1_000  # learned from the mined delivery


def test_a_learned_limit_above_the_block_gas_limit_is_not_used(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    block_limit = system.business.chain.w3.eth.get_block("latest")["gasLimit"]
    route._gas_per_message = block_limit  # one message would not fit in a block
    estimates = CountingEstimates(route.sender, monkeypatch)

    trades = open_trades(system, cast, 1)
    assert relayer.run_until(lambda: all(funded(system, t) for t in trades), timeout=60)

    assert estimates.count == 1
    tx = system.business.chain.w3.eth.get_transaction(newest_delivery(system, relayer))
    assert tx["gas"] < block_limit


def test_every_batch_of_a_step_is_sent_before_any_receipt_is_awaited(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    first = open_trades(system, cast, 1)  # teaches the route its gas per message
    assert relayer.run_until(lambda: all(funded(system, t) for t in first), timeout=60)
    route.settings = replace(route.settings, batch_size=2)
    calls = sends_and_waits(route, monkeypatch)
    trades = open_trades(system, cast, 5)
    assert scan_attest_deliver(route) == 5

    assert calls == ["send"] * 3 + ["wait"] * 3  # batches of 2, 2 and 1, then receipts
    assert all(funded(system, t) for t in trades)
    assert relayer.store.status_counts(Route.PAYMENT_TO_BUSINESS) == {"confirmed": 6}


def test_a_route_that_has_not_learned_its_gas_awaits_its_first_delivery_before_the_next(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    route.settings = replace(route.settings, batch_size=2)
    calls = sends_and_waits(route, monkeypatch)
    trades = open_trades(system, cast, 5)
    assert scan_attest_deliver(route) == 5

    # the first alone (its receipt teaches the gas), then 2 + 2 sent before their receipts
    assert calls == ["send", "wait", "send", "send", "wait", "wait"]
    assert all(funded(system, t) for t in trades)


def scan_attest_deliver(route: RelayRoute) -> int:
    """One pass of the route over what is new: scan, attest until nothing is left, then
    one deliver step (its count of messages acted on)."""
    route.scan()
    while route.attest():
        pass
    return route.deliver()


def sends_and_waits(route: RelayRoute, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The route's sender, recording "send" and "wait" in call order (the list returned)."""
    calls: list[str] = []
    for name in ("send", "wait"):
        real = getattr(route.sender, name)

        def recorded(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(route.sender, name, recorded)
    return calls


def test_a_batch_at_a_proved_limit_on_this_relayer_s_turn_goes_without_a_pre_flight(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    first = open_trades(system, cast, 1)  # alone: teaches the gas and proves PAYMENT_HELD
    assert relayer.run_until(lambda: all(funded(system, t) for t in first), timeout=60)
    assert route._proved_kinds == {int(Kind.PAYMENT_HELD)}
    preflights = sends_with_preflight(route, monkeypatch)
    trades = open_trades(system, cast, 3)
    assert scan_attest_deliver(route) == 3

    assert preflights == [False]  # one batch of three, sent as it is
    assert all(funded(system, t) for t in trades)
    assert relayer.store.status_counts(Route.PAYMENT_TO_BUSINESS) == {"confirmed": 4}


def test_a_lone_message_or_an_unproved_kind_is_pre_flighted(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    first = open_trades(system, cast, 1)
    assert relayer.run_until(lambda: all(funded(system, t) for t in first), timeout=60)
    preflights = sends_with_preflight(route, monkeypatch)
    lone = open_trades(system, cast, 1)
    assert relayer.run_until(lambda: all(funded(system, t) for t in lone), timeout=60)
    route._proved_kinds.clear()  # as if the learned limit came from another kind
    two = open_trades(system, cast, 2)
    assert relayer.run_until(lambda: all(funded(system, t) for t in two), timeout=60)

    assert preflights == [True, True]


def test_a_delivery_sent_without_a_pre_flight_that_reverts_is_counted_and_retried(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    first = open_trades(system, cast, 1)
    assert relayer.run_until(lambda: all(funded(system, t) for t in first), timeout=60)
    learned = route._gas_per_message
    assert learned is not None
    route._gas_per_message = learned // 3  # proved, the route believes: too little now
    preflights = sends_with_preflight(route, monkeypatch)
    business = system.business.chain.w3
    before = business.eth.block_number
    trades = open_trades(system, cast, 2)
    scan_attest_deliver(route)

    # sent without a pre-flight, mined, reverted: paid for, and a failed attempt each
    assert preflights == [False]
    reverted = [
        receipt
        for number in range(before + 1, business.eth.block_number + 1)
        for tx in business.eth.get_block(number)["transactions"]
        if (receipt := business.eth.get_transaction_receipt(tx))["status"] == 0
    ]
    assert len(reverted) == 1 and reverted[0]["gasUsed"] > 0
    assert relayer.store.status_counts(Route.PAYMENT_TO_BUSINESS) == {
        "confirmed": 1,
        "failed": 2,
    }
    failures = relayer.metrics.failures.labels(
        route=Route.PAYMENT_TO_BUSINESS.value, reason="delivery_reverted"
    )
    assert failures._value.get() == 2
    assert route._gas_per_message == learned // 3  # nothing learned from a revert
    assert route._reverted_at is not None

    # retried with backoff, pre-flighted now: the learned limit fails there, the estimate
    # does not, and both are delivered
    assert relayer.run_until(lambda: all(funded(system, t) for t in trades), timeout=60)
    assert preflights[1:] and all(preflights[1:])
    assert relayer.store.status_counts(Route.PAYMENT_TO_BUSINESS) == {"confirmed": 3}
    assert route._gas_per_message >= learned // 3


def sends_with_preflight(route: RelayRoute, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each send of the route's sender was pre-flighted (the list returned)."""
    seen: list[bool] = []
    real = route.sender.send

    def recorded(call: Any, *, preflight: bool = True) -> Any:
        seen.append(preflight)
        return real(call, preflight=preflight)

    monkeypatch.setattr(route.sender, "send", recorded)
    return seen
