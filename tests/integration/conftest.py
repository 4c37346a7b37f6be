"""Fixtures of the integration tests (two anvil chains, `pvd relay` subprocesses).

- `deployment`: two fresh anvil processes (payment, business) with pvd deployed and
  wired (2-of-3 attesters), the admin holding the token's pauser role, the buyer funded;
  both anvils are always stopped, whatever the test did.
- `attesters`: three attesters, each with its own attestation key, gas key, store,
  lock directory, signature port and metrics port, listing the other two as peers.
- `relays`: starts, stops and SIGKILLs `pvd relay` subprocesses; every one is reaped at
  teardown; a failed test shows the tail of each relayer's log.

A fresh pair of chains per test costs about half a second and keeps tests independent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import (
    Attester,
    Deployment,
    Relays,
    anvil_pair,
    deploy,
    make_attesters,
)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with anvil_pair() as (payment, business):
        yield deploy(payment, business, tmp_path / "deployments")


@pytest.fixture
def attesters(deployment: Deployment, tmp_path: Path) -> tuple[Attester, ...]:
    return make_attesters(deployment, tmp_path)


@pytest.fixture
def relays(
    request: pytest.FixtureRequest, deployment: Deployment, tmp_path: Path
) -> Iterator[Relays]:
    # depends on `deployment`: relayers are always stopped before the chains
    pool = Relays(tmp_path)
    try:
        yield pool
    finally:
        pool.close()
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            for relay in pool.started:
                print(f"--- {relay.log_path.name} (pid {relay.pid}) ---")
                print(relay.log_path.read_text(errors="replace")[-4000:])
