"""The saga's own Prometheus metrics, in the orders app's registry (served on `/metrics`).

- `orders_needs_attention`: orders that wait for an operator now (the sweeper counts
  them on every pass). Alert on it: `orders_needs_attention > 0` for a few minutes
  means an order the saga gave up on (its reason is in the order's history).
- `orders_saga_stalled_total{status}`: orders the saga left for an operator, by the
  state they stalled in.
- `orders_saga_retries_total`: failed saga steps postponed to try again later.
- `orders_saga_steps_total{step,outcome}` and `orders_saga_step_duration_seconds{step}`:
  each step the saga runs (`STEPS`), by how it ended (`ok`; `retry`: a dependency down
  or slow, tried again later; `failed`: refused for good or an unexpected error;
  `lost_lease`: another worker took the order over), and how long it took.
- `orders_terminal_total{status}`: orders whose checkout ended, by the state it ended
  in (`ENDS`: confirmed, or a terminal state; an order confirmed and then cancelled
  counts in both).
- `orders_overdue`: orders in an active state past their deadline (the sweeper counts
  them on every pass); the sweeper stalls them as it reaches them, so a value that
  stays above 0 means the sweeper is not keeping up, or not running.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mercato.orders.states import TERMINAL, Status

__all__ = ["ENDS", "OUTCOMES", "STEPS", "SagaMetrics", "saga_metrics"]

# The steps of the saga, named after what each does (`saga.Saga._steps`).
STEPS = ("start_reserving", "reserve", "start_charging", "charge", "commit", "compensate")
OUTCOMES = ("ok", "retry", "failed", "lost_lease")
# Where a checkout ends: confirmed, or a state the order never leaves.
ENDS = frozenset({Status.CONFIRMED, *TERMINAL})
# A step is a transaction or two and perhaps a call to another service (seconds at worst).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_REGISTERED: WeakKeyDictionary[CollectorRegistry, SagaMetrics] = WeakKeyDictionary()


def saga_metrics(registry: CollectorRegistry) -> SagaMetrics:
    """The saga's metrics in `registry`, registered there on first use only.

    An app started twice (tests do) builds its context twice; a metric registered
    twice in one registry is an error.
    """
    metrics = _REGISTERED.get(registry)
    if metrics is None:
        metrics = _REGISTERED[registry] = SagaMetrics(registry)
    return metrics


class SagaMetrics:
    """The saga's metrics in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.needs_attention = Gauge(
            "orders_needs_attention",
            "Orders waiting for an operator (the saga stopped driving them).",
            registry=self.registry,
        )
        self.stalled = Counter(
            "orders_saga_stalled_total",
            "Orders the saga left for an operator, by the state they stalled in.",
            ["status"],
            registry=self.registry,
        )
        self.retries = Counter(
            "orders_saga_retries_total",
            "Failed saga steps postponed to be tried again.",
            registry=self.registry,
        )
        steps = Counter(
            "orders_saga_steps_total",
            "Saga steps run, by step and how they ended (ok, retry, failed, lost_lease).",
            ["step", "outcome"],
            registry=self.registry,
        )
        durations = Histogram(
            "orders_saga_step_duration_seconds",
            "Time a saga step took, whatever its outcome.",
            ["step"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        terminal = Counter(
            "orders_terminal_total",
            "Orders whose checkout ended, by the state it ended in.",
            ["status"],
            registry=self.registry,
        )
        self.overdue = Gauge(
            "orders_overdue",
            "Orders in an active state past their deadline (counted by the sweeper).",
            registry=self.registry,
        )
        # Every series from 0, looked up once: the steps, outcomes and ends are few.
        self._steps: dict[tuple[str, str], tuple[Any, Any]] = {
            (step, outcome): (steps.labels(step, outcome), durations.labels(step))
            for step in STEPS
            for outcome in OUTCOMES
        }
        self._terminal = {status: terminal.labels(status.value) for status in ENDS}

    def step(self, name: str, outcome: str, seconds: float) -> None:
        """Record a step of the saga (`name` as in `STEPS`, `outcome` in `OUTCOMES`)."""
        count, duration = self._steps[name, outcome]
        count.inc()
        duration.observe(seconds)

    def ended(self, status: Status) -> None:
        """Count an order whose checkout ended in `status`, if it is one of `ENDS`."""
        child = self._terminal.get(status)
        if child is not None:
            child.inc()
