"""One full trade with nothing but `pvd` commands, each a real process, against a stack
that `pvd up` started: money issued, trade proposed, accepted, held by signature,
funded by the relayers, shipped, confirmed, paid, and seen so by the stack's own chain
index (`pvd trace`) and explorer (its trades and trade pages), every step run by the
stack's command server; then `pvd down` stops
exactly it, and a new stack in the same home starts a new index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from pvd.chain.anvil import process_alive
from pvd.paths import PROJECT_ROOT
from tests.pvd.cli.test_commandserver import served


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit waits for a reaper that a container's
    init may never be)."""
    if not process_alive(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat[stat.rindex(")") + 2 :].startswith("Z")


def pvd_process(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `pvd ARGS` as its own process, without the caller's PVD_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    return subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def pvd(home: Path, *args: str) -> Any:
    """Run `pvd ARGS --home HOME --json` as its own process; its JSON answer."""
    done = pvd_process(*args, "--home", str(home), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        return str(answer.read().decode())


def traced(db: str, trade: str, status: str, settlement: str) -> dict[str, Any]:
    """Poll `pvd trace` on the stack's index until its indexer has seen the trade there."""
    deadline = time.monotonic() + 60
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        done = pvd_process("trace", trade, "--db", db, "--json")
        assert "Traceback" not in done.stderr
        if done.returncode == 0:
            shown = json.loads(done.stdout)
            if (shown["trade"]["status"], shown["trade"]["settlement"]) == (status, settlement):
                return shown
        time.sleep(0.2)
    raise AssertionError(f"the index never showed {status}/{settlement}: {shown}")


def until(home: Path, trade: str, status: str, settlement: str = "None") -> dict[str, Any]:
    """Poll `pvd trade show` until the relayers have moved the trade (no fixed sleep)."""
    deadline = time.monotonic() + 60
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = pvd(home, "trade", "show", trade)
        if (shown["business"]["status"], shown["business"]["settlement"]) == (status, settlement):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"trade never reached {status}/{settlement}: {shown}")


def test_a_whole_trade_with_pvd_commands_only(tmp_path: Path) -> None:
    home = tmp_path / "stack"
    up = pvd(home, "up")
    pids = [p["pid"] for p in up["processes"]]
    try:
        assert [(p["kind"], p["state"]) for p in up["processes"]] == [
            *[("anvil", "running")] * 2,
            *[("relay", "running")] * 3,
            ("index", "running"),
            ("explorer", "running"),
            ("commands", "running"),
        ]
        assert pvd(home, "ps")["processes"] == up["processes"]
        db, explorer = up["index_db"], up["explorer"]
        assert db == f"sqlite:///{home.resolve() / 'index.db'}"
        assert explorer.startswith("http://127.0.0.1:")
        assert "<h1>Trades" in page(explorer)

        pvd(home, "bank", "appoint", "bank", "--allowance", "1000000", "--as", "central-bank")
        issued = pvd(home, "issue", "buyer", "5000", "--as", "bank")
        assert issued["wallet"]["balance"] == "5000.00"

        proposed = pvd(
            home, "trade", "propose", "--seller", "seller", "--price", "1500.25", "--as", "buyer"
        )
        trade = proposed["trade_id"]
        assert pvd(home, "trade", "accept", trade, "--as", "seller")["business"]["status"] == (
            "Accepted"
        )
        held = pvd(home, "trade", "hold", trade, "--as", "buyer")
        assert held["sent"][0]["action"] == "placeHoldAndAnnounce"
        assert held["payment"]["hold"] == "Held" and held["payment"]["announced"]

        until(home, trade, "Funded")
        document = tmp_path / "bill-of-lading.pdf"
        document.write_bytes(b"container MSCU 1234567, 40 ft")
        shipped = pvd(home, "trade", "ship", trade, "--document", str(document), "--as", "seller")
        assert shipped["business"]["status"] == "Shipped"
        confirmed = pvd(home, "trade", "confirm", trade, "--as", "buyer")
        assert confirmed["business"]["status"] == "Delivered"

        paid = until(home, trade, "Delivered", "Paid")
        assert paid["payment"]["hold"] == "Executed"
        assert pvd(home, "wallet", "show", "seller")["wallet"]["balance"] == "1500.25"
        assert pvd(home, "wallet", "show", "buyer")["wallet"]["balance"] == "3499.75"

        # the stack's index and explorer saw the same trade, from the chains alone
        journey = traced(db, trade, "delivered", "paid")
        assert journey["trade"]["price"] == 150025
        assert [h["status"] for h in journey["holds"]] == ["executed"]
        assert {m["status"] for m in journey["messages"]} == {"delivered"}
        assert f'data-trade="{trade}"' in page(f"{explorer}trades")
        assert 'id="trade-settlement" class="status s-paid"' in page(f"{explorer}trade/{trade}")

        # every step ran in a child of the stack's command server (one line per step)
        steps = served(home, "logs/commands.log")
        shows = {"pvd trade show", "pvd wallet show"}
        assert [step for step in steps if step not in shows] == [
            "pvd bank appoint",
            "pvd issue buyer",
            "pvd trade propose",
            "pvd trade accept",
            "pvd trade hold",
            "pvd trade ship",
            "pvd trade confirm",
        ]
        assert shows <= set(steps)
    finally:
        stopped = pvd(home, "down")
    assert sorted(s["pid"] for s in stopped) == sorted(pids)
    assert {s["found"] for s in stopped} == {"stopped"}
    assert not any(running(pid) for pid in pids)
    assert pvd(home, "ps")["processes"] == []

    # a new stack in the same home: new chains, a new deployment, relayers with new stores
    # and a new index (the old trade's chains are gone)
    again = pvd(home, "up")
    try:
        assert [p["state"] for p in again["processes"]] == ["running"] * 8
        assert not set(pids) & {p["pid"] for p in again["processes"]}
        gone = pvd_process("trace", trade, "--db", db)
        assert gone.returncode == 2 and f"no trade {trade} in the index" in gone.stderr
        assert f'data-trade="{trade}"' not in page(f"{again['explorer']}trades")
    finally:
        pvd(home, "down")
