"""The saga's own Prometheus metrics, in the orders app's registry (served on `/metrics`).

- `orders_needs_attention`: orders that wait for an operator now (the sweeper counts
  them on every pass). Alert on it: `orders_needs_attention > 0` for a few minutes
  means an order the saga gave up on (its reason is in the order's history).
- `orders_saga_stalled_total{status}`: orders the saga left for an operator, by the
  state they stalled in.
- `orders_saga_retries_total`: failed saga steps postponed to try again later.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["SagaMetrics", "saga_metrics"]

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
