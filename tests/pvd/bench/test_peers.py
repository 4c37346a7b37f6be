"""pvd.bench.peers: each pvd figure as a ratio to the peer's, only where both measured the
same thing (the peer itself runs under `make bench-peers`, not in the tests)."""

from __future__ import annotations

from typing import Any

from pvd.bench.peers import comparison, pvd_drains


def _section(data: dict[str, Any]) -> dict[str, Any]:
    return {"commit": "abc1234", "measured_at": "2026-12-03T10:00:00+00:00", "data": data}


REPORT = {
    "relay": _section(
        {
            "shipped_config": {
                "latency_ms": {
                    "hold_to_funded": {"p50": 70.0, "p99": 90.0},
                    "delivered_to_payout": {"p50": 75.0, "p99": 99.0},
                }
            },
            "backlog": {"messages": 1000, "messages_per_second": 120.0, "seconds": 8.0},
        }
    ),
    "growth": _section(
        {
            "backlogs": {
                "100": {"messages": 100, "messages_per_second": 50.0, "seconds": 2.0},
                "1000": {"messages": 1000, "messages_per_second": 110.0, "seconds": 9.0},
            }
        }
    ),
}
PEER = {
    "ran": True,
    "latency_ms": {"p50": 140.0, "p99": 180.0},
    "bursts": {
        "200": {
            "messages": 200,
            "delivered": 200,
            "complete": True,
            "lost": 0,
            "wall_seconds": 20.0,
            "messages_per_second": 10.0,
        },
        "1000": {
            "messages": 1000,
            "delivered": 997,
            "complete": False,
            "lost": 3,
            "wall_seconds": 24.9,
            "messages_per_second": 40.0,
        },
    },
}


def test_latency_ratios_per_direction_and_burst_ratios_for_sizes_pvd_measured():
    ratios = comparison(REPORT, PEER)
    assert ratios["latency_hold_to_funded_p50"] == {"pvd_ms": 70.0, "peer_ms": 140.0, "ratio": 0.5}
    assert ratios["latency_delivered_to_payout_p99"]["ratio"] == 0.55
    assert ratios["burst_1000_messages_per_second"] == {
        "pvd": 120.0,  # the relay section's backlog first, growth's of the same size after
        "peer": 40.0,
        "ratio": 3.0,
        "pvd_lost": 0,
        "peer_lost": 3,
        "pvd_from": "relay.backlog",
    }
    assert ratios["burst_1000_wall_seconds"] == {
        "pvd": 8.0,
        "peer": 24.9,
        "ratio": None,  # the peer lost 3: its wall time is not that of the whole burst
        "pvd_delivered": 1000,
        "peer_delivered": 997,
        "pvd_from": "relay.backlog",
    }
    assert "burst_200_messages_per_second" not in ratios  # pvd drained no backlog of 200
    assert "burst_200_wall_seconds" not in ratios
    assert sorted(pvd_drains(REPORT)) == [100, 1000]


def test_a_figure_the_peer_did_not_measure_or_measured_as_zero_has_no_ratio():
    peer = {
        "ran": True,
        "bursts": {
            "1000": {
                "messages": 1000,
                "delivered": 0,
                "complete": False,
                "lost": 1000,
                "wall_seconds": None,
                "messages_per_second": 0,
            }
        },
    }
    ratios = comparison(REPORT, peer)
    assert ratios == {
        "burst_1000_messages_per_second": {
            "pvd": 120.0,
            "peer": 0,
            "ratio": None,
            "pvd_lost": 0,
            "peer_lost": 1000,
            "pvd_from": "relay.backlog",
        },
        "burst_1000_wall_seconds": {
            "pvd": 8.0,
            "peer": None,
            "ratio": None,
            "pvd_delivered": 1000,
            "peer_delivered": 0,
            "pvd_from": "relay.backlog",
        },
    }


def test_a_burst_the_peer_delivered_whole_has_a_wall_time_ratio():
    peer = {
        "ran": True,
        "bursts": {
            "100": {
                "messages": 100,
                "delivered": 100,
                "complete": True,
                "lost": 0,
                "wall_seconds": 8.0,
                "messages_per_second": 12.5,
            }
        },
    }
    ratios = comparison(REPORT, peer)
    assert ratios["burst_100_wall_seconds"]["ratio"] == 0.25  # pvd 2.0 s against 8.0 s
    assert ratios["burst_100_messages_per_second"]["ratio"] == 4.0
