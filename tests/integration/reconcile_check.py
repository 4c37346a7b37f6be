"""The reconcile check every integration test ends with: `assert_reconciles(dep)` runs
`pvd reconcile`'s library (the independent checker: it reads both chains and no relayer
store) and fails the test with its report on any violation."""

from __future__ import annotations

from pvd.reconcile import reconciler as reconcile
from tests.integration.harness import Deployment


def reconcile_report(dep: Deployment) -> reconcile.Report:
    return reconcile.reconcile(*reconcile.views_from_system(dep.system))


def assert_reconciles(dep: Deployment) -> None:
    report = reconcile_report(dep)
    assert report.ok, "pvd reconcile failed:\n" + report.to_text()
