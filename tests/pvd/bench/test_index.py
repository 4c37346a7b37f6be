"""The index bench's synthetic trades: the same seeded rows, every one written through
each store's bulk path (SQLite executemany, PostgreSQL COPY) with the table's indexes,
and the page figures read on them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from pvd.bench.index import SYNTHETIC_COLUMNS, synthetic, synthetic_batches
from pvd.index.db import open_index
from pvd.index.schema import trades
from tests.pvd.index.postgres import fresh_database, postgres_cluster

ROWS = 2_345  # more than the 1,000 parties, not a whole number of chunks
_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    with postgres_cluster() as cluster, fresh_database(cluster, f"synth_{next(_names)}") as url:
        yield url


def test_synthetic_rows_are_the_same_each_run_and_cover_every_status_and_party() -> None:
    first = [row for batch in synthetic_batches(ROWS) for row in batch]
    again = [row for batch in synthetic_batches(ROWS) for row in batch]
    assert first == again
    assert len(first) == ROWS and len({row[0] for row in first}) == ROWS
    named = [dict(zip(SYNTHETIC_COLUMNS, row, strict=True)) for row in first]
    assert {r["status"] for r in named} == {
        "proposed", "accepted", "funded", "shipped", "delivered", "expired", "cancelled"
    }  # fmt: skip
    assert len({r["buyer"] for r in named}) == 1_000
    assert [r["proposed_at"] for r in named] == sorted(r["proposed_at"] for r in named)


def test_synthetic_writes_every_row_and_reads_the_pages(db_url: str) -> None:
    figures = synthetic(db_url, ROWS)

    engine = open_index(db_url, create=False)
    with engine.connect() as connection:
        stored = connection.execute(select(*(trades.c[name] for name in SYNTHETIC_COLUMNS))).all()
    engine.dispose()
    expected = [row for batch in synthetic_batches(ROWS) for row in batch]
    assert sorted(tuple(row) for row in stored) == sorted(expected)
    assert figures["rows"] == ROWS and figures["rows_capped"] is False
    assert figures["write_seconds"] >= 0
    for page in ("first_page", "by_status", "by_party", "by_id_prefix", "deep_page"):
        assert figures[page] is None or figures[page]["runs"] > 0, page
