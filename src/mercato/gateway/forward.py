"""Sending a request to a service's instances: one pooled session, retries, deadlines.

`Forwarder` owns the gateway's single long-lived `aiohttp.ClientSession` (a pooled
keep-alive `TCPConnector`, no cookie jar, no automatic decompression or default
headers, so bytes pass through as they came). `exchange()` sends one request to a
route's pool within the route's deadline:

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
reached, 504 when none answered in time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import aiohttp
from prometheus_client import CollectorRegistry, Counter
from yarl import URL

from mercato.chassis.balancing import Instance
from mercato.chassis.errors import GatewayTimeout, ProblemError, ServiceUnavailable
from mercato.gateway.routing import Route

__all__ = ["IDEMPOTENT_METHODS", "Answer", "Forwarder"]

log = logging.getLogger("mercato.gateway.forward")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_STATUSES = frozenset({502, 503})
MAX_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class Answer:
    """An upstream's complete answer: status, raw headers and the whole body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class Forwarder:
    """The upstream side of the proxy: session, instance choice, retries, deadlines."""

    def __init__(
        self,
        *,
        connect_timeout: float = 1.0,
        attempt_timeout: float = 0.0,
        pool_limit: int = 1000,
        keepalive_timeout: float = 15.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.attempt_timeout = attempt_timeout
        self.pool_limit = pool_limit
        self.keepalive_timeout = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None
        self.failures = Counter(
            "gateway_upstream_failures_total",
            "Upstream attempts that failed, by service and reason.",
            ["service", "reason"],
            registry=registry,
        )

    async def start(self) -> None:
        """Open the session and its connection pool."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self.pool_limit,
            keepalive_timeout=self.keepalive_timeout,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        )

    async def close(self) -> None:
        """Close the session and every pooled connection."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session; `start()` must have run."""
        if self._session is None:
            raise RuntimeError("the gateway's Forwarder is not started")
        return self._session

    async def exchange(
        self,
        route: Route,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        *,
        idempotent: bool,
        timeout: float,
    ) -> Answer | ProblemError:
        """Send `method target` to `route`'s pool; the answer, or a 503/504 problem."""
        session = self.session
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
                answer = await self._send(
                    session, method, instance.url + target, headers=headers, body=body, bound=bound
                )
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
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
            except aiohttp.ClientError as exc:
                self._fail(route, instance, type(exc).__name__, mark_down=False)
                timed_out = False
                if idempotent:
                    continue
                break
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

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        *,
        headers: list[tuple[str, str]],
        body: bytes | None,
        bound: float,
    ) -> Answer:
        timeout = aiohttp.ClientTimeout(total=bound, sock_connect=min(self.connect_timeout, bound))
        async with session.request(
            method,
            URL(url, encoded=True),
            headers=headers,
            data=body,
            timeout=timeout,
            allow_redirects=False,
        ) as response:
            data = await response.read()
            return Answer(response.status, response.raw_headers, data)

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
