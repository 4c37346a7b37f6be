"""pvd.bench.render: the page and plots come from the JSON's figures, and only from them."""

from __future__ import annotations

import json
from pathlib import Path

from pvd.bench.processes import drain_curve, summary_ms
from pvd.bench.render import render

COMPARISON = {
    "settlement_vs_htlc_lock_plus_claim": {"pvd": 256473, "baseline": 281000, "ratio": 0.913}
}


def _report(tmp_path: Path, sections: dict[str, object]) -> Path:
    path = tmp_path / "report.json"
    stamped = {
        name: {"commit": "abc1234", "measured_at": "2026-12-03T08:00:00+00:00", "data": data}
        for name, data in sections.items()
    }
    path.write_text(json.dumps(stamped))
    return path


def test_every_plot_and_table_is_written_from_the_report(tmp_path: Path):
    latency = summary_ms([0.010, 0.020, 0.030, 0.045])
    backlog = {"messages": 3, "seconds": 1.5, "curve": drain_curve([1.2, 1.0, 1.5], 0.5)}
    path = _report(
        tmp_path,
        {
            "gas": {"bridge": {"inbox_deliver_2_of_3": 75858}},
            "gas_comparison": COMPARISON,
            "relay": {
                "shipped_config": {"latency_ms": {"delivered_to_payout": latency}},
                "backlog": backlog,
            },
            "growth": GROWTH,
            "index": {"x": 1},
        },
    )
    page = render(path)
    assert sorted(p.name for p in page.plots) == [
        "report-drain.png",
        "report-gas.png",
        "report-growth.png",
        "report-latency.png",
    ]
    for png in page.plots:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.markdown.read_text()
    assert "| settlement_vs_htlc_lock_plus_claim | 256,473 | 281,000 | 0.913 |" in text
    assert "| bridge | inbox_deliver_2_of_3 | 75,858 |" in text
    assert "| delivered_to_payout | 4 | 30.0 | 45.0 |" in text
    assert "commit abc1234" in text
    assert "Not in this report" not in text
    assert "`index`" in text


def test_a_plot_without_figures_is_left_out_and_named(tmp_path: Path):
    page = render(_report(tmp_path, {"gas_comparison": COMPARISON}))
    assert [p.name for p in page.plots] == ["report-gas.png"]
    assert not (tmp_path / "report-latency.png").exists()
    text = page.markdown.read_text()
    assert "Not in this report (not measured in it): Latency distribution; Drain" in text


def test_the_drain_curve_counts_deliveries_in_time_order_and_ends_at_the_total():
    curve = drain_curve([float(t) for t in range(1000, 0, -1)], ready=0.0, points=10)
    assert curve[0] == [100.0, 100]
    assert curve[-1] == [1000.0, 1000]
    assert len(curve) == 10
    counts = [n for _, n in curve]
    assert counts == sorted(counts)
    assert drain_curve([0.3, 0.2, 0.1], ready=0.0, points=2) == [[0.1, 1], [0.2, 2], [0.3, 3]]


GROWTH = {
    "backlogs": {
        "100": {"messages_per_second": 80.0, "seconds": 1.25, "first_delivery_seconds": 0.4,
                "repeats": 0, "peak_rss_mib_max": 77.5},
        "1000": {"messages_per_second": 120.5, "seconds": 8.3, "first_delivery_seconds": 0.9,
                 "repeats": 2, "peak_rss_mib_max": 81.0},
    },
    "catch_up": {"10000": {"seconds": 0.25, "blocks_per_second": 40000}},
    "sweep": [
        {"chain_blocks": {"payment": 12, "business": 9},
         "payment->business": {"sweep_seconds": 0.01, "sweep_blocks_read": 12,
                               "full_read_seconds": 0.01}},
        {"chain_blocks": {"payment": 10012, "business": 10009},
         "payment->business": {"sweep_seconds": 0.02, "sweep_blocks_read": 2000,
                               "full_read_seconds": 0.09}},
    ],
}  # fmt: skip

PEER = {
    "ran": True,
    "package": "@axelar-network/axelar-local-dev",
    "version": "2.3.3",
    "latency_ms": {"messages": 5, "p50": 116.3, "p99": 155.0, "mean": 116.1, "max": 155.0},
    "bursts": {
        "200": {"delivered": 0, "lost": 200, "wall_seconds": None, "messages_per_second": 0,
                "relay_errors": ["RuntimeError: revert"]},
    },
}  # fmt: skip


def test_growth_and_peer_figures_are_drawn_and_tabled(tmp_path: Path):
    comparison = {"latency_hold_to_funded_p50": {"pvd_ms": 70.9, "peer_ms": 116.3, "ratio": 0.61}}
    path = _report(
        tmp_path,
        {"growth": GROWTH, "peers": {"axelar_local_dev": PEER, "comparison": comparison}},
    )
    page = render(path)
    assert [p.name for p in page.plots] == ["report-growth.png"]
    assert page.plots[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.markdown.read_text()
    assert "| 1000 | 120.5 | 8.3 | 0.9 | 2 | 81.0 |" in text
    assert "| 10,000 | 0.25 | 40,000 |" in text
    assert "| 10,012 | payment->business | 0.02 | 2,000 | 0.09 |" in text
    assert "| send receipt -> executed | 5 | 116.3 | 155.0 | 116.1 | 155.0 |" in text
    assert "| 200 | 0 | 200 | None | 0 | RuntimeError: revert |" in text
    assert "| latency_hold_to_funded_p50 | 70.9 | 116.3 | 0.61 |" in text
    assert "`growth`" not in text and "`peers`" not in text  # drawn, not "other sections"


def test_a_peer_that_could_not_run_is_named_with_its_command_and_error(tmp_path: Path):
    peer = {"ran": False, "command": "make bench-peers", "error": "node is not on PATH"}
    page = render(_report(tmp_path, {"peers": {"axelar_local_dev": peer, "comparison": {}}}))
    text = page.markdown.read_text()
    assert "Could not run: `make bench-peers` failed with: node is not on PATH" in text
