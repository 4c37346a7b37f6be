"""bench/report.md and its PNG plots, written from bench/report.json (never by hand).

`make bench` runs it last: `python -m pvd.bench.render [REPORT_JSON]`. It reads the
sections other bench modules wrote (gas, gas_comparison, relay, growth, peers, ...) and
draws what they measured: gas per operation against the baselines, the latency
distribution of each direction, the drain of a backlog over time, and how cost grows
(drain rate and peak memory against the backlog, the sweep against chain length); the
growth and peer figures (with pvd / peer ratios) are tabled. A plot whose figures are not in the
report is left out and the page says so. Nothing here measures anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from pvd.bench.report import REPORT

LOADED_MACHINE_NOTE = (
    "Figures are what one run measured on the machine named in each section's stamp; "
    "a shared or loaded machine (as in development, where several jobs share 2 cores) "
    "makes times and rates worse, never gas."
)


@dataclass(frozen=True)
class Page:
    """What render() wrote: the markdown page and the plots next to it."""

    markdown: Path
    plots: tuple[Path, ...]


def _stamp(section: dict[str, Any]) -> str:
    return f"commit {section.get('commit', '?')}, {section.get('measured_at', '?')}"


def plot_gas(comparison: dict[str, dict[str, float]], out: Path) -> Path | None:
    """pvd's gas next to its baseline's, one pair of bars per comparison."""
    if not comparison:
        return None
    names = list(comparison)
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.8 * len(names)))
    y = range(len(names))
    ax.barh([i + 0.2 for i in y], [comparison[n]["pvd"] for n in names], 0.4, label="pvd")
    ax.barh([i - 0.2 for i in y], [comparison[n]["baseline"] for n in names], 0.4, label="baseline")
    ax.set_yticks(list(y), [n.replace("_vs_", "\nvs ") for n in names], fontsize=7)
    ax.set_xlabel("gas (receipt gasUsed)")
    ax.set_title("Gas per operation against the baselines")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_latency(latency: dict[str, Any], out: Path) -> Path | None:
    """A histogram per direction of the per-trade latencies (`samples` in milliseconds)."""
    series = {
        name: figures["samples"]
        for name, figures in latency.items()
        if isinstance(figures, dict) and figures.get("samples")
    }
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, samples in series.items():
        ax.hist(samples, bins=30, alpha=0.6, label=f"{name} ({len(samples)} trades)")
    ax.set_xlabel("milliseconds, source receipt seen -> destination inbox consumed")
    ax.set_ylabel("trades")
    ax.set_title("Latency distribution (three pvd relay processes)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_drain(backlog: dict[str, Any], out: Path) -> Path | None:
    """Messages delivered against seconds since the relayers were ready (`curve`)."""
    curve = backlog.get("curve")
    if not curve:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.step([p[0] for p in curve], [p[1] for p in curve], where="post")
    ax.set_xlabel("seconds since the relayers were ready")
    ax.set_ylabel("messages delivered")
    ax.set_title(f"Drain of a backlog of {backlog.get('messages', '?')} messages")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_growth(growth: dict[str, Any], out: Path) -> Path | None:
    """Drain rate and peak memory against the backlog; the sweep's and a full read's
    seconds against the chain's length (pvd.bench.growth)."""
    backlogs = growth.get("backlogs") or {}
    sweeps = growth.get("sweep") or []
    if not backlogs and not sweeps:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = sorted(int(size) for size in backlogs)
    if sizes:
        left.plot(sizes, [backlogs[str(n)]["messages_per_second"] for n in sizes], "o-")
        left.set_xscale("log")
        left.set_xlabel("backlog (messages)")
        left.set_ylabel("messages per second", color="C0")
        memory = left.twinx()
        peaks = [backlogs[str(n)].get("peak_rss_mib_max") or 0 for n in sizes]
        memory.plot(sizes, peaks, "s--", color="C1")
        memory.set_ylabel("peak RSS per relayer (MiB)", color="C1")
        left.set_title("Backlog drain, three pvd relay processes")
    route = "payment->business"
    points = [p for p in sweeps if route in p]
    if points:
        blocks = [p["chain_blocks"]["payment"] for p in points]
        right.plot(blocks, [p[route]["sweep_seconds"] for p in points], "o-", label="sweep")
        right.plot(
            blocks, [p[route]["full_read_seconds"] for p in points], "s--", label="every log"
        )
        right.set_xscale("symlog")
        right.set_xlabel("payment chain length (blocks)")
        right.set_ylabel("seconds")
        right.set_title(f"Sweep of {route} against chain length")
        right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _growth_tables(growth: dict[str, Any]) -> list[str]:
    data = growth["data"]
    lines = ["## How cost grows", "", f"`python -m pvd.bench.growth`, {_stamp(growth)}.", ""]
    backlogs = data.get("backlogs") or {}
    if backlogs:
        lines += [
            "| backlog | messages/s | seconds | first delivery (s) | repeats | peak RSS MiB "
            "(max of 3) |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for size in sorted(backlogs, key=int):
            b = backlogs[size]
            cells = [
                size,
                b["messages_per_second"],
                b["seconds"],
                b["first_delivery_seconds"],
                b["repeats"],
                b.get("peak_rss_mib_max"),
            ]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    catch_up = data.get("catch_up") or {}
    if catch_up:
        lines += ["| catch-up (blocks per chain) | seconds | blocks/s |", "|---:|---:|---:|"]
        for blocks in sorted(catch_up, key=int):
            c = catch_up[blocks]
            lines.append(f"| {int(blocks):,} | {c['seconds']} | {c['blocks_per_second']:,} |")
        lines.append("")
        if data.get("catch_up_anvil"):
            lines += [f"Catch-up chains: anvil `{data['catch_up_anvil']}`.", ""]
    sweeps = data.get("sweep") or []
    if sweeps:
        lines += [
            "| chain length (payment blocks) | route | sweep s | blocks read | every log s |",
            "|---:|---|---:|---:|---:|",
        ]
        for point in sweeps:
            for route in ("payment->business", "business->payment"):
                if route in point:
                    r = point[route]
                    lines.append(
                        f"| {point['chain_blocks']['payment']:,} | {route} | "
                        f"{r['sweep_seconds']} | {r['sweep_blocks_read']:,} | "
                        f"{r['full_read_seconds']} |"
                    )
        lines.append("")
    return lines


def _peer_tables(peers: dict[str, Any]) -> list[str]:
    data = peers["data"]
    peer = data.get("axelar_local_dev") or {}
    lines = [
        "## The peer: axelar-local-dev",
        "",
        f"`python -m pvd.bench.peers`, {_stamp(peers)}.",
        "",
    ]
    if not peer.get("ran"):
        lines += [
            f"Could not run: `{peer.get('command', '?')}` failed with: {peer.get('error', '?')}",
            "",
        ]
        return lines
    lines += [
        f"{peer.get('package')} {peer.get('version')} on node {peer.get('node')}; chains: "
        f"{peer.get('chains')}; relayer: {peer.get('relayer')}.",
        "",
    ]
    latency = peer.get("latency_ms")
    if latency:
        lines += [
            "| peer latency (ms) | messages | p50 | p99 | mean | max |",
            "|---|---:|---:|---:|---:|---:|",
            f"| send receipt -> executed | {latency['messages']} | {latency['p50']} | "
            f"{latency['p99']} | {latency['mean']} | {latency['max']} |",
            "",
        ]
    bursts = peer.get("bursts") or {}
    if bursts:
        lines += [
            "| peer burst | delivered | lost | wall s | messages/s | relayer errors |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for size in sorted(bursts, key=int):
            b = bursts[size]
            errors = "; ".join(b.get("relay_errors") or []) or "none"
            lines.append(
                f"| {size} | {b['delivered']} | {b['lost']} | {b['wall_seconds']} | "
                f"{b['messages_per_second']} | {errors} |"
            )
        lines.append("")
    comparison = data.get("comparison") or {}
    if comparison:
        lines += [
            "pvd / peer (latency and wall seconds: below 1 is pvd faster; rate: above 1 is pvd "
            "faster):",
            "",
            "| figure | pvd | peer | pvd / peer |",
            "|---|---:|---:|---:|",
        ]
        for name, row in comparison.items():
            mine = row.get("pvd_ms", row.get("pvd"))
            theirs = row.get("peer_ms", row.get("peer"))
            lines.append(f"| {name} | {mine} | {theirs} | {row['ratio']} |")
        lines.append("")
    return lines


def _gas_tables(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    comparison = report.get("gas_comparison")
    if comparison:
        lines += [
            "## Gas against the baselines",
            "",
            f"`scripts/bench_gas.py`, {_stamp(comparison)}.",
            "",
            "| comparison | pvd | baseline | pvd / baseline |",
            "|---|---:|---:|---:|",
        ]
        for name, row in comparison["data"].items():
            lines.append(f"| {name} | {row['pvd']:,} | {row['baseline']:,} | {row['ratio']:.3f} |")
        lines.append("")
    gas = report.get("gas")
    if gas:
        lines += [
            "## Gas per operation",
            "",
            f"`scripts/bench_gas.py`, {_stamp(gas)}.",
            "",
            "| area | operation | gas |",
            "|---|---|---:|",
        ]
        for area, ops in gas["data"].items():
            for op, value in ops.items():
                lines.append(f"| {area} | {op} | {value:,} |")
        lines.append("")
    return lines


def _relay_tables(relay: dict[str, Any]) -> list[str]:
    data = relay["data"]
    lines = ["## Relay", "", f"`python -m pvd.bench.relay`, {_stamp(relay)}.", ""]
    for config in ("shipped_config", "polling_forced"):
        latency = data.get(config, {}).get("latency_ms")
        if not latency:
            continue
        lines += [
            f"Latency, {config} (ms):",
            "",
            "| direction | trades | p50 | p99 | mean | max |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for direction, f in latency.items():
            cells = [direction, f["trades"], f["p50"], f["p99"], f["mean"], f["max"]]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    backlog = data.get("backlog")
    if backlog:
        lines += ["Backlog:", "", "| figure | value |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in backlog.items() if k != "curve"]
        lines.append("")
    return lines


def render(report_path: Path = REPORT) -> Page:
    """Write report.md and the plots beside `report_path`."""
    report: dict[str, Any] = json.loads(report_path.read_text())
    folder = report_path.parent
    stem = report_path.stem
    plots: list[Path] = []
    lines = [
        "# pvd benchmark report",
        "",
        f"Written by `python -m pvd.bench.render` from `{report_path.name}` (what `make bench` or "
        "`make bench-quick` measured); do not edit by hand.",
        "",
        LOADED_MACHINE_NOTE,
        "",
    ]
    missing: list[str] = []
    comparison = report.get("gas_comparison", {}).get("data", {})
    gas_png = plot_gas(comparison, folder / f"{stem}-gas.png")
    relay = report.get("relay", {}).get("data", {})
    latency = relay.get("shipped_config", {}).get("latency_ms", {})
    latency_png = plot_latency(latency, folder / f"{stem}-latency.png")
    drain_png = plot_drain(relay.get("backlog", {}), folder / f"{stem}-drain.png")
    growth = report.get("growth", {}).get("data", {})
    growth_png = plot_growth(growth, folder / f"{stem}-growth.png")
    for title, png in (
        ("Gas per operation against the baselines", gas_png),
        ("Latency distribution", latency_png),
        ("Drain of a backlog over time", drain_png),
        ("How cost grows", growth_png),
    ):
        if png is None:
            missing.append(title)
            continue
        plots.append(png)
        lines += [f"![{title}]({png.name})", ""]
    if missing:
        lines += ["Not in this report (not measured in it): " + "; ".join(missing) + ".", ""]
    lines += _gas_tables(report)
    if "relay" in report:
        lines += _relay_tables(report["relay"])
    if "growth" in report:
        lines += _growth_tables(report["growth"])
    if "peers" in report:
        lines += _peer_tables(report["peers"])
    others = sorted(set(report) - {"gas", "gas_comparison", "relay", "growth", "peers"})
    if others:
        lines += [
            "## Other sections",
            "",
            "In the JSON, not drawn here: " + ", ".join(f"`{name}`" for name in others) + ".",
            "",
        ]
    markdown = folder / f"{stem}.md"
    markdown.write_text("\n".join(lines))
    return Page(markdown, tuple(plots))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvd.bench.render", description=__doc__)
    parser.add_argument("report", nargs="?", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if not args.report.exists():
        print(f"{args.report}: no report yet; run `make bench` first", file=sys.stderr)
        return 2
    page = render(args.report)
    print(f"written {page.markdown} and {len(page.plots)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
