"""Schema revisions 0003 and 0004: the read API's lookups by transaction hash and by
balance, and the trades page's filters in its own order, use an index, on SQLite and on
PostgreSQL; an index at 0002 is refused with one line naming `pvd index migrate`, which
brings it to the newest revision with its data."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Engine, inspect, select, text

from pvd.index.db import alembic_config, current_revision, open_index
from pvd.index.schema import SCHEMA_REVISION, events
from pvd.index.trace import trace
from tests.pvd.index.test_index import index, pvd_cli
from tests.pvd.reconcile.test_reconciler import hex_id

NEW = {("events", "ix_events_tx", ("tx_hash",)), ("accounts", "ix_accounts_balance", ("balance",))}
PAGE = {
    ("trades", f"ix_trades_{c}_page", (c, "proposed_at", "trade_id"))
    for c in ("status", "buyer", "seller")
}  # 0004


def read_indexes(engine: Engine) -> set[tuple[str, str, tuple[str, ...]]]:
    found = inspect(engine)
    return {
        (table, i["name"], tuple(str(c) for c in i["column_names"]))
        for table in ("events", "accounts", "trades")
        for i in found.get_indexes(table)
        if i["name"]
    }


def plan(engine: Engine, sql: str, **params: Any) -> str:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables
            rows = connection.execute(text(f"EXPLAIN {sql}"), params).all()
        else:
            rows = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_a_new_index_is_at_0004_and_finds_a_tx_and_rich_wallets_by_index(db_url: str) -> None:
    engine = open_index(db_url)

    assert SCHEMA_REVISION == "0004" and current_revision(engine) == "0004"
    assert read_indexes(engine) >= NEW | PAGE
    assert "ix_events_tx" in plan(engine, "SELECT * FROM events WHERE tx_hash = :t", t="0x1")
    assert "ix_accounts_balance" in plan(
        engine, "SELECT address FROM accounts WHERE balance >= :b", b=5
    )


def test_an_index_at_0002_names_the_migrate_command_which_brings_it_to_0004(
    settled: Any, db_url: str
) -> None:
    harness, paid, _refunded = settled
    engine = open_index(db_url)
    index(engine, harness)
    with engine.connect() as connection:
        before = connection.execute(select(events).order_by(events.c.chain, events.c.block)).all()
    command.downgrade(alembic_config(engine), "0002")  # as an index built by the pvd before
    assert current_revision(engine) == "0002" and not (NEW | PAGE) & read_indexes(engine)

    refused = pvd_cli("trace", hex_id(paid.trade_id), "--db", db_url)

    assert refused.returncode == 2, refused.stderr
    line = refused.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "schema revision 0002, this pvd uses 0004" in line
    assert "run `pvd index migrate --db" in line

    migrated = pvd_cli("index", "migrate", "--db", db_url)

    assert migrated.returncode == 0, migrated.stderr
    assert "schema 0002 -> 0004" in migrated.stdout
    assert current_revision(engine) == "0004" and read_indexes(engine) >= NEW | PAGE
    with engine.connect() as connection:
        after = connection.execute(select(events).order_by(events.c.chain, events.c.block)).all()
    assert after == before  # the data came through
    assert trace(open_index(db_url), hex_id(paid.trade_id)).trade.settlement == "paid"
    again = pvd_cli("trace", hex_id(paid.trade_id), "--db", db_url)
    assert again.returncode == 0, again.stderr
