"""Prometheus metrics: request count and latency by route and status, and `/metrics`.

`HttpMetrics` holds the process's registry (`runtime.metrics.registry`): every other
metric of the process (events, saga, pools, clients, tasks) is registered in it too,
with the process and Python collectors (CPU, memory, file descriptors, garbage
collections, the interpreter's version), so `/metrics` answers for the whole process.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["UNMATCHED", "HttpMetrics", "metrics_endpoint"]

UNMATCHED = "unmatched"  # the route label of a path no route serves (one label for them all)

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """The HTTP metrics of one service process, in its own registry."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        if registry is None:
            registry = CollectorRegistry(auto_describe=True)
            # The same collectors as prometheus_client's default registry, in this one.
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        self.registry = registry
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests handled, by route template and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status.",
            ["service", "method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

        # labels() hashes and locks on every call; the set of (method, route, status)
        # is small, so the children are looked up once and kept.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (self.service, method, route, str(status))
            children = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


async def metrics_endpoint(request: Request) -> Response:
    """`GET /metrics` for the app whose `state.metrics` is an HttpMetrics."""
    metrics: HttpMetrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
