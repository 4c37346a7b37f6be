"""`pvd reconcile` on the index: only the new blocks, checked against the chains, so a
corrupted index is caught; running totals; `--full` as before; `--follow` with metrics."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pvd.chain.ports import free_port
from pvd.index.db import open_index, writer_lock
from pvd.index.ingest import Indexer, sources_from_system
from pvd.reconcile.incremental import reconcile_incremental
from pvd.reconcile.reconciler import views_from_system
from tests.pvd.index.conftest import artifacts, settled  # noqa: F401 - fixtures
from tests.pvd.index.test_reorg import anvil, manifest_args, on_anvil  # noqa: F401 - fixtures
from tests.pvd.reconcile.test_reconciler import BUYER, OPERATOR, PRICE, STRANGER, Pvd, config


@pytest.fixture
def fresh(artifacts: Any) -> Pvd:  # noqa: F811
    from pvd.chain.connection import embedded_chain
    from pvd.deploy.system import deploy_system

    return Pvd(
        deploy_system(
            embedded_chain("payment", 1), embedded_chain("business", 2), config(),
            artifacts=artifacts,
        )
    )  # fmt: skip


def step(engine: Any, harness: Pvd) -> Any:
    with writer_lock(engine):
        Indexer(engine, sources_from_system(harness.system)).run_once()
    return reconcile_incremental(engine, *views_from_system(harness.system))


def test_the_first_run_checks_everything_and_the_next_only_what_is_new(fresh, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    fresh.paid_trade()

    first = step(engine, fresh)
    idle = step(engine, fresh)
    fresh.funded_trade()
    new = step(engine, fresh)

    assert first.ok and first.findings == ()
    assert first.touched["trades"] == 1 and first.touched["holds"] == 1
    assert first.touched["messages"] == 3
    assert first.totals["supply"] == first.totals["balances"] == 4 * PRICE
    assert first.totals["routes"]["payment→business"] == {
        "sent": 2, "delivered": 2, "failed": 0, "pending": 0,
    }  # fmt: skip
    assert idle.touched == {"holds": 0, "trades": 0, "messages": 0, "accounts": 0}
    assert all(low == high for low, high in idle.blocks.values())
    assert new.ok and new.touched["trades"] == 1 and new.touched["messages"] == 1
    assert "OK: no violation" in new.to_text()


def test_a_corrupted_account_row_is_caught_against_the_chain(fresh, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    fresh.funded_trade()
    assert step(engine, fresh).ok
    with engine.begin() as connection:  # the index now lies about the buyer's balance
        connection.execute(
            text("UPDATE accounts SET balance = balance + 1 WHERE address = :a"),
            {"a": BUYER.address},
        )
    fresh.on_payment(fresh.payment.token.functions.transfer(BUYER.address, 0), BUYER)

    report = step(engine, fresh)

    assert not report.ok and report.exit_code == 1
    # the running sum of balances moves with the events, not the rows: C1 still holds
    assert {f.invariant for f in report.findings} == {"INDEX"}
    (index_finding,) = report.findings
    assert dict(index_finding.ids) == {"account": BUYER.address}
    assert "the index is wrong; rebuild it" in index_finding.detail


def test_the_running_totals_equal_a_reconcile_from_scratch(fresh, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    reports = [step(engine, fresh)]
    for move in (fresh.paid_trade, fresh.refunded_trade, fresh.funded_trade):
        move()
        reports.append(step(engine, fresh))
    fresh.on_payment(fresh.payment.token.functions.issue(STRANGER.address, PRICE), OPERATOR)
    reports.append(step(engine, fresh))

    scratch = step(open_index(f"sqlite:///{tmp_path / 'scratch.db'}"), fresh)

    assert all(r.ok and r.restarted is None for r in reports) and scratch.ok
    assert reports[-1].totals == scratch.totals
    assert scratch.totals["supply"] == scratch.totals["balances"] == 5 * PRICE
    assert scratch.totals["held"] == PRICE  # the funded trade's hold
    assert scratch.totals["routes"] == {
        "payment→business": {"sent": 5, "delivered": 5, "failed": 0, "pending": 0},
        "business→payment": {"sent": 2, "delivered": 2, "failed": 0, "pending": 0},
    }
    # the last step read only its own block's events: one issue, one account
    assert reports[-1].touched == {"holds": 0, "trades": 0, "messages": 0, "accounts": 1}


def test_a_mint_the_index_lost_breaks_the_running_supply(fresh, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    assert step(engine, fresh).ok
    fresh.on_payment(fresh.payment.token.functions.issue(STRANGER.address, PRICE), OPERATOR)
    with writer_lock(engine):
        Indexer(engine, sources_from_system(fresh.system)).run_once()
    with engine.begin() as connection:  # as if the indexer had dropped the mint's Transfer
        connection.execute(
            text("DELETE FROM events WHERE name = 'Transfer' AND block = (SELECT max(block) "
                 "FROM events WHERE chain = 'payment') AND chain = 'payment'")
        )  # fmt: skip

    report = reconcile_incremental(engine, *views_from_system(fresh.system))

    (c1,) = [f for f in report.findings if f.invariant == "C1"]
    assert not report.ok
    assert f"totalSupply {5 * PRICE}" in c1.detail and f"balances {4 * PRICE}" in c1.detail


def test_a_message_the_index_lost_is_caught_by_the_outbox_nonce(fresh, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    assert step(engine, fresh).ok
    fresh.funded_trade()  # one PAYMENT_HELD sent by the payment outbox
    with writer_lock(engine):
        Indexer(engine, sources_from_system(fresh.system)).run_once()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM events WHERE name = 'MessageSent'"))

    report = reconcile_incremental(engine, *views_from_system(fresh.system))

    found = [f for f in report.findings if "nextNonce" in f.detail]
    assert not report.ok and len(found) == 1
    assert found[0].invariant == "INDEX"
    assert "the index counts 0 messages sent payment→business" in found[0].detail
    assert "nextNonce is 1" in found[0].detail


def test_a_rollback_under_the_reconciled_block_restarts_the_totals(fresh, tmp_path):
    from pvd.index.store import rollback_to

    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    fresh.paid_trade()
    before = step(engine, fresh)
    fresh.funded_trade()
    assert step(engine, fresh).ok
    with engine.begin() as connection:  # a reorg: the index goes back to the first run
        rollback_to(connection, "payment", before.blocks["payment"][1])
        rollback_to(connection, "business", before.blocks["business"][1])

    again = reconcile_incremental(engine, *views_from_system(fresh.system))

    assert again.ok and again.restarted is not None
    assert "rolled back below block" in again.restarted
    assert "restarted from the deployment blocks" in again.to_text()
    assert again.totals == before.totals
    assert step(engine, fresh).restarted is None  # caught up again, from its own totals


def test_a_hold_the_index_misses_is_caught(fresh, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    trade = fresh.funded_trade()
    with writer_lock(engine):
        Indexer(engine, sources_from_system(fresh.system)).run_once()
    with engine.begin() as connection:  # as if HoldExecuted had been indexed wrongly
        connection.execute(
            text("UPDATE holds SET status = 'executed' WHERE hold_id = :h"),
            {"h": "0x" + trade.hold_id.hex()},
        )

    report = reconcile_incremental(engine, *views_from_system(fresh.system))

    assert {f.invariant for f in report.findings} >= {"INDEX", "X1"}


# ---------------------------------------------------------------------- commands


def pvd_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_pvd_reconcile_runs_on_the_index_and_full_as_before(anvil, tmp_path):  # noqa: F811
    anvil.pvd.paid_trade()
    url = f"sqlite:///{tmp_path / 'index.db'}"

    incremental = pvd_cli("reconcile", *manifest_args(anvil), "--db", url)
    again = pvd_cli("reconcile", *manifest_args(anvil), "--db", url)
    full = pvd_cli("reconcile", *manifest_args(anvil), "--full")

    assert incremental.returncode == 0, incremental.stderr
    assert "payment chain: blocks 1.." in incremental.stdout
    assert "verdict   OK: no violation" in incremental.stdout
    assert "payment chain: up to date" in again.stdout
    assert full.returncode == 0 and "verdict   OK: no violation (0 failed" in full.stdout


def test_pvd_reconcile_follow_serves_its_metrics(anvil, tmp_path):  # noqa: F811
    port = free_port()
    url = f"sqlite:///{tmp_path / 'index.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "pvd.cli.main", "reconcile", *manifest_args(anvil), "--db", url,
         "--follow", "--interval", "0.2", "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        head = anvil.pvd.payment.chain.w3.eth.block_number
        body = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
            except OSError:
                body = ""
            if f'pvd_reconcile_last_block{{chain="payment"}} {float(head)}' in body:
                break
            time.sleep(0.2)
        assert f'pvd_reconcile_last_block{{chain="payment"}} {float(head)}' in body
        assert 'pvd_reconcile_lag_blocks{chain="business"} 0.0' in body
        assert "pvd_reconcile_step_seconds_count" in body
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


def test_a_busy_metrics_port_is_one_line_exit_2(anvil, tmp_path):  # noqa: F811
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = pvd_cli(
            "reconcile", *manifest_args(anvil), "--db", f"sqlite:///{tmp_path / 'i.db'}",
            "--follow", "--metrics-port", str(port),
        )  # fmt: skip

    assert run.returncode == 2
    assert "pick a free --metrics-port" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_alert_rules_name_the_metrics_the_reconciler_serves():
    rules = Path(__file__).resolve().parents[3] / "dashboards/prometheus/reconcile-rules.yml"
    import yaml

    data = yaml.safe_load(rules.read_text())
    expressions = " ".join(r["expr"] for g in data["groups"] for r in g["rules"])
    for metric in ("pvd_reconcile_findings", "pvd_reconcile_lag_blocks",
                   "pvd_reconcile_last_run_timestamp_seconds"):  # fmt: skip
        assert metric in expressions


def test_totals_of_an_older_pvd_are_started_again_once(fresh, tmp_path):
    engine = open_index(f"sqlite:///{tmp_path / 'index.db'}")
    fresh.paid_trade()
    first = step(engine, fresh)
    with engine.begin() as connection:  # as schema 0003 left them: no hash, no held total
        connection.execute(
            text("UPDATE reconcile_state SET block_hash = NULL, totals = :t"),
            {"t": '{"supply": 0, "balances": 0, "routes": {}}'},
        )

    again = step(engine, fresh)
    then = step(engine, fresh)

    assert again.ok and again.restarted == "no running totals of this pvd yet"
    assert again.totals == first.totals
    assert then.restarted is None and then.totals == first.totals
