"""The inter-service HTTP client: one pooled aiohttp session per process.

`ServiceClient` is what a service (and the gateway) uses to call another service:

- one long-lived `aiohttp.ClientSession` with a bounded keep-alive connection pool,
  opened by `start()` and closed by `close()` (never a session per request);
- a deadline per call: `timeout` bounds the whole call, retries included, so a
  caller answers 503/504 within its configured timeout; `connect_timeout` bounds
  opening a connection, and `attempt_timeout` (optional, per client or per call)
  bounds one attempt so that a slow answer can be retried within the deadline, on
  another instance when there are several: a replica that hangs costs one attempt,
  not the whole call;
- retries with full-jitter exponential backoff, for idempotent calls only (GET,
  HEAD, OPTIONS, PUT, DELETE, a call carrying an `Idempotency-Key`, or one the caller
  marks `idempotent=True`), on connection errors, timeouts and 502/503/504 answers;
  a POST or PATCH without a key is sent exactly once (the policy, and one attempt,
  are `mercato.chassis.client.retries`);
- a circuit breaker per target service: connection errors, timeouts and 5xx answers
  are failures, any other answer a success; an open circuit fails at once;
- several instances of a target: given a `Pool` (`mercato.chassis.client.balancing`), a
  call goes to an instance picked round robin, skipping those marked down, and each
  instance has a circuit breaker of its own, so one dead replica neither opens the
  circuit of the healthy ones nor costs a failed call: a connection that could not
  be opened fails over to another instance at once (whatever the method: nothing
  was sent), and a retry of an idempotent call goes to another instance too;
- the request id and traceparent of the current request, and a service token whose
  audience is the target (from `token_provider`), on every call;
- HTTPS to `https://` targets with the given `ssl` context (`chassis.security.tls`): under
  mutual TLS it verifies the targets against the services' CA and presents this
  process's certificate; without one, aiohttp's default (the system's trust store).

Failures are problem errors (defined, with `ServiceResponse`, in
`mercato.chassis.client.responses`), so a route that lets them propagate answers
a clear problem+json:

    ServiceUnavailable (503)
    ├── ServiceUnavailableError   connection failed, circuit open, or 502/503/504
    GatewayTimeout (504)
    ├── ServiceTimeoutError       no answer before the deadline
    ProblemError
    └── ServiceResponseError (502) `ServiceResponse.raise_for_status()` on an error

Any other answer, 4xx and 500 included, is returned as a `ServiceResponse`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson
from multidict import CIMultiDict

from mercato.chassis.client.balancing import Instance, Pool
from mercato.chassis.client.circuit import CircuitBreaker, CircuitOpenError, CircuitState
from mercato.chassis.client.responses import (
    ServiceResponse,
    ServiceResponseError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from mercato.chassis.client.retries import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    AttemptFailed,
    Params,
    Retries,
    attempt,
)
from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.client_metrics import ClientMetrics, timed_call

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "ServiceClient",
    "ServiceResponse",
    "ServiceResponseError",
    "ServiceTimeoutError",
    "ServiceUnavailableError",
    "TokenProvider",
]

log = logging.getLogger("mercato.http")

IDEMPOTENCY_KEY = "Idempotency-Key"

TokenProvider = Callable[[str], Awaitable[str]]


class ServiceClient:
    """Pooled HTTP client for calls between services, with retries and circuit breakers."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 1.0,
        retries: int = 2,
        backoff_base: float = 0.05,
        backoff_max: float = 1.0,
        failure_threshold: int = 5,
        reset_timeout: float = 5.0,
        token_provider: TokenProvider | None = None,
        attempt_timeout: float | None = None,
        pool_limit: int = 100,
        keepalive_timeout: float = 30.0,
        breaker_clock: Callable[[], float] = time.monotonic,
        ssl: ssl.SSLContext | None = None,
        metrics: ClientMetrics | None = None,
    ) -> None:
        """Configure the client; no connection is opened before `start()`.

        `timeout` is the default deadline of a call, retries included;
        `attempt_timeout` (default: the deadline) bounds one attempt; `retries` is the
        number of extra attempts of an idempotent call; the backoff before retry n
        (from 0) is uniform in [0, min(backoff_max, backoff_base * 2**n)]; each target's
        breaker opens after `failure_threshold` consecutive failures for
        `reset_timeout` seconds; `token_provider(target)` gives the bearer token of a
        call; `pool_limit` caps open connections and `keepalive_timeout` is how long an
        idle one is kept; `breaker_clock` is the breakers' clock (tests inject one;
        it may also be set on the client before its first call); `ssl` is the context
        of `https://` calls (None: aiohttp's default verification); `metrics` times its
        calls and shows its circuits.
        """
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if attempt_timeout is not None and attempt_timeout <= 0:
            raise ValueError("attempt_timeout must be positive")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.attempt_timeout = attempt_timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.token_provider = token_provider
        self.pool_limit = pool_limit
        self.keepalive_timeout = keepalive_timeout
        self.breaker_clock = breaker_clock
        self.ssl = ssl
        self._breakers: dict[str, CircuitBreaker] = {}
        self._session: aiohttp.ClientSession | None = None
        self._random = random.Random()
        self.metrics = metrics
        if metrics is not None:
            metrics.watch(lambda: self.circuits)

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Open the process's session and connection pool (idempotent)."""
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=self.pool_limit,
            keepalive_timeout=self.keepalive_timeout,
            ttl_dns_cache=300,
            ssl=self.ssl if self.ssl is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )

    async def close(self) -> None:
        """Close the session and its pooled connections."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The underlying session (e.g. for streaming); `start()` must have run."""
        if self._session is None or self._session.closed:
            raise RuntimeError("ServiceClient is not started: await client.start() first")
        return self._session

    def breaker(self, target: str, instance: str | None = None) -> CircuitBreaker:
        """The circuit breaker of `target` (or of its `instance` URL), created on first use.

        An instance's breaker is named `<target>@<instance url>`.
        """
        name = target if instance is None else f"{target}@{instance}"
        found = self._breakers.get(name)
        if found is None:
            found = CircuitBreaker(
                name,
                failure_threshold=self.failure_threshold,
                reset_timeout=self.reset_timeout,
                clock=self.breaker_clock,
                on_open=self.metrics.opener(target) if self.metrics is not None else None,
            )
            self._breakers[name] = found
        return found

    @property
    def circuits(self) -> Mapping[str, CircuitState]:
        """The state of every target's (or instance's) circuit, for health pages and debugging."""
        return {name: breaker.state for name, breaker in self._breakers.items()}

    # -- calls -----------------------------------------------------------------

    @timed_call
    async def request(
        self,
        method: str,
        url: str,
        *,
        target: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Params = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        auth: bool = True,
        idempotent: bool | None = None,
        pool: Pool | None = None,
        attempt_timeout: float | None = None,
    ) -> ServiceResponse:
        """Call `target` and return its complete answer.

        `timeout` (default: the client's) is the deadline for the whole call, retries
        included; it starts before the service token is obtained. `attempt_timeout`
        (default: the client's) bounds each attempt within it. `idempotent`
        overrides the method-based rule when the caller knows better (e.g. a token
        request that is safe to repeat). With `pool` (the target's instances), `url`
        is a path that each attempt appends to the base URL of the instance it picks.
        """
        session = self.session
        method = method.upper()
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        if attempt_timeout is not None and attempt_timeout <= 0:
            raise ValueError("attempt_timeout must be positive")
        per_attempt = attempt_timeout or self.attempt_timeout
        breakers = self._breakers_of(target, pool)
        if all(b.state is CircuitState.OPEN for b in breakers):
            raise self._circuit_open(target, breakers)
        sent, data = await self._outgoing(
            target, json=json, headers=headers, idempotency_key=idempotency_key, auth=auth
        )
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or IDEMPOTENCY_KEY in sent
        retries = Retries(
            attempts=1 + (self.retries if idempotent else 0),
            deadline=deadline,
            pool=pool,
            backoff=self._backoff,
        )
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceTimeoutError(target, budget)
            chosen = self._choose(target, pool, retries.tried)
            if chosen is None:
                raise self._circuit_open(target, breakers)
            instance, breaker = chosen
            bound = min(remaining, per_attempt or remaining)
            try:
                response = await attempt(
                    session,
                    breaker,
                    method,
                    url if instance is None else instance.url + url,
                    target=target,
                    data=data,
                    headers=sent,
                    params=params,
                    timeout=aiohttp.ClientTimeout(total=bound, sock_connect=self.connect_timeout),
                )
            except AttemptFailed as failure:
                delay = retries.after(instance, failure)
                if delay is None:
                    raise failure.error(target, budget) from failure.__cause__
                log.debug(
                    "retrying %s %s (%s) in %.3fs: attempt %d of %d",
                    method,
                    url,
                    failure.reason,
                    delay,
                    retries.failures + 1,
                    retries.attempts,
                )
                await asyncio.sleep(delay)
            else:
                if pool is not None and instance is not None:
                    pool.mark_up(instance)
                return response

    def _breakers_of(self, target: str, pool: Pool | None) -> list[CircuitBreaker]:
        """The breakers a call to `target` may go through: the target's, or its instances'."""
        if pool is None:
            return [self.breaker(target)]
        return [self.breaker(target, i.url) for i in pool.instances]

    async def _outgoing(
        self,
        target: str,
        *,
        json: Any,
        headers: Mapping[str, str] | None,
        idempotency_key: str | None,
        auth: bool,
    ) -> tuple[CIMultiDict[str], bytes | None]:
        """A call's headers and body: the request's context, the caller's, a token, JSON."""
        sent = CIMultiDict(trace_context.outgoing_headers())
        if headers:
            sent.update(headers)
        if idempotency_key is not None:
            sent[IDEMPOTENCY_KEY] = idempotency_key
        if auth and self.token_provider is not None and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {await self.token_provider(target)}"
        data: bytes | None = None
        if json is not None:
            data = orjson.dumps(json)
            sent.setdefault("Content-Type", "application/json")
        return sent, data

    def _choose(
        self, target: str, pool: Pool | None, tried: list[Instance]
    ) -> tuple[Instance | None, CircuitBreaker] | None:
        """Where the next attempt goes: an instance (None: `url` as given) and its breaker.

        With a pool: round robin over the instances this call has not tried yet, else
        over all of them, skipping those whose circuit is open. `allow()` claims a
        half-open circuit's single trial, so it is asked only of the instance chosen.
        None when every circuit is open.
        """
        if pool is None:
            breaker = self.breaker(target)
            return (None, breaker) if breaker.allow() else None
        for exclude in (tried, []) if tried else ([],):
            skipped = list(exclude)
            while (instance := pool.pick(skipped)) is not None:
                breaker = self.breaker(target, instance.url)
                if breaker.allow():
                    return instance, breaker
                skipped.append(instance)
        return None

    def _circuit_open(self, target: str, breakers: list[CircuitBreaker]) -> ServiceUnavailableError:
        """The error for a call refused by open circuits (chained to CircuitOpenError).

        Its Retry-After is when the first of `breakers` lets a trial through.
        """
        retry_after = min(breaker.retry_after for breaker in breakers)
        error = ServiceUnavailableError(target, "circuit open", retry_after=retry_after)
        error.__cause__ = CircuitOpenError(target, retry_after)
        return error

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**attempt)]."""
        return self._random.uniform(0.0, min(self.backoff_max, self.backoff_base * 2**attempt))

    # -- conveniences -----------------------------------------------------------

    async def get(self, url: str, *, target: str, **kwargs: Any) -> ServiceResponse:
        """`request("GET", ...)`."""
        return await self.request("GET", url, target=target, **kwargs)

    async def post(self, url: str, *, target: str, **kwargs: Any) -> ServiceResponse:
        """`request("POST", ...)`: sent once unless it carries an idempotency key."""
        return await self.request("POST", url, target=target, **kwargs)

    async def put(self, url: str, *, target: str, **kwargs: Any) -> ServiceResponse:
        """`request("PUT", ...)`."""
        return await self.request("PUT", url, target=target, **kwargs)

    async def patch(self, url: str, *, target: str, **kwargs: Any) -> ServiceResponse:
        """`request("PATCH", ...)`: sent once unless it carries an idempotency key."""
        return await self.request("PATCH", url, target=target, **kwargs)

    async def delete(self, url: str, *, target: str, **kwargs: Any) -> ServiceResponse:
        """`request("DELETE", ...)`."""
        return await self.request("DELETE", url, target=target, **kwargs)
