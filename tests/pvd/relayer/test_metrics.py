"""pvd.relayer.metrics: a private registry per relayer, scraped over real HTTP."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pvd.chain.ports import free_port
from pvd.relayer.config import Route
from pvd.relayer.metrics import RelayerMetrics
from pvd.relayer.store import SeenMessage, SourceLocation, Store
from tests.pvd.relayer.helpers import FakeClock

B2P = Route.BUSINESS_TO_PAYMENT


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and return {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def message(n: int) -> SeenMessage:
    return SeenMessage(
        f"0x{n:064x}",
        b"body %d" % n,
        SourceLocation(n, f"0x{n + 1:064x}", f"0x{n + 2:064x}", 0),
    )


@pytest.fixture
def metrics() -> RelayerMetrics:
    return RelayerMetrics()


def test_metrics_are_scraped_over_http_before_and_after_a_relay(
    metrics: RelayerMetrics, tmp_path: Path, clock: FakeClock
) -> None:
    server = metrics.serve(free_port())
    assert server is not None
    try:
        before = scrape(server.port)
        route = (("route", B2P.value),)
        assert before[("pvd_relay_messages_relayed_total", route)] == 0
        assert before[("pvd_relay_backlog_messages", route)] == 0
        assert before[("pvd_relay_lag_blocks", (("chain", "business"),))] == 0

        with Store(tmp_path / "relay.sqlite", clock=clock) as store:
            store.record_scan(B2P, [message(1), message(2), message(3)])
            clock.advance(4)
            store.mark_confirmed(message(1).message_id, None, 7)
            store.mark_dead(message(3).message_id, "refused")
            metrics.refresh_from_store(store)
        metrics.count_relayed(B2P)
        metrics.observe_latency(B2P, 0.07)
        metrics.count_failure(B2P, "token_paused")
        metrics.set_lag("business", head=120, checkpoint=100)

        after = scrape(server.port)
        assert after[("pvd_relay_messages_relayed_total", route)] == 1
        assert after[("pvd_relay_backlog_messages", route)] == 1
        assert after[("pvd_relay_dead_messages", route)] == 1
        assert after[("pvd_relay_oldest_pending_age_seconds", route)] == 4.0
        assert after[("pvd_relay_lag_blocks", (("chain", "business"),))] == 20
        failures = (("reason", "token_paused"), ("route", B2P.value))
        assert after[("pvd_relay_failures_total", failures)] == 1
        assert after[("pvd_relay_latency_seconds_count", route)] == 1
        assert after[("pvd_relay_latency_seconds_sum", route)] == pytest.approx(0.07)
        assert after[("pvd_relay_latency_seconds_bucket", (("le", "0.1"), *route))] == 1
        assert after[("pvd_relay_latency_seconds_bucket", (("le", "0.05"), *route))] == 0
    finally:
        server.close()


def test_two_relayers_in_one_process_keep_separate_registries() -> None:
    first, second = RelayerMetrics(), RelayerMetrics()
    first.count_relayed(B2P, 3)
    assert first.registry is not second.registry
    assert b'pvd_relay_messages_relayed_total{route="business->payment"} 3.0' in first.render()
    assert b'pvd_relay_messages_relayed_total{route="business->payment"} 0.0' in second.render()


def test_port_zero_serves_nothing(metrics: RelayerMetrics) -> None:
    assert metrics.serve(0) is None


def test_closing_the_server_frees_its_port(metrics: RelayerMetrics) -> None:
    port = free_port()
    server = metrics.serve(port)
    assert server is not None
    server.close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_a_failure_reason_must_be_a_short_code(metrics: RelayerMetrics) -> None:
    with pytest.raises(ValueError, match="short snake_case code"):
        metrics.count_failure(B2P, "execution reverted: 0x1234")
    assert b"pvd_relay_failures_total{" not in metrics.render()


def test_lag_is_never_negative_and_counts_from_zero_without_a_checkpoint(
    metrics: RelayerMetrics,
) -> None:
    metrics.set_lag("payment", head=5, checkpoint=9)
    assert b'pvd_relay_lag_blocks{chain="payment"} 0.0' in metrics.render()
    metrics.set_lag("payment", head=5, checkpoint=None)
    assert b'pvd_relay_lag_blocks{chain="payment"} 5.0' in metrics.render()
