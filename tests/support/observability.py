"""The files of `deploy/observability` (and its Kubernetes component) read as data.

- `rule_groups()`, `alerts()`, `recorded_names()`: the rule file's groups, its alerting
  rules by name, the names its recording rules define;
- `rule_tests()`: the `promtool test rules` file's test cases;
- `dashboards()`: the Grafana dashboards by uid; `dashboard_queries(board)` every
  PromQL query in one (its panels' targets, and its variables' `label_values(...)`);
- `expressions()`: every PromQL expression of the rules and the dashboards, each with
  where it is, Grafana's variables replaced;
- `with_short_for(groups, duration)`: the rule groups with every alert's `for` set to
  `duration`, for a Prometheus that must show an alert within seconds;
- `prometheus_rule()`: the Kubernetes PrometheusRule holding the rule groups, as
  `deploy/k8s/components/monitoring/prometheusrule.yaml` must; after a change to the
  rules, `.venv/bin/python -m tests.support.observability` writes that file again.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.support.promql import grafana_to_promql

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
PROMETHEUS = OBSERVABILITY / "prometheus"
RULES = PROMETHEUS / "rules" / "mercato.rules.yml"
RULE_TESTS = PROMETHEUS / "tests" / "mercato.rules.test.yml"
DASHBOARDS = OBSERVABILITY / "grafana" / "dashboards"
MONITORING = ROOT / "deploy" / "k8s" / "components" / "monitoring"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
RUNBOOKS = ROOT / "docs" / "observability.md"
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")


def _yaml(path: Path) -> Any:
    with path.open() as stream:
        return yaml.safe_load(stream)


@cache
def _rule_file() -> dict[str, Any]:
    document: dict[str, Any] = _yaml(RULES)
    return document


def rule_groups() -> list[dict[str, Any]]:
    """The groups of the rule file (a fresh copy each time)."""
    groups: list[dict[str, Any]] = copy.deepcopy(_rule_file()["groups"])
    return groups


def alerts() -> dict[str, dict[str, Any]]:
    """Every alerting rule, by its alert's name."""
    return {rule["alert"]: rule for g in rule_groups() for rule in g["rules"] if "alert" in rule}


def recorded_names() -> set[str]:
    """The series the recording rules define."""
    return {rule["record"] for g in rule_groups() for rule in g["rules"] if "record" in rule}


def rule_tests() -> list[dict[str, Any]]:
    """The test cases of the `promtool test rules` file."""
    tests: list[dict[str, Any]] = _yaml(RULE_TESTS)["tests"]
    return tests


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard, by its uid."""
    boards = (json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json")))
    return {board["uid"]: board for board in boards}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel of a dashboard, those inside rows included."""
    found: list[dict[str, Any]] = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL as written) for every query of a dashboard."""
    found = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            found.append((f"{board['uid']}: {panel['title']} {target['refId']}", target["expr"]))
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"]
        match = _LABEL_VALUES.match(query)
        assert match is not None, f"{board['uid']} ${variable['name']}: {query}"
        if match.group(1):  # label_values(series, label): the series is PromQL
            found.append((f"{board['uid']}: ${variable['name']}", match.group(1)))
    return found


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every expression of the rules and of the dashboards."""
    found = []
    for group in rule_groups():
        for rule in group["rules"]:
            found.append((f"rule {rule.get('alert') or rule['record']}", rule["expr"]))
    for board in dashboards().values():
        found += [(where, grafana_to_promql(expr)) for where, expr in dashboard_queries(board)]
    return found


def with_short_for(groups: list[dict[str, Any]], duration: str) -> list[dict[str, Any]]:
    """`groups` with every alert's `for` (there is one) set to `duration`."""
    shortened = copy.deepcopy(groups)
    for group in shortened:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = duration
    return shortened


class _Literal(str):
    """A string written as a YAML literal block (`|`)."""


class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing `_Literal` strings as literal blocks."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


_Dumper.add_representer(_Literal, _literal)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _blocks(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blocks(item) for item in value]
    if isinstance(value, str) and "\n" in value:
        return _Literal(value)
    return value


def prometheus_rule() -> dict[str, Any]:
    """The PrometheusRule (the Prometheus Operator's kind) holding every rule group."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "mercato",
            "labels": {
                "app.kubernetes.io/name": "mercato-rules",
                "app.kubernetes.io/component": "monitoring",
            },
        },
        "spec": {"groups": rule_groups()},
    }


HEADER = """\
# Mercato's recording and alerting rules for the Prometheus Operator: the groups of
# deploy/observability/prometheus/rules/mercato.rules.yml, where they are documented
# and tested (a unit test keeps the two equal). Written by
# `.venv/bin/python -m tests.support.observability`: change the rule file, then run it.
"""


def write_prometheus_rule() -> None:
    """Write `deploy/k8s/components/monitoring/prometheusrule.yaml` from the rule file."""
    text = yaml.dump(
        _blocks(prometheus_rule()), Dumper=_Dumper, sort_keys=False, width=88, allow_unicode=True
    )
    PROMETHEUS_RULE.write_text(HEADER + text)


if __name__ == "__main__":
    write_prometheus_rule()
