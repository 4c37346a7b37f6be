"""The relayer's Prometheus metrics (prometheus_client).

Owns one private CollectorRegistry per relayer (so tests, and the embedded mode with
several attesters in one process, can run several side by side) and the HTTP endpoint
that serves it. Metrics:

- pvd_relay_backlog_messages{route}: messages pending (not confirmed, not dead)
- pvd_relay_dead_messages{route}: messages given up (off-chain only; `pvd retry`)
- pvd_relay_oldest_pending_age_seconds{route}: age of the oldest pending message
- pvd_relay_lag_blocks{chain}: head block minus the checkpoint of the route read there
- pvd_relay_latency_seconds{route}: histogram, source log to confirmed delivery
- pvd_relay_failures_total{route,reason}: failed attempts by reason (a short code)
- pvd_relay_messages_relayed_total{route}: messages this relayer delivered itself (its
  own gas key consumed them on the destination), counted once each at confirmation: a
  fleet's sum is the number of deliveries, not one per attester
- pvd_relay_messages_confirmed_total{route}: messages seen delivered and confirmed at
  the destination's depth, whoever delivered them (every attester counts each one)
- pvd_relay_waiting_messages{route}: messages waiting on a pause or a freeze
- pvd_relay_waits_total{route,reason}: times a delivery found the destination paused or
  an account frozen (inbox_paused, token_paused, account_frozen): not failed attempts
- pvd_relay_deliveries_lost_total{route}: deliveries seen on the destination that left
  it (a reorg, a dropped transaction) and were sent again
- pvd_relay_payouts_near_expiry{route}: Delivered outcomes not yet delivered whose
  hold expires within the alert window (the seller is refunded at expiry): alert on > 0
- pvd_relay_payout_expiry_seconds{route}: seconds until the soonest such hold expires
  (+Inf with none pending)

Every label child of the known routes and chains is created at start, so a scrape
shows zeros before the first event rather than nothing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest

from pvd.relayer.config import CHAIN_NAMES, ChainName, Route
from pvd.relayer.store import Store

#: Seconds; from in-block latencies (the ≤ 100 ms target) to a relayer outage.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass
class MetricsServer:
    """A running metrics endpoint; close() stops it and frees the port."""

    httpd: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.httpd.server_port)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class RelayerMetrics:
    """The metrics of one relayer, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True) if registry is None else registry
        r = self.registry
        self.backlog = Gauge(
            "pvd_relay_backlog_messages", "Messages pending delivery", ["route"], registry=r
        )
        self.dead = Gauge(
            "pvd_relay_dead_messages", "Messages given up, until pvd retry", ["route"], registry=r
        )
        self.oldest_pending_age = Gauge(
            "pvd_relay_oldest_pending_age_seconds",
            "Age of the oldest pending message",
            ["route"],
            registry=r,
        )
        self.lag = Gauge(
            "pvd_relay_lag_blocks",
            "Head block minus the checkpoint of the route read from this chain",
            ["chain"],
            registry=r,
        )
        self.latency = Histogram(
            "pvd_relay_latency_seconds",
            "Time from the source log to the confirmed delivery",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.failures = Counter(
            "pvd_relay_failures", "Failed attempts by reason", ["route", "reason"], registry=r
        )
        self.relayed = Counter(
            "pvd_relay_messages_relayed",
            "Messages this relayer delivered itself, counted at confirmation",
            ["route"],
            registry=r,
        )
        self.confirmed = Counter(
            "pvd_relay_messages_confirmed",
            "Messages seen delivered at the destination's depth, whoever delivered them",
            ["route"],
            registry=r,
        )
        self.waiting = Gauge(
            "pvd_relay_waiting_messages",
            "Messages waiting on a paused destination or a frozen account",
            ["route"],
            registry=r,
        )
        self.waits = Counter(
            "pvd_relay_waits",
            "Deliveries that found the destination paused or an account frozen",
            ["route", "reason"],
            registry=r,
        )
        self.lost = Counter(
            "pvd_relay_deliveries_lost",
            "Deliveries that left the destination chain (reorg, dropped) and were re-sent",
            ["route"],
            registry=r,
        )
        self.near_expiry = Gauge(
            "pvd_relay_payouts_near_expiry",
            "Delivered outcomes not yet delivered whose hold expires within the alert window",
            ["route"],
            registry=r,
        )
        self.expiry_seconds = Gauge(
            "pvd_relay_payout_expiry_seconds",
            "Seconds until the soonest undelivered Delivered outcome's hold expires",
            ["route"],
            registry=r,
        )
        for route in Route:
            for metric in (
                self.backlog,
                self.dead,
                self.oldest_pending_age,
                self.relayed,
                self.confirmed,
                self.waiting,
                self.lost,
                self.near_expiry,
            ):
                metric.labels(route=route.value)
            self.expiry_seconds.labels(route=route.value).set(float("inf"))
            self.latency.labels(route=route.value)
        for chain in CHAIN_NAMES:
            self.lag.labels(chain=chain)

    def set_lag(self, chain: ChainName, head: int, checkpoint: int | None) -> None:
        """Blocks between a chain's head and the checkpoint of the route read from it."""
        self.lag.labels(chain=chain).set(max(0, head - (checkpoint or 0)))

    def observe_latency(self, route: Route, seconds: float) -> None:
        self.latency.labels(route=route.value).observe(max(0.0, seconds))

    def count_failure(self, route: Route, reason: str) -> None:
        """Count a failed attempt; `reason` is a short code (e.g. rpc_timeout, reverted),
        never free text, so the label set stays small."""
        if not _REASON.match(reason):
            raise ValueError(f"a failure reason is a short snake_case code, got {reason!r}")
        self.failures.labels(route=route.value, reason=reason).inc()

    def count_relayed(self, route: Route, count: int = 1) -> None:
        """Messages this relayer's own transactions delivered (at their confirmation)."""
        self.relayed.labels(route=route.value).inc(count)

    def count_confirmed(self, route: Route, count: int = 1) -> None:
        """Messages seen delivered and confirmed, whoever delivered them."""
        self.confirmed.labels(route=route.value).inc(count)

    def count_wait(self, route: Route, reason: str) -> None:
        """A delivery found the destination paused or an account frozen (a short code)."""
        if not _REASON.match(reason):
            raise ValueError(f"a wait reason is a short snake_case code, got {reason!r}")
        self.waits.labels(route=route.value, reason=reason).inc()

    def count_lost(self, route: Route) -> None:
        self.lost.labels(route=route.value).inc()

    def set_expiries(self, route: Route, near: int, soonest: float | None) -> None:
        """Undelivered Delivered outcomes: how many expire within the alert window, and
        the seconds until the soonest expiry (None: none pending)."""
        self.near_expiry.labels(route=route.value).set(near)
        self.expiry_seconds.labels(route=route.value).set(
            float("inf") if soonest is None else soonest
        )

    def refresh_from_store(self, store: Store, now: float | None = None) -> None:
        """Set backlog, dead and oldest-pending gauges from the store."""
        for route in Route:
            counts = store.status_counts(route)
            self.backlog.labels(route=route.value).set(store.backlog(route))
            self.dead.labels(route=route.value).set(counts.get("dead", 0))
            self.waiting.labels(route=route.value).set(counts.get("waiting", 0))
            self.oldest_pending_age.labels(route=route.value).set(
                store.oldest_pending_age(route, now)
            )

    def render(self) -> bytes:
        """The text exposition format, as a scrape would see it."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> MetricsServer | None:
        """Serve /metrics on host:port in a daemon thread; port 0 means off (None)."""
        if port == 0:
            return None
        httpd, thread = start_http_server(port, addr=host, registry=self.registry)
        return MetricsServer(httpd, thread)
