"""Fixtures of the index tests: a deployment with a paid and a refunded trade on two
embedded chains, and index databases on SQLite and on a real PostgreSQL cluster."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pvd.chain.connection import embedded_chain
from pvd.deploy.compiler import compile_contracts
from pvd.deploy.system import deploy_system
from pvd.index.db import open_index
from tests.pvd.index.postgres import fresh_database, postgres_cluster
from tests.pvd.reconcile.test_reconciler import Pvd, config

_names = itertools.count()


@pytest.fixture(scope="session")
def artifacts() -> Any:
    return compile_contracts()


@pytest.fixture(scope="session")
def settled(artifacts: Any) -> tuple[Pvd, Any, Any]:
    """One trade paid by delivery and one refunded by expiry, all relayed (read only)."""
    system = deploy_system(
        embedded_chain("payment", 1), embedded_chain("business", 2), config(), artifacts=artifacts
    )
    harness = Pvd(system)
    return harness, harness.paid_trade(), harness.refunded_trade()


@pytest.fixture
def pvd(artifacts: Any) -> Pvd:
    """A fresh deployment, the buyer funded, no trade yet."""
    return Pvd(
        deploy_system(
            embedded_chain("payment", 1),
            embedded_chain("business", 2),
            config(),
            artifacts=artifacts,
        )
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    with fresh_database(cluster, f"index_{next(_names)}") as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_index(db_url)
    yield engine
    engine.dispose()
