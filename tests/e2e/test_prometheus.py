"""End to end: a real Prometheus scrapes the running system and its alerts work on it.

On the NATS system (the broker does not matter to the metrics, and the lag test
reconfigures the embedded NATS):

- every metric the rules and dashboards read is one the running processes expose
  (scraped from each process's `/metrics`, families without samples yet included);
- a Prometheus (the machine's; without it these skip, and fail under
  MERCATO_REQUIRE_SERVERS=1) with the launcher's scrape configuration for the
  system's ports, scraping and evaluating every second, with the real rules whose
  `for` is shortened to seconds, scrapes every process; after a checkout it answers
  PromQL for the request rate and the checkout rate; it accepts every query of the
  dashboards;
- when the NATS refuses the logs consumer its messages while events are published,
  the consumer's lag grows in the logs process's metrics and the lag alert goes
  pending or firing; once the consumer is given its messages again, it catches up.

No timing is asserted: every wait is a generous bound on something that happens.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from mercato.launcher.observe import scrape_config
from mercato.launcher.topology import Instance, Layout
from tests.e2e.brokers import refused_pulls
from tests.e2e.client import Account, Shop, System, confirmed_checkout, eventually
from tests.e2e.system import REPLICAS
from tests.support.metrics import families
from tests.support.observability import (
    alerts,
    expressions,
    recorded_names,
    rule_groups,
    with_short_for,
)
from tests.support.prometheus import PrometheusApi, running_prometheus
from tests.support.promql import BUILTIN, family_of, metric_names

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["nats"], indirect=True)]

LAG_ALERT = "MercatoConsumerLagging"


def _instances(system: System) -> list[Instance]:
    return Layout(port=system.port, replicas=REPLICAS).all_instances()


def _metrics_url(instance: Instance) -> str:
    port = Layout.operator_port(instance) if instance.service.is_gateway else instance.port
    return f"http://127.0.0.1:{port}/metrics"


def test_every_metric_the_rules_and_dashboards_read_is_exposed(system: System) -> None:
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        texts = [http.get(_metrics_url(instance)).text for instance in _instances(system)]
    exposed = set().union(*(families(text) for text in texts))
    read = set().union(*(metric_names(expr) for _, expr in expressions()))
    metrics = {name: family_of(name) for name in read - recorded_names() - BUILTIN}

    assert sorted(name for name, metric in metrics.items() if metric is None) == []
    assert {metric.name for metric in metrics.values() if metric is not None} - exposed == set()


@pytest.fixture(scope="module")
def prometheus(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusApi]:
    """A Prometheus scraping the system every second, with the rules' `for` cut to 2 s."""
    directory = tmp_path_factory.mktemp("prometheus")
    rules = directory / "mercato.rules.yml"
    rules.write_text(yaml.safe_dump({"groups": with_short_for(rule_groups(), "2s")}))
    config = directory / "prometheus.yml"
    layout = Layout(port=system.port, replicas=REPLICAS)
    config.write_text(scrape_config(layout, rule_files=[str(rules)], interval="1s"))
    with running_prometheus(config, directory) as api:
        yield api


def _every_target_up(api: PrometheusApi, system: System) -> None:
    expected = {i.name for i in _instances(system)}

    def up() -> set[str] | None:
        targets = api.targets()
        ok = {t["labels"]["instance"] for t in targets if t["health"] == "up"}
        return ok if ok == expected and len(targets) == len(expected) else None

    eventually(up, timeout=30, interval=0.5)


def _positive(api: PrometheusApi, expr: str) -> float | None:
    found = api.value(expr)
    return found if found is not None and found > 0 else None


def test_prometheus_scrapes_every_process_and_sees_requests_and_checkouts(
    prometheus: PrometheusApi, system: System, shop: Shop, customer: Account
) -> None:
    _every_target_up(prometheus, system)

    confirmed_checkout(shop, customer)

    requests = 'sum(rate(http_requests_total{service="gateway", route=~"/api/.+"}[30s]))'

    def requests_seen() -> float | None:
        # A series a request creates starts at its first count, which rate() cannot see:
        # go on asking between scrapes.
        shop.http.get("/api/catalog/products", params={"limit": 1})
        return _positive(prometheus, requests)

    assert eventually(requests_seen, timeout=30, interval=0.5)
    checkouts = 'sum(increase(orders_terminal_total{status="confirmed"}[1m]))'
    assert eventually(lambda: _positive(prometheus, checkouts), timeout=30, interval=0.5)
    assert prometheus.value('count(up{job="catalog"} == 1)') == REPLICAS["catalog"]


def test_prometheus_accepts_every_query_of_the_dashboards(prometheus: PrometheusApi) -> None:
    queries = [expr for where, expr in expressions() if not where.startswith("rule ")]
    assert queries
    for expr in queries:
        prometheus.query(expr)  # asserts a "success": it parsed and evaluated


def _lag_alert(api: PrometheusApi, consumer: str) -> dict[str, Any] | None:
    for alert in api.alerts():
        labels = alert["labels"]
        if labels["alertname"] == LAG_ALERT and labels.get("consumer") == consumer:
            return alert
    return None


def _threshold() -> int:
    """The lag the alert fires above, read from its expression."""
    (number,) = re.findall(r">\s*(\d+)\s*$", alerts()[LAG_ALERT]["expr"].strip())
    return int(number)


PROBES = 25  # products whose price each round changes: two events each


def _publish_events(shop: Shop, admin: Account, run: str, round_: int) -> None:
    """Events from one import: PROBES products created, or each one's price changed.

    The same few products every round, so the catalog's listings stay the demo's.
    """
    products = [
        {"title": f"Lag probe {run} {i}", "category": "lag-probes", "price": 1 + round_ / 100,
         "stock": 3, "sku": f"LAG-{run}-{i}"}
        for i in range(PROBES)
    ]  # fmt: skip
    answer = shop.http.post(
        "/api/catalog/products/import", json={"products": products}, headers=admin.headers
    )
    assert answer.status_code == 200, answer.text


def test_a_consumer_given_no_messages_raises_the_lag_alert(
    prometheus: PrometheusApi, system: System, shop: Shop, admin: Account
) -> None:
    _every_target_up(prometheus, system)
    lag = 'max(events_consumer_lag_events{consumer="logs"})'
    assert eventually(lambda: prometheus.value(lag) is not None, timeout=30, interval=0.5)
    assert _lag_alert(prometheus, "logs") is None

    run, rounds = uuid.uuid4().hex[:8], iter(range(1000))
    with refused_pulls(system, "logs"):
        # The pulls the consumer had made before go on being served (a batch each):
        # publish until what waits is past the alert's threshold.
        def grown() -> float | None:
            found = prometheus.value(lag)
            if found is not None and found > _threshold():
                return found
            _publish_events(shop, admin, run, next(rounds))
            return None

        eventually(grown, timeout=90, interval=3.0)

        def raised() -> dict[str, Any] | None:
            alert = _lag_alert(prometheus, "logs")
            return alert if alert is not None and alert["state"] in ("pending", "firing") else None

        alert = eventually(raised, timeout=60, interval=0.5)
        assert alert["labels"]["service"] == "logs"
        assert float(alert["value"]) > _threshold()
        assert alert["annotations"]["runbook"] == "docs/observability.md#mercatoconsumerlagging"

    # Given its messages again, the consumer works its lag off.
    eventually(lambda: prometheus.value(lag) == 0, timeout=90, interval=1.0)
    eventually(lambda: _lag_alert(prometheus, "logs") is None, timeout=30, interval=0.5)
