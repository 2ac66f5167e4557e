"""The metrics Mercato's processes expose, in one list, and reading what a process shows.

`METRICS` names every metric the alerts, the dashboards and the tests rely on: its
type, its labels and which processes expose it (`Scope`). `expected_names(spec)` is
what a process of a service built from `spec` must show on `/metrics`;
`families(text)` the metric names an exposition holds and `value(text, name, labels)`
one sample's value from it; `sample(registry, name, labels)` the same from a
process's registry in-process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from mercato.chassis.runtime import ServiceSpec


class Scope(StrEnum):
    """Which processes expose a metric."""

    EVERY = "every process"
    DATABASE = "a service with a database"
    OUTBOX = "a service with an outbox"
    CONSUMER = "a service with event handlers"
    BROKER = "a process with a broker"
    ORDERS = "the orders service"
    GATEWAY = "the gateway"


@dataclass(frozen=True)
class Metric:
    """One metric: its name as exposed, its type, its labels, who exposes it."""

    name: str
    kind: str  # counter, gauge or histogram
    labels: tuple[str, ...]
    scope: Scope


def _m(name: str, kind: str, labels: str, scope: Scope) -> Metric:
    return Metric(name, kind, tuple(labels.split()), scope)


E, DB, OUT, CON, BUS = Scope.EVERY, Scope.DATABASE, Scope.OUTBOX, Scope.CONSUMER, Scope.BROKER
ORD, GW = Scope.ORDERS, Scope.GATEWAY
METRICS: tuple[Metric, ...] = (
    _m("http_requests_total", "counter", "service method route status", E),
    _m("http_request_duration_seconds", "histogram", "service method route status", E),
    _m("client_request_duration_seconds", "histogram", "service target", E),
    _m("client_circuit_state", "gauge", "service target", E),
    _m("client_circuit_opened_total", "counter", "service target", E),
    _m("background_task_failures_total", "counter", "service task", E),
    _m("background_task_last_success_timestamp_seconds", "gauge", "service task", E),
    _m("process_cpu_seconds_total", "counter", "", E),
    _m("process_resident_memory_bytes", "gauge", "", E),
    _m("process_virtual_memory_bytes", "gauge", "", E),
    _m("process_start_time_seconds", "gauge", "", E),
    _m("process_open_fds", "gauge", "", E),
    _m("process_max_fds", "gauge", "", E),
    _m("python_info", "gauge", "implementation major minor patchlevel version", E),
    _m("python_gc_objects_collected_total", "counter", "generation", E),
    _m("python_gc_objects_uncollectable_total", "counter", "generation", E),
    _m("python_gc_collections_total", "counter", "generation", E),
    _m("db_pool_connections_in_use", "gauge", "service", DB),
    _m("db_pool_size", "gauge", "service", DB),
    _m("db_pool_wait_seconds", "histogram", "service", DB),
    _m("outbox_backlog_events", "gauge", "service", OUT),
    _m("outbox_oldest_event_age_seconds", "gauge", "service", OUT),
    _m("outbox_published_total", "counter", "service event_type", OUT),
    _m("outbox_publish_failures_total", "counter", "service", OUT),
    _m("events_consumer_lag_events", "gauge", "service consumer", CON),
    _m("events_handled_total", "counter", "service event_type outcome", CON),
    _m("events_handler_duration_seconds", "histogram", "service event_type", CON),
    _m("events_redeliveries_total", "counter", "service event_type", CON),
    _m("events_dead_letters_total", "counter", "service event_type", CON),
    _m("events_broker_up", "gauge", "service", BUS),
    _m("orders_needs_attention", "gauge", "", ORD),
    _m("orders_overdue", "gauge", "", ORD),
    _m("orders_saga_stalled_total", "counter", "status", ORD),
    _m("orders_saga_retries_total", "counter", "", ORD),
    _m("orders_saga_steps_total", "counter", "step outcome", ORD),
    _m("orders_saga_step_duration_seconds", "histogram", "step", ORD),
    _m("orders_terminal_total", "counter", "status", ORD),
    _m("orders_returns_needs_attention", "gauge", "", ORD),
    _m("orders_returns_ended_total", "counter", "outcome", ORD),
    _m("orders_returns_retries_total", "counter", "", ORD),
    _m("gateway_rejected_total", "counter", "reason", GW),
    _m("gateway_upstream_failures_total", "counter", "service reason", GW),
    _m("gateway_upstream_request_duration_seconds", "histogram", "upstream status_class", GW),
)
NAMES = frozenset(metric.name for metric in METRICS)


def scopes_of(spec: ServiceSpec[Any, Any]) -> set[Scope]:
    """The scopes a process of the service `spec` declares belongs to (with a broker)."""
    scopes = {Scope.EVERY}
    if spec.uses_bus:
        scopes.add(Scope.BROKER)
    if spec.uses_database:
        scopes.add(Scope.DATABASE)
        if spec.event_tables is not None:
            scopes.add(Scope.OUTBOX)
            if spec.handlers and spec.uses_bus:
                scopes.add(Scope.CONSUMER)
    if spec.name in ("orders", "gateway"):
        scopes.add(Scope.ORDERS if spec.name == "orders" else Scope.GATEWAY)
    return scopes


def expected_names(spec: ServiceSpec[Any, Any]) -> set[str]:
    """The metric names a process of the service `spec` exposes (with a broker)."""
    scopes = scopes_of(spec)
    return {metric.name for metric in METRICS if metric.scope in scopes}


def families(text: str) -> set[str]:
    """The metric names an exposition declares (`# HELP`), with or without samples."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}


def value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """The value of the sample `name` whose labels include `labels`; None if none has them.

    `name` is the sample's own name (a histogram's `_count`, a counter's `_total`).
    """
    wanted = dict(labels or {})
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and wanted.items() <= found.labels.items():
                return float(found.value)
    return None


def sample(
    registry: CollectorRegistry, name: str, labels: Mapping[str, str] | None = None
) -> float:
    """The value of the sample `name` with exactly `labels` in `registry` (0 when absent)."""
    return float(registry.get_sample_value(name, dict(labels or {})) or 0.0)
