"""The gateway's upstream latency: how long each service took to answer what it forwarded.

    gateway_upstream_request_duration_seconds{upstream,status_class}
        histogram: one forwarded request, from the first attempt to the answer relayed
        (a retry on another instance included); `upstream` is the service, and
        `status_class` the answer's class (2xx, 3xx, 4xx, 5xx) or `error` when no
        instance answered (refused, broken or timed out: the gateway's own 503/504)

Beside it, from the proxy and the forwarder: `gateway_rejected_total{reason}` (requests
the gateway answered itself) and `gateway_upstream_failures_total{service,reason}`
(failed attempts, each retried or not).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["ERROR_CLASS", "UpstreamMetrics", "status_class"]

ERROR_CLASS = "error"
_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
# A service's answer on the same host or network: milliseconds, up to a route's deadline.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def status_class(status: int | None) -> str:
    """The `status_class` label of an answer's status (None: no answer)."""
    return ERROR_CLASS if status is None else _CLASSES.get(status // 100, ERROR_CLASS)


class UpstreamMetrics:
    """The upstream latency histogram of one gateway process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._duration = Histogram(
            "gateway_upstream_request_duration_seconds",
            "Time for a service to answer a forwarded request, by service and status class.",
            ["upstream", "status_class"],
            buckets=_BUCKETS,
            registry=registry,
        )
        # Looked up once per (service, status): a handful of each.
        self._children: dict[tuple[str, int | None], Any] = {}

    def observe(self, upstream: str, status: int | None, seconds: float) -> None:
        """Record one forwarded request to `upstream` answered `status` (None: no answer)."""
        key = (upstream, status)
        child = self._children.get(key)
        if child is None:
            child = self._duration.labels(upstream, status_class(status))
            self._children[key] = child
        child.observe(seconds)
