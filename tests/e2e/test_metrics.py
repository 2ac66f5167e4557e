"""End to end: after a checkout, every process of the running system shows its metrics.

Each process's `/metrics` (the services on their own ports, the gateway on its
operator port) is scraped: every metric of `tests.support.metrics.METRICS` its kind of
process exposes is there, the checkout shows in the values it moved (the saga's
steps and end, the calls to catalog and payments, the events published and consumed,
the gateway's upstream latency), the consumers' lag has been sampled, and no label
holds an id.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest

from mercato.chassis.runtime import ServiceSpec
from mercato.launcher.topology import Instance, Layout
from tests.e2e.client import Account, Shop, System, confirmed_checkout, eventually
from tests.e2e.system import REPLICAS
from tests.support.metrics import NAMES, expected_names, families, value

pytestmark = pytest.mark.e2e


def spec_of(instance: Instance) -> ServiceSpec[Any, Any]:
    spec: ServiceSpec[Any, Any] = importlib.import_module(
        f"mercato.{instance.service.name}.app"
    ).SPEC
    return spec


def metrics_url(instance: Instance) -> str:
    """Where an instance serves `/metrics`: the gateway's operator port, a service's own."""
    port = Layout.operator_port(instance) if instance.service.is_gateway else instance.port
    return f"http://127.0.0.1:{port}/metrics"


def scrape(instances: list[Instance]) -> dict[str, str]:
    """Every instance's exposition, by instance name."""
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        answers = {i.name: http.get(metrics_url(i)) for i in instances}
    assert all(a.status_code == 200 for a in answers.values()), answers
    return {name: answer.text for name, answer in answers.items()}


def at_least(text: str, name: str, labels: dict[str, str], minimum: float = 1.0) -> bool:
    found = value(text, name, labels)
    return found is not None and found >= minimum


def moved_by_the_checkout(texts: dict[str, str]) -> bool:
    """Whether what the checkout set going (events, samples) has reached every process."""
    orders, logs, users = texts["orders-1"], texts["logs-1"], texts["users-1"]
    return (
        at_least(orders, "outbox_published_total", {"event_type": "order.confirmed"})
        and at_least(logs, "events_handled_total", {"event_type": "order.confirmed"})
        and value(logs, "events_consumer_lag_events", {"consumer": "logs"}) is not None
        and value(users, "events_consumer_lag_events", {"consumer": "users"}) is not None
    )


def test_every_process_shows_its_metrics_after_a_checkout(
    system: System, shop: Shop, customer: Account
) -> None:
    order = confirmed_checkout(shop, customer)
    instances = Layout(port=system.port, replicas=REPLICAS).all_instances()

    def settled() -> dict[str, str] | None:
        texts = scrape(instances)
        return texts if moved_by_the_checkout(texts) else None

    eventually(settled, timeout=30, interval=0.5)
    texts = scrape(instances)  # again: the scrapes before are counted under `/metrics`

    for instance in instances:
        text = texts[instance.name]
        missing = expected_names(spec_of(instance)) - families(text)
        assert not missing, f"{instance.name} lacks {sorted(missing)}"
        assert at_least(text, "http_requests_total", {"route": "/metrics", "status": "200"})
        assert (value(text, "process_resident_memory_bytes") or 0) > 0
        assert order["id"] not in text and customer.id not in text  # no id in a label
    assert set().union(*(families(text) for text in texts.values())) >= NAMES

    gateway, orders = texts["gateway-1"], texts["orders-1"]
    for service in ("auth", "users", "catalog", "orders", "payments", "logs"):
        ready = {"route": "/health/ready", "status": "200"}
        assert at_least(texts[f"{service}-1"], "http_requests_total", ready), service
    assert at_least(gateway, "http_requests_total", {"route": "/api/orders/*", "status": "201"})
    upstream = {"upstream": "orders", "status_class": "2xx"}
    assert at_least(gateway, "gateway_upstream_request_duration_seconds_count", upstream)
    assert at_least(orders, "orders_terminal_total", {"status": "confirmed"})
    for step in ("reserve", "charge", "commit"):
        assert at_least(orders, "orders_saga_steps_total", {"step": step, "outcome": "ok"}), step
    for target in ("catalog", "payments"):
        assert at_least(orders, "client_request_duration_seconds_count", {"target": target})
        assert value(orders, "client_circuit_state", {"target": target}) == 0
    assert (value(orders, "db_pool_size") or 0) > 0
    sweeper = {"task": "saga-sweeper"}
    assert at_least(orders, "background_task_last_success_timestamp_seconds", sweeper)
    assert value(orders, "orders_overdue") is not None
    assert value(orders, "outbox_oldest_event_age_seconds") is not None
