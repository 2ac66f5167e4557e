"""Sending a request to a service's instances: pooled connections, retries, deadlines.

`Forwarder` owns the gateway's keep-alive connections to every instance
(`upstream.UpstreamPool`; bytes pass through as they came, nothing is decompressed
or added). `exchange()` sends one request to a route's pool within the route's
deadline:

- the instance is picked round robin, skipping instances marked down;
- a connection that is refused or not opened within `connect_timeout` marks the
  instance down and is retried once on another instance, whatever the method:
  nothing was sent;
- a timeout, a broken connection or a 502/503 answer is retried once on another
  instance only for an idempotent request (GET, HEAD, OPTIONS, PUT, DELETE, or one
  carrying an Idempotency-Key): a POST without a key may have reached the backend;
- the deadline bounds the whole exchange, retry included; an attempt's own bound is
  `attempt_timeout` when set (so that a timed-out idempotent request can still be
  retried), else what is left of the deadline.

The outcome is the upstream's answer, or a problem: 503 when no instance could be
reached, 504 when none answered in time, and 400 for a request whose headers
cannot be framed (a line break in a value: nothing is sent). How long it took is
in `gateway_upstream_request_duration_seconds` (`upstream_metrics`).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from mercato.chassis.client.balancing import Instance
from mercato.chassis.web.errors import BadRequest, GatewayTimeout, ProblemError, ServiceUnavailable
from mercato.gateway.routing import Route
from mercato.gateway.upstream import Answer, ConnectFailed, ExchangeFailed, UpstreamPool
from mercato.gateway.upstream_metrics import UpstreamMetrics

__all__ = ["IDEMPOTENT_METHODS", "Forwarder"]

log = logging.getLogger("mercato.gateway.forward")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_STATUSES = frozenset({502, 503})
MAX_ATTEMPTS = 2


class Forwarder:
    """The upstream side of the proxy: connections, instance choice, retries, deadlines."""

    def __init__(
        self,
        *,
        connect_timeout: float = 1.0,
        attempt_timeout: float = 0.0,
        pool_limit: int = 1000,
        keepalive_timeout: float = 15.0,
        registry: CollectorRegistry | None = None,
        ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.ssl = ssl  # of https:// instances (`UpstreamPool`)
        self.attempt_timeout = attempt_timeout
        self.pool_limit = pool_limit
        self.keepalive_timeout = keepalive_timeout
        self._upstreams: UpstreamPool | None = None
        self.failures = Counter(
            "gateway_upstream_failures_total",
            "Upstream attempts that failed, by service and reason.",
            ["service", "reason"],
            registry=registry,
        )
        self.latency = UpstreamMetrics(registry)

    async def start(self) -> None:
        """Open the connection pool."""
        if self._upstreams is None:
            self._upstreams = UpstreamPool(
                connect_timeout=self.connect_timeout,
                keepalive_timeout=self.keepalive_timeout,
                limit=self.pool_limit,
                ssl=self.ssl,
            )

    async def close(self) -> None:
        """Close every pooled connection."""
        upstreams, self._upstreams = self._upstreams, None
        if upstreams is not None:
            await upstreams.close()

    @property
    def upstreams(self) -> UpstreamPool:
        """The connection pool; `start()` must have run."""
        if self._upstreams is None:
            raise RuntimeError("the gateway's Forwarder is not started")
        return self._upstreams

    async def exchange(
        self,
        route: Route,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        *,
        idempotent: bool,
        timeout: float,
    ) -> Answer | ProblemError:
        """Send `method target` to `route`'s pool; the answer, or a 503/504 problem."""
        started = time.perf_counter()
        outcome = await self._exchange(
            route, method, target, headers, body, idempotent=idempotent, timeout=timeout
        )
        status = outcome.status if isinstance(outcome, Answer) else None
        self.latency.observe(route.service, status, time.perf_counter() - started)
        return outcome

    async def _exchange(
        self,
        route: Route,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        *,
        idempotent: bool,
        timeout: float,
    ) -> Answer | ProblemError:
        upstreams = self.upstreams
        pool = route.pool
        deadline = time.monotonic() + timeout
        tried: list[Instance] = []
        answer: Answer | None = None
        timed_out = False
        for _ in range(MAX_ATTEMPTS):
            instance = pool.pick(tried)
            if instance is None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            tried.append(instance)
            bound = min(remaining, self.attempt_timeout) if self.attempt_timeout else remaining
            try:
                answer = await upstreams.exchange(
                    instance.url,
                    method,
                    target,
                    headers,
                    body,
                    idempotent=idempotent,
                    timeout=bound,
                )
            except ConnectFailed:
                # Nothing reached the instance: always safe to try another.
                self._fail(route, instance, "connect", mark_down=True)
                timed_out = False
                continue
            except TimeoutError:
                self._fail(route, instance, "timeout", mark_down=True)
                timed_out = True
                if idempotent:
                    continue
                break
            except ExchangeFailed:
                self._fail(route, instance, "broken", mark_down=False)
                timed_out = False
                if idempotent:
                    continue
                break
            except ValueError as exc:  # a header that cannot be framed: nothing was sent
                return BadRequest(f"The request cannot be forwarded: {exc}.")
            pool.mark_up(instance)
            if answer.status in RETRIED_STATUSES and idempotent:
                self.failures.labels(route.service, str(answer.status)).inc()
                continue
            return answer
        if answer is not None:
            return answer
        if timed_out:
            return GatewayTimeout(f"The {route.service} service did not answer in {timeout:g}s.")
        return ServiceUnavailable(
            f"The {route.service} service is unavailable.", headers={"Retry-After": "1"}
        )

    def _fail(self, route: Route, instance: Instance, reason: str, *, mark_down: bool) -> None:
        self.failures.labels(route.service, reason).inc()
        if mark_down:
            if not route.pool.is_down(instance):
                log.warning(
                    "%s instance %s failed (%s); skipping it for %.1fs",
                    route.service,
                    instance.url,
                    reason,
                    route.pool.down_seconds,
                )
            route.pool.mark_down(instance)
        else:
            log.info("%s instance %s failed (%s)", route.service, instance.url, reason)
