"""The operator dashboards in dashboards/: the Prometheus rules pass promtool (syntax and
their own unit tests), and every metric the rules and the Grafana dashboard name is one the
relayer exports (pvd/relayer/metrics.py), so a renamed metric cannot silently blind them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from pvd.paths import PROJECT_ROOT
from pvd.relayer.metrics import RelayerMetrics

DASHBOARDS = PROJECT_ROOT / "dashboards"
RULES = DASHBOARDS / "prometheus" / "relayer-rules.yml"
RULES_TESTS = DASHBOARDS / "prometheus" / "relayer-rules.test.yml"
GRAFANA = DASHBOARDS / "grafana" / "relayer.json"
#: Series Prometheus makes itself for every scrape target.
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "and", "or", "unless", "rate",
    "increase", "deriv", "delta", "histogram_quantile", "le", "absent", "bool", "on",
    "label_values", "ignoring", "group_left", "group_right", "offset", "e", "inf", "nan",
}  # fmt: skip
IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `make explorer-deps` installs Debian's prometheus")
    return path


def exported_series() -> set[str]:
    """Every series name a scrape of a relayer can show."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    families: list[Metric] = list(RelayerMetrics().registry.collect())
    return {
        family.name + suffix for family in families for suffix in suffixes.get(family.type, ("",))
    }


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(GRAFANA.read_text())
    return loaded


def dashboard_expressions() -> list[str]:
    exprs = [t["expr"] for panel in dashboard()["panels"] for t in panel["targets"]]
    # label_values(SERIES, LABEL): the series names a metric, the label does not
    exprs += [
        re.sub(r",\s*\w+\)$", ")", v["definition"])
        for v in dashboard()["templating"]["list"]
        if "definition" in v
    ]
    return exprs


def metrics_named(expr: str) -> set[str]:
    """The metric names in a PromQL expression: what is left once quoted strings, label
    matchers `{...}`, ranges `[...]`, grouping `by (...)` and PromQL's own words go."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    return {name for name in IDENTIFIER.findall(bare) if name not in PROMQL_WORDS}


def test_the_rules_are_valid_for_promtool() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_each_alert_fires_when_its_condition_holds_and_not_before() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(RULES_TESTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_test_case() -> None:
    document = yaml.safe_load(RULES.read_text())
    alerts = {rule["alert"] for group in document["groups"] for rule in group["rules"]}
    tests = yaml.safe_load(RULES_TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert alerts == tested


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_named_is_exported_by_the_relayer(source: str) -> None:
    exprs = rule_expressions() if source == "rules" else dashboard_expressions()
    named = set().union(*(metrics_named(expr) for expr in exprs))
    assert named, "no metric found: the selector pattern is broken"
    unknown = named - exported_series() - PROMETHEUS_OWN
    assert not unknown, f"{source} name metrics the relayer does not export: {sorted(unknown)}"


def test_the_metric_check_catches_a_misspelt_metric() -> None:
    named = metrics_named('sum(pvd_relay_backlog_mesages{job="pvd-relay"})')
    assert named - exported_series() == {"pvd_relay_backlog_mesages"}


def test_every_exported_relayer_metric_is_on_the_dashboard() -> None:
    named = set().union(*(metrics_named(expr) for expr in dashboard_expressions()))
    families = {family.name for family in RelayerMetrics().registry.collect()}
    shown = {family for family in families if any(n.startswith(family) for n in named)}
    assert shown == families


def test_the_dashboard_panels_have_unique_ids_and_fit_the_grid() -> None:
    panels = dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]


def test_a_payout_near_its_hold_expiry_has_an_alert() -> None:
    # the relayer's metrics for an undelivered Delivered outcome whose hold expires soon
    expiry_metrics = {name for name in exported_series() if "expir" in name}
    assert "pvd_relay_payouts_near_expiry" in expiry_metrics
    alerted = set().union(*(metrics_named(expr) for expr in rule_expressions()))
    assert "pvd_relay_payouts_near_expiry" in alerted
