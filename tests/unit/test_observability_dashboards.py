"""The Grafana dashboards and the PromQL of the dashboards and the rules.

Every dashboard is one Grafana provisions as it is (a uid, its data source a
variable every query uses, panels on the grid); every PromQL expression of the
dashboards and the rules reads only metrics of `tests.support.metrics.METRICS` (or
series the rules record, or Prometheus's own), and is PromQL Prometheus accepts
(`promtool check rules` on a rule file made of them). The compose override provisions
these files into Grafana, with the Prometheus beside it as the data source.
That the services really expose those metrics is the e2e level's check
(`tests/e2e/test_prometheus.py`, on a running system).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import DEPLOY
from tests.support.observability import (
    OBSERVABILITY,
    dashboard_queries,
    dashboards,
    expressions,
    panels,
    recorded_names,
)
from tests.support.promql import BUILTIN, family_of, grafana_to_promql, metric_names
from tests.support.servers import require_program

BOARDS = ["mercato-checkout", "mercato-events", "mercato-overview"]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (service) (rate(requests_total{route!="/metrics"}[5m]))', {"requests_total"}),
        (
            "histogram_quantile(0.95, sum by (le, step) (rate(step_seconds_bucket[5m])))",
            {"step_seconds_bucket"},
        ),
        ("a / on (job) group_left (instance) b offset 5m > bool 3", {"a", "b"}),
        ("sum without (instance) (x) unless ignoring (le) y or vector(0)", {"x", "y"}),
        ('count(up{job=~"$service"} == 0)', {"up"}),
        ("max(min_over_time(lag[10m:1m])) and inf > nan", {"lag"}),
        ('sum(x{a="by (b) c"}) by (d)', {"x"}),
        ("mercato:slo_errors:ratio_rate1h > (14.4 * 0.005)", {"mercato:slo_errors:ratio_rate1h"}),
        ("time() - max by (task) (t)", {"t"}),
    ],
)
def test_the_scanner_finds_the_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_grafana_variables_become_values_promql_accepts() -> None:
    expr = 'rate(x{service=~"$service", job=~"${service}"}[$__rate_interval]) * $__range'
    assert grafana_to_promql(expr) == 'rate(x{service=~".*", job=~".*"}[5m]) * 1h'


def test_there_are_the_overview_the_checkout_and_the_events_dashboards() -> None:
    assert sorted(dashboards()) == BOARDS


@pytest.mark.parametrize("uid", BOARDS)
def test_every_dashboard_is_provisionable_with_any_prometheus(uid: str) -> None:
    board = dashboards()[uid]
    assert board["schemaVersion"] >= 39
    assert board["title"].startswith("Mercato / ")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE


def _unknown(expr: str) -> set[str]:
    known = recorded_names() | BUILTIN
    return {name for name in metric_names(expr) if name not in known and family_of(name) is None}


def test_every_expression_reads_only_metrics_the_services_expose() -> None:
    found = expressions()
    assert len(found) > 50
    unknown = {where: _unknown(expr) for where, expr in found if _unknown(expr)}
    assert unknown == {}


def test_every_series_the_rules_record_is_shown_or_alerted_on() -> None:
    read = set().union(*(metric_names(expr) for _, expr in expressions()))
    assert recorded_names() - read == set()


def test_every_expression_is_promql_prometheus_accepts(tmp_path: Path) -> None:
    promtool = require_program("promtool", "prometheus")
    queries = [
        (where, grafana_to_promql(expr))
        for board in dashboards().values()
        for where, expr in dashboard_queries(board)
    ]
    rules = [{"record": f"dashboard:query_{i}", "expr": q} for i, (_, q) in enumerate(queries)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def _compose_override() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.observability.yaml").read_text())
    return document


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Where each host path the service mounts appears in its container."""
    found = {}
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            found[target] = (DEPLOY / source).resolve()
    return found


def test_compose_provisions_the_dashboards_and_the_prometheus_beside_grafana() -> None:
    services = _compose_override()["services"]
    grafana, prometheus = _mounts(services["grafana"]), _mounts(services["prometheus"])
    assert prometheus["/etc/prometheus"] == OBSERVABILITY / "prometheus"
    assert "--config.file=/etc/prometheus/compose.yml" in services["prometheus"]["command"]
    provisioning = grafana["/etc/grafana/provisioning"]
    assert provisioning == OBSERVABILITY / "grafana" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "mercato.yaml").read_text())
    (provider,) = providers["providers"]
    assert grafana[provider["options"]["path"]] == OBSERVABILITY / "grafana" / "dashboards"
    sources = yaml.safe_load((provisioning / "datasources" / "mercato.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    for service in services.values():  # the host's loopback only
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])
