"""`make bench`'s peer: the relayer most used for local cross-chain development,
`@axelar-network/axelar-local-dev` (npm), on the same two workloads as pvd's relay
figures, and each pvd figure as a ratio to the peer's.

The package is installed by `make bench-peers` into bench/peers/axelar/ only (its own
package.json and lockfile; never a pvd dependency). This module compiles the bench's
app for it (bench/peers/axelar/PeerApp.sol: a sender that pays the peer's gas service
and calls its gateway, a receiver that consumes each approved call once) with pvd's
solc, and runs bench/peers/axelar/run.js under node, which starts the package's own two
chains (in-process ganache) and drives the package's own EVM relayer:

- latency: one message at a time, from the send transaction's receipt to the receiver's
  Received log (p50, p99, mean, max in ms);
- bursts (200 and 1,000): messages sent with the relayer stopped, then the relayer
  started: delivered, lost (not executed before the relayer made no progress for
  `--stall` seconds), wall time from start to the last execution, the first delivery,
  and the gas of each of the relayer's approval transactions on the destination gateway.
  The package's relayer approves all the calls of one relay() call in one gateway
  transaction at a fixed 8,000,000 gas, which runs out above about 120 calls (the calls
  are then lost); the bench has it send them in chunks of `--approval-chunk` (100) calls
  a transaction, each signed as the package signs one (0: as shipped).

Written as the `peers` section of bench/report.json (pvd.bench.report):
`axelar_local_dev` (what the peer measured, or why it could not run: the command and its
error) and `comparison` (pvd / peer for each figure both measured: latency p50 and p99
per direction, and messages per second of a burst against pvd's backlog drain of the
same size, from the report's `relay` and `growth` sections). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pvd.bench.report import QUICK_REPORT, REPORT, write_section
from pvd.deploy.compiler import solc_binary
from pvd.paths import PROJECT_ROOT

PEER_FOLDER = PROJECT_ROOT / "bench" / "peers" / "axelar"
PACKAGE = "@axelar-network/axelar-local-dev"
CONTRACTS = ("PeerSender", "PeerReceiver")
# ganache (the peer's chains) knows no opcode after Shanghai; Paris is below every one.
EVM_VERSION = "paris"
# The peer's relayer approves all the calls one relay() call found in one gateway
# transaction at a fixed 8,000,000 gas limit, about 65,000 gas a call: above about 120
# calls that transaction runs out of gas and the calls are lost. The bench sends them in
# chunks of this many (bench/peers/axelar/run.js; 0 runs the package as shipped).
APPROVAL_CHUNK = 100


def compile_app(out: Path) -> Path:
    """PeerApp.sol's two contracts (ABI, bytecode) as JSON in `out`."""
    command = [
        str(solc_binary()),
        "--combined-json",
        "abi,bin",
        "--optimize",
        "--evm-version",
        EVM_VERSION,
        str(PEER_FOLDER / "PeerApp.sol"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    contracts = json.loads(done.stdout)["contracts"]
    artifacts = {
        name.rsplit(":", 1)[1]: {"abi": c["abi"], "bin": "0x" + c["bin"]}
        for name, c in contracts.items()
        if name.rsplit(":", 1)[1] in CONTRACTS
    }
    out.write_text(json.dumps(artifacts))
    return out


def run_peer(
    latency: int, bursts: list[int], stall: float, timeout: float, approval_chunk: int = 0
) -> dict[str, Any]:
    """What the peer measured, or `{"ran": False, "command", "error"}` if it could not run."""
    node = shutil.which("node")
    installed = (PEER_FOLDER / "node_modules" / PACKAGE / "package.json").exists()
    if node is None or not installed:
        return {
            "ran": False,
            "command": "make bench-peers",
            "error": "node is not on PATH" if node is None else f"{PACKAGE} is not installed",
        }
    with tempfile.TemporaryDirectory(prefix="pvd-bench-peer-") as tmp:
        artifacts = compile_app(Path(tmp) / "peer-app.json")
        command = [
            node,
            "run.js",
            str(artifacts),
            str(latency),
            ",".join(str(b) for b in bursts),
            str(stall),
            str(approval_chunk),
        ]
        shown = f"cd bench/peers/axelar && node run.js ARTIFACTS {' '.join(command[3:])}"
        try:
            done = subprocess.run(
                command, cwd=PEER_FOLDER, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return {"ran": False, "command": shown, "error": f"no result within {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"ran": False, "command": shown, "exit": done.returncode, "error": "\n".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return {"ran": True, "command": shown, **result}


def _ratio(pvd: float | None, peer: float | None) -> float | None:
    return round(pvd / peer, 3) if pvd is not None and peer else None


def pvd_drains(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """pvd's backlog drains in the report, by size (`relay`'s backlog, `growth`'s)."""
    drains: dict[int, dict[str, Any]] = {}
    relay_backlog = report.get("relay", {}).get("data", {}).get("backlog")
    if relay_backlog:
        drains[int(relay_backlog["messages"])] = relay_backlog | {"section": "relay.backlog"}
    for size, figures in report.get("growth", {}).get("data", {}).get("backlogs", {}).items():
        if "messages_per_second" in figures:
            drains.setdefault(int(size), figures | {"section": f"growth.backlogs.{size}"})
    return drains


def comparison(report: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """pvd / peer for every figure both measured. Latency and a burst's wall time: below 1
    is pvd faster; rate: above 1 is pvd faster."""
    out: dict[str, Any] = {}
    peer_latency = peer.get("latency_ms") or {}
    latency = report.get("relay", {}).get("data", {}).get("shipped_config", {})
    for direction, figures in (latency.get("latency_ms") or {}).items():
        for q in ("p50", "p99"):
            ratio = _ratio(figures.get(q), peer_latency.get(q))
            if ratio is not None:
                out[f"latency_{direction}_{q}"] = {
                    "pvd_ms": figures[q],
                    "peer_ms": peer_latency[q],
                    "ratio": ratio,
                }
    drains = pvd_drains(report)
    for size, burst in (peer.get("bursts") or {}).items():
        mine = drains.get(int(size))
        if mine is None:
            continue
        out[f"burst_{size}_messages_per_second"] = {
            "pvd": mine["messages_per_second"],
            "peer": burst["messages_per_second"],
            "ratio": _ratio(mine["messages_per_second"], burst["messages_per_second"]),
            "pvd_lost": 0,  # pvd's drain waits for every message: none is left out
            "peer_lost": burst["lost"],
            "pvd_from": mine["section"],
        }
        # the wall time of the whole burst: only a peer that delivered all of it has one
        # to compare (a partial burst's wall time is that of what it delivered)
        complete = burst.get("delivered") == burst.get("messages") and bool(burst.get("complete"))
        out[f"burst_{size}_wall_seconds"] = {
            "pvd": mine.get("seconds"),
            "peer": burst.get("wall_seconds"),
            "ratio": _ratio(mine.get("seconds"), burst.get("wall_seconds")) if complete else None,
            "pvd_delivered": int(size),
            "peer_delivered": burst.get("delivered"),
            "pvd_from": mine["section"],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvd.bench.peers", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10 messages, one burst of 100 (the quick growth step's backlog), 15 s stall; "
        "report-quick.json",
    )
    parser.add_argument("--latency-messages", type=int, default=None)
    parser.add_argument("--bursts", default=None, help="comma-separated (default 200,1000)")
    parser.add_argument(
        "--stall",
        type=float,
        default=None,
        help="seconds without progress after which the rest of a burst counts as lost "
        "(default 30; 15 with --quick)",
    )
    parser.add_argument(
        "--approval-chunk",
        type=int,
        default=APPROVAL_CHUNK,
        help="calls per gateway approval transaction of the peer's relayer (0: all of a "
        f"relay() call's in one, as the package ships, which runs out of gas above about "
        f"120; default {APPROVAL_CHUNK})",
    )
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    latency = args.latency_messages or (10 if args.quick else 100)
    bursts_text = args.bursts or ("100" if args.quick else "200,1000")
    stall = args.stall or (15.0 if args.quick else 30.0)
    bursts = [int(b) for b in bursts_text.split(",") if b.strip()]
    report_path = QUICK_REPORT if args.quick else REPORT
    peer = run_peer(latency, bursts, stall, args.timeout, args.approval_chunk)
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    data = {"axelar_local_dev": peer, "comparison": comparison(report, peer) if peer["ran"] else {}}
    path = write_section("peers", data, report_path)
    shown = {k: v for k, v in peer.items() if k != "latency_ms"}
    print(f"axelar_local_dev {json.dumps(shown)}")
    for name, figures in data["comparison"].items():
        print(f"{name:40} {figures}")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
