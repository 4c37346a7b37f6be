"""The chain index on SQLite and on a real PostgreSQL: ingest, projections, checkpoints,
the one-writer lock, schema revisions, refusals, and no partial batch."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text

import pvd.index.store as store_module
from pvd.chain.connection import embedded_chain
from pvd.chain.ports import free_port
from pvd.errors import UserError
from pvd.index import query
from pvd.index.db import (
    IndexBusy,
    alembic_config,
    engine_for,
    migrate,
    open_index,
    writer_lock,
)
from pvd.index.ingest import ChainIndexer, Indexer, sources_from_system
from pvd.index.schema import SCHEMA_REVISION, accounts, blocks, chains, events, messages, trades
from pvd.index.trace import trace
from tests.pvd.reconcile.test_reconciler import PRICE, Pvd, hex_id


def index(engine: Engine, harness: Pvd, batch_blocks: int = 2_000) -> list[Any]:
    with writer_lock(engine):
        return Indexer(engine, sources_from_system(harness.system), batch_blocks).run_once()


def table(engine: Engine, which: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return sorted(tuple(r) for r in connection.execute(select(which)))


# ------------------------------------------------------------------ ingest and queries


def test_a_paid_and_a_refunded_trade_are_indexed_with_their_messages_and_money(settled, engine):
    harness, paid, refunded = settled

    stats = index(engine, harness)

    heads = {
        "payment": harness.payment.chain.w3.eth.block_number,
        "business": harness.business.chain.w3.eth.block_number,
    }
    assert {s.chain: s.indexed_block for s in stats} == heads
    assert sum(s.events for s in stats) > 0
    page = query.trades_page(engine)
    assert page.total == 2 and page.next_cursor is None
    rows = {r.trade_id: r for r in page.rows}
    assert (rows[hex_id(paid.trade_id)].status, rows[hex_id(paid.trade_id)].settlement) == (
        "delivered",
        "paid",
    )
    assert (rows[hex_id(refunded.trade_id)].status, rows[hex_id(refunded.trade_id)].settlement) == (
        "expired",
        "refunded",
    )
    assert rows[hex_id(paid.trade_id)].hold_id == hex_id(paid.hold_id)
    figures = query.money(engine)
    assert figures.supply == harness.payment.token.functions.totalSupply().call() == 4 * PRICE
    assert (figures.held, figures.paid, figures.refunded) == (0, PRICE, PRICE)
    assert figures.holds == {"executed": 1, "released": 1}
    assert figures.messages == {"delivered": 6}
    names = [e.name for e in query.trade_events(engine, hex_id(paid.trade_id))]
    for expected in (
        "TradeProposed", "TradeAccepted", "HoldPlaced", "HoldAnnounced", "MessageSent",
        "TradeFunded", "TradeShipped", "BillIssued", "TradeDelivered", "BillSurrendered",
        "OutcomeSent", "HoldExecuted", "MessageDelivered", "TradeSettled",
    ):  # fmt: skip
        assert expected in names
    assert names.count("MessageDelivered") == 3  # PAYMENT_HELD, outcome, PAYMENT_SETTLED
    delivered = query.messages_by_status(engine, "delivered", limit=10)
    assert len(delivered) == 6 and all(m.deliverer for m in delivered)
    assert {m.kind for m in delivered} == {"payment_held", "trade_outcome", "payment_settled"}


def test_a_second_run_reads_nothing_new_and_changes_nothing(settled, engine):
    harness, _paid, _refunded = settled
    index(engine, harness)
    before = [table(engine, t) for t in (events, trades, messages, accounts, blocks)]

    again = index(engine, harness)

    assert [(s.blocks, s.events) for s in again] == [(0, 0), (0, 0)]
    assert [table(engine, t) for t in (events, trades, messages, accounts, blocks)] == before


def test_the_batch_size_does_not_change_the_index(settled, tmp_path):
    harness, _paid, _refunded = settled
    one = open_index(f"sqlite:///{tmp_path / 'one.db'}")
    big = open_index(f"sqlite:///{tmp_path / 'big.db'}")

    index(one, harness, batch_blocks=1)
    index(big, harness, batch_blocks=2_000)

    for which in (events, trades, messages, accounts, blocks):
        assert table(one, which) == table(big, which)


def test_every_indexed_block_keeps_its_hash(settled, engine):
    harness, _paid, _refunded = settled
    index(engine, harness)
    w3 = harness.business.chain.w3

    stored = dict((n, h) for c, n, h, _t in table(engine, blocks) if c == "business")

    assert sorted(stored) == list(range(0, w3.eth.block_number + 1))
    assert all(w3.eth.get_block(n)["hash"].to_0x_hex() == h for n, h in stored.items())


def test_the_trades_page_filters_searches_and_pages(settled, engine):
    harness, paid, refunded = settled
    index(engine, harness)

    first = query.trades_page(engine, limit=1)
    second = query.trades_page(engine, limit=1, cursor=first.next_cursor)

    assert first.total == 2 and first.next_cursor is not None
    assert {first.rows[0].trade_id, second.rows[0].trade_id} == {
        hex_id(paid.trade_id),
        hex_id(refunded.trade_id),
    }
    assert second.next_cursor is None
    assert [r.trade_id for r in query.trades_page(engine, status="expired").rows] == [
        hex_id(refunded.trade_id)
    ]
    assert query.trades_page(engine, search=hex_id(paid.trade_id)[:12]).rows[0].trade_id == (
        hex_id(paid.trade_id)
    )
    buyer = query.trades_page(engine).rows[0].buyer
    assert query.trades_page(engine, party=buyer.lower()).total == 2
    assert query.trades_page(engine, status="cancelled").total == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: query.trades_page(e, status="paid"), "unknown trade status"),
        (lambda e: query.trades_page(e, limit=0), "page size 0"),
        (lambda e: query.trades_page(e, search="hello"), "give a trade id"),
        (lambda e: query.trades_page(e, party="0x1234"), "is not an address"),
        (lambda e: query.trades_page(e, cursor="nonsense"), "bad page cursor"),
        (lambda e: query.messages_by_status(e, "lost"), "unknown message status"),
        (lambda e: query.trade_events(e, "0x12"), "is not a trade id"),
    ],
)
def test_bad_query_input_is_a_one_line_user_error(tmp_path, call, message):
    engine = open_index(f"sqlite:///{tmp_path / 'q.db'}")

    with pytest.raises(UserError, match=message) as caught:
        call(engine)

    assert "\n" not in str(caught.value)


# ------------------------------------------------------------- incremental and trace


def test_new_blocks_are_indexed_incrementally_and_the_trace_follows_the_trade(pvd, engine):
    index(engine, pvd)
    trade = pvd.funded_trade()
    index(engine, pvd)
    trade_id = hex_id(trade.trade_id)

    funded = trace(engine, trade_id)

    assert funded.trade.status == "funded" and funded.stuck == ()
    assert funded.next_move == "waiting for the seller to ship"
    assert query.money(engine).held == PRICE
    (held,) = funded.legs
    assert (held.kind, held.status, held.source, held.destination) == (
        "payment_held", "delivered", "payment", "business",
    )  # fmt: skip

    pvd.confirm_delivery(trade)  # the Delivered outcome is sent, nobody relays it
    index(engine, pvd)
    waiting = trace(engine, trade_id)

    assert waiting.trade.status == "delivered"
    (stuck,) = waiting.stuck
    assert "TRADE_OUTCOME delivered business→payment" in stuck
    assert "waiting for a quorum of attesters" in stuck
    assert "not delivered yet" in waiting.to_text()

    pvd.relay_to_payment()
    pvd.relay_to_business()
    index(engine, pvd)
    done = trace(engine, trade_id)

    assert done.stuck == () and done.trade.settlement == "paid"
    assert [leg.status for leg in done.legs] == ["delivered"] * 3
    assert all(leg.seconds_between_chains >= 0 for leg in done.legs)
    data = json.loads(json.dumps(done.to_json()))
    assert data["trade"]["status"] == "delivered"
    assert {e["tx_hash"] for e in data["events"]} and all(
        e["block_time"] > 0 for e in data["events"]
    )


def test_a_hold_past_its_expiry_is_named_in_the_trace(pvd, engine):
    trade = pvd.funded_trade()
    expiry = trade.hold[4]
    pvd.payment.chain.advance_time_to(expiry + 60)  # mines a payment block past the expiry
    index(engine, pvd)

    result = trace(engine, hex_id(trade.trade_id))

    (stuck,) = result.stuck
    assert f"hold {hex_id(trade.hold_id)} is still held" in stuck
    assert "past its expiry" in stuck


def test_a_failed_delivery_is_traced_with_its_decoded_reason(pvd, engine):
    trade = pvd.funded_trade()
    pvd.on_payment(pvd.payment.token.functions.pause(), pvd_pauser())
    pvd.confirm_delivery(trade)
    pvd.relay_to_payment()  # verified, but the settlement's executeHold reverts: paused
    index(engine, pvd)

    result = trace(engine, hex_id(trade.trade_id))

    failed = [leg for leg in result.legs if leg.status == "failed"]
    assert len(failed) == 1 and failed[0].attempts == 1
    assert failed[0].reason and not failed[0].reason.startswith("0x")
    assert any("failed on the payment inbox" in s and failed[0].reason in s for s in result.stuck)


def pvd_pauser() -> Any:
    from tests.pvd.reconcile.test_reconciler import PAUSER

    return PAUSER


# --------------------------------------------------------------------- refusals


def test_two_indexers_on_one_database_are_refused(db_url):
    engine = open_index(db_url)
    other = engine_for(db_url)

    with (
        writer_lock(engine),
        pytest.raises(IndexBusy, match="another `pvd index` is writing"),
        writer_lock(other),
    ):
        pass
    with writer_lock(other):  # released with the first holder
        pass


def test_a_schema_of_another_revision_names_the_migration_command(db_url):
    engine = open_index(db_url)
    command.downgrade(alembic_config(engine), "0001")

    with pytest.raises(UserError, match="run `pvd index migrate") as caught:
        open_index(db_url)

    assert f"this pvd uses {SCHEMA_REVISION}" in str(caught.value)
    assert migrate(engine) == ("0001", SCHEMA_REVISION)
    open_index(db_url)  # now current


def test_a_schema_from_a_newer_pvd_says_to_upgrade_pvd(db_url):
    engine = open_index(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(UserError, match="upgrade pvd"):
        open_index(db_url)


def test_a_chain_reset_under_the_index_is_refused(settled, engine):
    harness, _paid, _refunded = settled
    index(engine, harness)
    payment, _business = sources_from_system(harness.system)
    reset = embedded_chain("payment-reset", 1)  # another genesis
    other = type(payment)("payment", reset.w3, payment.domain_id, payment.contracts, 0, 0)

    with pytest.raises(UserError, match="the chain was reset"):
        ChainIndexer(engine, other).step()


def test_a_following_indexer_asks_the_chain_identity_once_and_still_refuses_a_reset(
    settled, engine, monkeypatch
):
    harness, _paid, _refunded = settled
    payment, _business = sources_from_system(harness.system)
    indexer = ChainIndexer(engine, payment)
    asked: list[object] = []
    original = payment.w3.eth.get_block

    def counting(number, *args):
        if number == 0:
            asked.append(number)
        return original(number, *args)

    monkeypatch.setattr(payment.w3.eth, "get_block", counting)
    indexer.step()
    first = len(asked)
    for _ in range(3):
        indexer.step()

    assert first >= 1 and len(asked) == first  # asked by the first step, not by every step
    reset = embedded_chain("payment-reset", 1)  # the node behind it restarted: a new genesis
    indexer.source = type(payment)("payment", reset.w3, payment.domain_id, payment.contracts, 0, 0)
    with pytest.raises(UserError, match="the chain was reset"):
        indexer.step()


def test_a_database_that_does_not_answer_is_a_one_line_error():
    url = f"postgresql://pvd@127.0.0.1:{free_port()}/pvd"

    with pytest.raises(UserError, match="does not answer") as caught:
        open_index(url)

    assert "\n" not in str(caught.value)


def test_a_failing_batch_commits_nothing(settled, engine, monkeypatch):
    harness, _paid, _refunded = settled

    def broken(*_args: Any) -> None:
        raise RuntimeError("the database went away mid-batch")

    monkeypatch.setattr(store_module, "rebuild", broken)
    with pytest.raises(RuntimeError):
        index(engine, harness)

    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(blocks)).scalar() == 0
        checkpoints = {r.name: r.indexed_block for r in connection.execute(select(chains))}
    assert checkpoints == {"payment": -1}  # registered, nothing indexed


# ---------------------------------------------------------------------- commands


def pvd_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_pvd_trace_prints_the_timeline_and_json(settled, db_url):
    harness, paid, _refunded = settled
    engine = open_index(db_url)
    index(engine, harness)

    text_run = pvd_cli("trace", hex_id(paid.trade_id), "--db", db_url)
    json_run = pvd_cli("trace", hex_id(paid.trade_id), "--db", db_url, "--json")

    assert text_run.returncode == 0, text_run.stderr
    assert f"trade {hex_id(paid.trade_id)}: delivered, settlement paid" in text_run.stdout
    assert "TradeRegistry.TradeProposed" in text_run.stdout
    assert "stuck: nothing" in text_run.stdout
    data = json.loads(json_run.stdout)
    assert data["trade"]["settlement"] == "paid" and len(data["messages"]) == 3


@pytest.mark.parametrize(
    ("trade_id", "message"),
    [
        ("0x1234", "is not a trade id"),
        ("0x" + "ab" * 32, "no trade 0x" + "ab" * 32 + " in the index"),
    ],
)
def test_pvd_trace_of_a_bad_or_unknown_id_is_one_line_exit_2(settled, tmp_path, trade_id, message):
    harness, _paid, _refunded = settled
    url = f"sqlite:///{tmp_path / 'index.db'}"
    index(open_index(url), harness)

    run = pvd_cli("trace", trade_id, "--db", url)

    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


def test_pvd_trace_without_an_index_says_to_run_pvd_index(tmp_path):
    run = pvd_cli("trace", "0x" + "ab" * 32, "--db", f"sqlite:///{tmp_path / 'none.db'}")

    assert run.returncode == 2
    assert "run `pvd index` first" in run.stderr
