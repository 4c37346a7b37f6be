"""The trades page on many rows, on SQLite and PostgreSQL: keyset pages in the page's
order walk every match exactly once (ties in proposal time included), a trade-id prefix
is an index range, the total is counted only up to a cap, and every statement a page
runs is an index scan with no sort and no whole-table count (EXPLAIN)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from sqlalchemy import Engine, event, text

from pvd.index import query
from pvd.index.query import TradeRow, trades_page
from pvd.index.schema import trades

ROWS = 20_000
STATUSES = ("proposed", "accepted", "funded", "delivered", "expired")


@pytest.fixture
def many(engine: Engine) -> list[TradeRow]:
    """ROWS synthetic trades written straight into `trades`: 40 parties, three trades per
    proposal time (ties the cursor must break by id)."""
    rng = random.Random(11)
    parties = [to_checksum_address(f"0x{rng.getrandbits(160):040x}") for _ in range(40)]
    rows = []
    for i in range(ROWS):
        at = 1_700_000_000 + (i // 3) * 5
        rows.append(
            {
                "trade_id": f"0x{rng.getrandbits(256):064x}",
                "buyer": parties[i % 40], "seller": parties[(i * 7 + 3) % 40],
                "price": 100 + i, "deadline": at + 86_400, "hold_expiry": at + 90_000,
                "status": STATUSES[i % len(STATUSES)], "settlement": "none", "hold_id": None,
                "proposed_block": i, "proposed_at": at, "updated_at": at,
            }
        )  # fmt: skip
    with engine.begin() as connection:
        connection.execute(trades.insert(), rows)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE trades"))
    return sorted(
        (TradeRow(**r) for r in rows), key=lambda r: (r.proposed_at, r.trade_id), reverse=True
    )


def walk(engine: Engine, limit: int, **filters: Any) -> list[TradeRow]:
    found: list[TradeRow] = []
    cursor = None
    while True:
        page = trades_page(engine, limit=limit, cursor=cursor, **filters)
        found += page.rows
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def test_cursor_pages_walk_every_match_once_in_order(engine: Engine, many: list[TradeRow]):
    party = many[0].buyer
    status = "funded"

    assert walk(engine, 500) == many
    assert walk(engine, 500, status=status) == [r for r in many if r.status == status]
    mine = [r for r in many if party in (r.buyer, r.seller)]
    assert walk(engine, 97, party=party.lower()) == mine
    assert walk(engine, 50, party=party, status=status) == [r for r in mine if r.status == status]
    assert walk(engine, 50, search=party) == mine


@pytest.mark.parametrize("prefix", ["0x", "0x7", "0xa", "0xf", "0x3f", "0xff", "0x0c1"])
def test_a_trade_id_prefix_finds_exactly_the_ids_that_start_with_it(
    engine: Engine, many: list[TradeRow], prefix: str
):
    expected = [r for r in many if r.trade_id.startswith(prefix)]

    assert walk(engine, 500, search=prefix.upper().replace("0X", "0x")) == expected
    exact = many[1234].trade_id
    assert [r.trade_id for r in trades_page(engine, search=exact).rows] == [exact]


def test_the_total_is_counted_up_to_a_cap(
    engine: Engine, many: list[TradeRow], monkeypatch: pytest.MonkeyPatch
):
    party = many[0].buyer
    mine = [r for r in many if party in (r.buyer, r.seller)]
    assert trades_page(engine, party=party).total == len(mine)
    assert not trades_page(engine, party=party).total_capped
    assert trades_page(engine, status="funded").total == ROWS // len(STATUSES)

    monkeypatch.setattr(query, "TOTAL_CAP", 100)
    capped = trades_page(engine, party=party)

    assert capped.total == 100 and capped.total_capped
    assert capped.rows == tuple(mine[:50])


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def plans(engine: Engine, seen: list[tuple[str, Any]]) -> list[str]:
    explain = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    found = []
    with engine.connect() as connection:
        for statement, parameters in list(seen):
            rows = connection.exec_driver_sql(explain + statement, parameters).all()
            found.append("\n".join(str(r[-1]) for r in rows))
    return found


def test_every_page_statement_is_an_index_scan_without_sort_or_table_count(
    engine: Engine, many: list[TradeRow], statements: list[tuple[str, Any]]
):
    deep = trades_page(engine, limit=500)
    deep = trades_page(engine, limit=500, cursor=deep.next_cursor)
    party = many[0].seller
    calls = [
        dict(cursor=deep.next_cursor),
        dict(status="delivered", cursor=deep.next_cursor),
        dict(party=party, cursor=deep.next_cursor),
        dict(search="0xab"),
    ]
    statements.clear()
    for call in calls:
        trades_page(engine, limit=50, **call)

    ran = list(statements)
    found = plans(engine, ran)

    assert len(found) == 9  # per page: its rows (one scan per side, two for a party), a total
    joined = "\n---\n".join(found)
    postgres = engine.dialect.name == "postgresql"
    for (statement, _), plan in zip(ran, found, strict=True):
        if "count(*)" in statement:  # the total: counted up to the cap, never the table
            assert statement.count("LIMIT") == statement.count("FROM trades") >= 1, statement
            continue
        prefix_search = "trades.trade_id >=" in statement
        if postgres:
            assert "Seq Scan" not in plan, joined
            assert prefix_search or "Sort" not in plan, joined
        else:
            assert plan.startswith("SEARCH trades USING INDEX"), joined
            # a prefix's matches are an index range, sorted (the longer the prefix, the fewer)
            assert prefix_search or "TEMP B-TREE" not in plan, joined
    used = " ".join(found)
    names = ["ix_trades_proposed", "ix_trades_buyer_page", "ix_trades_seller_page"]
    names += ["trades_pkey"] if postgres else ["ix_trades_status_page", "sqlite_autoindex_trades"]
    for name in names:
        assert name in used, joined
