"""End to end: `mercato up --observe` runs a Prometheus that scrapes every process.

The e2e system runs with `--observe` when the machine has Prometheus (without it
this test skips, and fails under MERCATO_REQUIRE_SERVERS=1): the launcher printed its
URL; the Prometheus on P+290 finds every instance of the system under its service's
job and instance name, each one up; and it evaluates Mercato's rules (the system
runs from this checkout). That the launcher stops it with the rest is the fixture's
clean exit 0.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mercato.launcher.topology import PROMETHEUS_OFFSET, Layout
from tests.e2e.client import System, eventually
from tests.e2e.system import REPLICAS
from tests.support.observability import rule_groups
from tests.support.prometheus import PrometheusApi
from tests.support.servers import require_program

pytestmark = pytest.mark.e2e


def test_observe_runs_a_prometheus_scraping_every_process_with_the_rules(system: System) -> None:
    if not system.observed:
        require_program("prometheus", "prometheus")
    url = f"http://127.0.0.1:{system.port + PROMETHEUS_OFFSET}"
    # The gateway answers (the fixture's sign of a started system) before Prometheus,
    # which starts last, is ready and the launcher has printed where everything is.
    # The names are padded to the longest one's width, so any run of spaces.
    line = re.compile(rf"prometheus +{re.escape(url)} +\(targets {re.escape(url)}/targets, ")
    eventually(lambda: line.search(system.log()) or None, timeout=60, interval=0.5)
    expected = {
        (instance.service.name, instance.name)
        for instance in Layout(port=system.port, replicas=REPLICAS).all_instances()
    }
    api = PrometheusApi(url)

    def every_target_up() -> list[dict[str, Any]] | None:
        targets = api.targets()
        healthy = all(target["health"] == "up" for target in targets)
        return targets if healthy and len(targets) == len(expected) else None

    try:
        targets = eventually(every_target_up, timeout=60, interval=1.0)
        groups = {group["name"]: group for group in api.rule_groups()}
    finally:
        api.close()
    assert {(t["labels"]["job"], t["labels"]["instance"]) for t in targets} == expected
    assert sorted(groups) == sorted(group["name"] for group in rule_groups())
    for group in rule_groups():
        loaded = [rule["name"] for rule in groups[group["name"]]["rules"]]
        assert loaded == [rule.get("alert") or rule["record"] for rule in group["rules"]]
