"""Relayers' health as the explorer shows it, read from their Prometheus endpoints
(`[metrics]` of `pvd relay`): up or not, lag, backlog, dead messages, failures and the
number delivered. The metric names are those of pvd/relayer/metrics.py."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelayerHealth:
    url: str
    up: bool
    error: str | None = None
    backlog: int = 0
    dead: int = 0
    oldest_pending_seconds: float = 0.0
    lag_blocks: int = 0  # the largest over both chains
    delivered: int = 0
    failures: int = 0
    read_at: float = 0.0


def parse_metrics(url: str, text: str, read_at: float) -> RelayerHealth:
    """The health figures from one scrape's text (sums over routes, max over chains)."""
    sums = {"backlog": 0.0, "dead": 0.0, "delivered": 0.0, "failures": 0.0}
    oldest = 0.0
    lag = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, value = sample.name, sample.value
            if name == "pvd_relay_backlog_messages":
                sums["backlog"] += value
            elif name == "pvd_relay_dead_messages":
                sums["dead"] += value
            elif name == "pvd_relay_messages_relayed_total":
                sums["delivered"] += value
            elif name == "pvd_relay_failures_total":
                sums["failures"] += value
            elif name == "pvd_relay_oldest_pending_age_seconds":
                oldest = max(oldest, value)
            elif name == "pvd_relay_lag_blocks":
                lag = max(lag, value)
    return RelayerHealth(
        url=url,
        up=True,
        backlog=int(sums["backlog"]),
        dead=int(sums["dead"]),
        delivered=int(sums["delivered"]),
        failures=int(sums["failures"]),
        oldest_pending_seconds=oldest,
        lag_blocks=int(lag),
        read_at=read_at,
    )


def read_relayer(url: str, timeout: float = 1.0) -> RelayerHealth:
    """Scrape one relayer; a relayer that does not answer is reported down, with why."""
    now = time.time()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        log.info("relayer metrics unreachable", extra={"url": url, "error": str(reason)})
        return RelayerHealth(url=url, up=False, error=str(reason), read_at=now)
    try:
        return parse_metrics(url, text, now)
    except ValueError as exc:
        return RelayerHealth(url=url, up=False, error=f"not a metrics page: {exc}", read_at=now)


def read_relayers(urls: Iterable[str], timeout: float = 1.0) -> tuple[RelayerHealth, ...]:
    return tuple(read_relayer(url, timeout) for url in urls)
