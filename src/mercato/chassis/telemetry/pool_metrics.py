"""Prometheus metrics of a process's database connection pool (`chassis.data.database`).

    db_pool_connections_in_use{service}   gauge: connections checked out now
    db_pool_size{service}                 gauge: the most the pool holds at once
    db_pool_wait_seconds{service}         histogram: time to get a connection (a free
                                          one when all are in use, or a new one opened)

The two gauges are read from the pool when scraped; each checkout observes its wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

__all__ = ["PoolMetrics", "PoolUsage"]

PoolUsage = Callable[[], tuple[int, int]]  # (connections in use, the pool's size)
# A checkout from a warm pool takes microseconds; a full pool makes requests queue.
_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
_IN_USE = ("db_pool_connections_in_use", "Database connections checked out of the pool now.")
_SIZE = ("db_pool_size", "The most database connections the pool holds at once.")


class PoolMetrics:
    """The connection pool metrics of one service process."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.registry = registry
        self._wait = Histogram(
            "db_pool_wait_seconds",
            "Time to get a database connection from the pool.",
            ["service"],
            buckets=_BUCKETS,
            registry=registry,
        ).labels(service)
        self.waited: Callable[[float], None] = self._wait.observe  # what the pool calls

    def watch(self, usage: PoolUsage) -> None:
        """Show the pool `usage()` describes."""
        self.registry.register(_PoolGauges(self.service, usage))


class _PoolGauges:
    """A collector of the pool's use, read when scraped."""

    def __init__(self, service: str, usage: PoolUsage) -> None:
        self.service = service
        self.usage = usage

    def describe(self) -> Iterator[Metric]:
        for name, help_text in (_IN_USE, _SIZE):
            yield GaugeMetricFamily(name, help_text, labels=["service"])

    def collect(self) -> Iterator[Metric]:
        for (name, help_text), value in zip((_IN_USE, _SIZE), self.usage(), strict=True):
            family = GaugeMetricFamily(name, help_text, labels=["service"])
            family.add_metric([self.service], value)
            yield family
