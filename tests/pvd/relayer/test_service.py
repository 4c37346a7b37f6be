"""pvd.relayer.service: the start-up refusal of a store whose checkpoints are ahead of
the chains (found by tests/integration/test_relay_bad_inputs.py: the refusal used to
happen inside the relay loop, after start-up logs, with a traceback), and node faults
in a route's reads treated as passing (found by tests/integration/test_rpc_faults.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from web3.exceptions import ProviderConnectionError, Web3RPCError

from pvd.errors import UnrecoverableError, UserError
from pvd.relayer.config import Route
from pvd.relayer.metrics import RelayerMetrics
from pvd.relayer.service import refuse_checkpoints_ahead, tick_route
from pvd.relayer.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "relay.sqlite") as opened:
        yield opened


def test_a_new_store_is_accepted_on_any_chain(store: Store) -> None:
    refuse_checkpoints_ahead(store, {"payment": 0, "business": 0})


def test_checkpoints_at_or_below_the_heads_are_accepted(store: Store) -> None:
    store.record_scan(Route.PAYMENT_TO_BUSINESS, [], 40, "0x" + "11" * 32)
    store.record_scan(Route.BUSINESS_TO_PAYMENT, [], 7, "0x" + "22" * 32)
    refuse_checkpoints_ahead(store, {"payment": 40, "business": 8})


def test_a_checkpoint_ahead_of_its_source_chain_head_is_refused_naming_the_fix(
    store: Store,
) -> None:
    store.record_scan(Route.BUSINESS_TO_PAYMENT, [], 30, "0x" + "22" * 32)
    before = store.checkpoint(Route.BUSINESS_TO_PAYMENT)
    with pytest.raises(UserError) as refused:
        refuse_checkpoints_ahead(store, {"payment": 100, "business": 12})
    message = str(refused.value)
    assert message.startswith("business chain: store ")
    assert "checkpoint 30 for business->payment, ahead of the chain head 12" in message
    assert "the chain was reset" in message and "new store path" in message
    assert "\n" not in message
    assert store.checkpoint(Route.BUSINESS_TO_PAYMENT) == before


class FakeRoute:
    """A route whose tick raises the next of `faults` (None: a clean tick)."""

    route = Route.BUSINESS_TO_PAYMENT

    def __init__(self, *faults: BaseException | None) -> None:
        self.faults = list(faults)
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        fault = self.faults.pop(0)
        if fault is not None:
            raise fault


def _failures(metrics: RelayerMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "pvd_relay_failures_total", {"route": "business->payment", "reason": reason}
    )
    return value or 0.0


@pytest.mark.parametrize(
    "fault",
    [
        requests.exceptions.HTTPError("500 Server Error: Internal Server Error"),
        requests.exceptions.ConnectionError("Connection refused"),
        requests.exceptions.ReadTimeout("read timed out"),
        ProviderConnectionError("no connection"),
    ],
    ids=["http-500", "refused", "timeout", "provider"],
)
def test_a_node_fault_in_a_route_read_is_counted_and_the_route_ticks_again(
    fault: BaseException,
) -> None:
    """Found by tests/integration/test_rpc_faults.py: one HTTP 500 on a read used to end
    the `pvd relay` process with a traceback."""
    metrics = RelayerMetrics()
    route = FakeRoute(fault, None)
    tick_route(route, metrics)  # type: ignore[arg-type]
    assert _failures(metrics, "rpc_unavailable") == 1
    tick_route(route, metrics)  # type: ignore[arg-type]
    assert route.ticks == 2
    assert _failures(metrics, "rpc_unavailable") == 1


def test_a_node_without_the_block_a_read_asked_for_is_counted_and_the_route_ticks_again() -> None:
    """Found by the integration reorg test: a revert to a shorter chain landed between a
    batch's eth_blockNumber and its eth_call at "latest", anvil answered "block height is
    15 but requested was 16", and the relayer stopped on the Web3RPCError."""
    metrics = RelayerMetrics()
    gone = Web3RPCError(
        "eth_call: {'code': -32602, 'message': 'BlockOutOfRangeError: block height is 15 "
        "but requested was 16'}"
    )
    route = FakeRoute(gone, None)
    tick_route(route, metrics)  # type: ignore[arg-type]
    tick_route(route, metrics)  # type: ignore[arg-type]
    assert route.ticks == 2
    assert _failures(metrics, "block_unavailable") == 1
    assert _failures(metrics, "rpc_unavailable") == 0


def test_another_node_error_still_stops_the_route() -> None:
    metrics = RelayerMetrics()
    with pytest.raises(Web3RPCError):
        tick_route(FakeRoute(Web3RPCError("eth_call: method not found")), metrics)  # type: ignore[arg-type]
    assert _failures(metrics, "block_unavailable") == 0


def test_an_unrecoverable_error_or_a_bug_still_stops_the_route() -> None:
    metrics = RelayerMetrics()
    with pytest.raises(UnrecoverableError):
        tick_route(FakeRoute(UnrecoverableError("wrong chain")), metrics)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        tick_route(FakeRoute(KeyError("bug")), metrics)  # type: ignore[arg-type]
    assert _failures(metrics, "rpc_unavailable") == 0


def test_a_running_relayer_rechecks_its_chains_and_stops_when_one_changed(tmp_path: Path) -> None:
    import threading

    from pvd.chain.connection import embedded_chain
    from pvd.cli.demo import Cast, in_process_relayer
    from pvd.deploy.system import SystemConfig, deploy_system
    from pvd.relayer.ends import check_identity

    payment, business = embedded_chain("payment", 1), embedded_chain("business", 2)
    cast = Cast.from_accounts(payment.accounts)
    config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
    system = deploy_system(payment, business, config, manifest_folder=tmp_path)
    relayer = in_process_relayer(system, cast, tmp_path / "store.sqlite")
    from pvd.deploy.manifest import read_manifest

    manifest = read_manifest(tmp_path / "payment-1.json")
    replaced = embedded_chain("business", 1)  # the RPC now serves another chain
    checks: list[int] = []

    def check_chains() -> None:
        checks.append(1)
        check_identity(payment if len(checks) < 3 else replaced, manifest)

    with pytest.raises(UnrecoverableError, match=r"genesis .* is not the manifest's"):
        relayer.run(0.0, threading.Event(), check_chains=check_chains, check_every=0.0)
    assert len(checks) == 3
    relayer.close()
