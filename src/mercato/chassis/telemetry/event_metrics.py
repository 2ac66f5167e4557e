"""Prometheus metrics of the event bus: the outbox and its relay, the durable consumer.

`OutboxMetrics` (a service with an outbox):

    outbox_backlog_events{service}                 gauge: rows not published yet
    outbox_oldest_event_age_seconds{service}       gauge: age of the oldest of them (0: none)
    outbox_published_total{service,event_type}     counter: events the relay published
    outbox_publish_failures_total{service}         counter: batches the broker did not take

`ConsumerMetrics` (a service with event handlers):

    events_consumer_lag_events{service,consumer}   gauge: events not yet delivered to it
    events_handled_total{service,event_type,outcome}
                                                   counter: deliveries by how they ended
    events_handler_duration_seconds{service,event_type}
                                                   histogram: time in the handler's transaction
    events_redeliveries_total{service,event_type}  counter: deliveries after the first
    events_dead_letters_total{service,event_type}  counter: events sent to the dead letters

`BrokerMetrics` (a process with a broker):

    events_broker_up{service}                      gauge: 1 if the broker answered the
                                                   process's last check, else 0

The two gauges of the backlog and the lag are sampled (`chassis.events.sampling`); the
rest is counted where it happens. An event type no contract names is counted as
`other`, so a label never takes a value a publisher made up. The label children of a
type are looked up once and kept, as `HttpMetrics` does: the types are few.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mercato.contracts.events import PRODUCERS

__all__ = [
    "OTHER_TYPE",
    "BrokerMetrics",
    "ConsumerMetrics",
    "OutboxMetrics",
    "Outcome",
    "type_label",
]

OTHER_TYPE = "other"
# Handlers write a row or two and commit: milliseconds, up to the seconds of a lock wait.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Outcome(StrEnum):
    """How the delivery of an event to a durable consumer ended."""

    HANDLED = "handled"  # the handler ran and committed
    DUPLICATE = "duplicate"  # the inbox had it already: no second effect
    RETRIED = "retried"  # the handler failed; it comes again later
    DEAD_LETTERED = "dead_lettered"  # invalid, refused for good, or out of attempts
    FORGED = "forged"  # not from its type's owner (dead-lettered unhandled)


def type_label(event_type: str) -> str:
    """The `event_type` label of a type: itself if a contract names it, else `other`."""
    return event_type if event_type in PRODUCERS else OTHER_TYPE


class OutboxMetrics:
    """The outbox and relay metrics of one service process."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self._backlog = Gauge(
            "outbox_backlog_events",
            "Events in the outbox not yet published (sampled; counted up to 10,000).",
            ["service"],
            registry=registry,
        ).labels(service)
        self._oldest = Gauge(
            "outbox_oldest_event_age_seconds",
            "Age of the oldest event not yet published; 0 when none waits (sampled).",
            ["service"],
            registry=registry,
        ).labels(service)
        self._published = Counter(
            "outbox_published_total",
            "Events the outbox relay published, by type.",
            ["service", "event_type"],
            registry=registry,
        )
        self._failures = Counter(
            "outbox_publish_failures_total",
            "Batches of outbox events the broker did not take (kept and retried).",
            ["service"],
            registry=registry,
        ).labels(service)
        self._by_type: dict[str, Any] = {}

    def backlog(self, rows: int, oldest_age: float) -> None:
        """Record a sample of the unpublished rows: how many, and the oldest one's age."""
        self._backlog.set(rows)
        self._oldest.set(oldest_age if rows else 0.0)

    def published(self, event_types: Iterable[str]) -> None:
        """Count events the broker acknowledged."""
        for event_type in event_types:
            child = self._by_type.get(event_type)
            if child is None:
                child = self._published.labels(self.service, type_label(event_type))
                self._by_type[event_type] = child
            child.inc()

    def publish_failed(self) -> None:
        """Count a batch the broker did not take."""
        self._failures.inc()


class _TypeChildren:
    """The label children of one event type, looked up once."""

    __slots__ = ("dead_letters", "duration", "outcomes", "redeliveries")

    def __init__(self, metrics: ConsumerMetrics, label: str) -> None:
        service = metrics.service
        self.outcomes = {o: metrics.handled_total.labels(service, label, o.value) for o in Outcome}
        self.duration = metrics.duration.labels(service, label)
        self.redeliveries = metrics.redeliveries.labels(service, label)
        self.dead_letters = metrics.dead_letters.labels(service, label)


class ConsumerMetrics:
    """The durable consumer metrics of one service process."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.lag_events = Gauge(
            "events_consumer_lag_events",
            "Events not yet delivered to a durable consumer (JetStream pending, "
            "RabbitMQ ready messages; sampled).",
            ["service", "consumer"],
            registry=registry,
        )
        self.handled_total = Counter(
            "events_handled_total",
            "Deliveries of events to the consumer, by type and how they ended.",
            ["service", "event_type", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "events_handler_duration_seconds",
            "Time to handle an event (inbox check, handler, commit), whatever the outcome.",
            ["service", "event_type"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.redeliveries = Counter(
            "events_redeliveries_total",
            "Deliveries of an event after its first (a retry, or one never acknowledged).",
            ["service", "event_type"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "events_dead_letters_total",
            "Events the consumer sent to the dead letters, by type.",
            ["service", "event_type"],
            registry=registry,
        )
        self._types: dict[str, _TypeChildren] = {}

    def _of(self, event_type: str) -> _TypeChildren:
        children = self._types.get(event_type)
        if children is None:
            children = self._types[event_type] = _TypeChildren(self, type_label(event_type))
        return children

    def lag(self, consumer: str, pending: int | None) -> None:
        """Record a sample of the events waiting for `consumer` (None: unknown, no sample)."""
        if pending is not None:
            self.lag_events.labels(self.service, consumer).set(pending)
        else:  # a stale figure would look like a consumer keeping up; none shows the gap
            with contextlib.suppress(KeyError):
                self.lag_events.remove(self.service, consumer)

    def handled(
        self, event_type: str, outcome: Outcome | None, seconds: float | None = None
    ) -> None:
        """Count a delivery that ended with `outcome` (a dead letter counts as one too);
        record the handler's time when given. None: the delivery counts how it ended.
        """
        children = self._of(event_type)
        if outcome is not None:
            children.outcomes[outcome].inc()
            if outcome in (Outcome.DEAD_LETTERED, Outcome.FORGED):
                children.dead_letters.inc()
        if seconds is not None:
            children.duration.observe(seconds)

    def redelivered(self, event_type: str) -> None:
        """Count a delivery after the event's first."""
        self._of(event_type).redeliveries.inc()


class BrokerMetrics:
    """Whether the broker answers this process (`chassis.events.broker_watch` checks)."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self._up = Gauge(
            "events_broker_up",
            "1 if the broker answered the process's last check (every few seconds), else 0.",
            ["service"],
            registry=registry,
        ).labels(service)

    def answered(self, up: bool) -> None:
        """Record the outcome of a check."""
        self._up.set(1 if up else 0)
