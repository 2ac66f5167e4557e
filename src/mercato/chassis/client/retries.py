"""The retry policy of calls between services: what is tried again, where, and when.

`ServiceClient.request` (`mercato.chassis.client.service_client`) sends a call as attempts:

- `attempt()` sends one, reads the whole answer and records the outcome in the
  circuit breaker it went through. A connection error, a timeout or a 502/503/504
  answer raises `AttemptFailed`, saying whether the target saw the request (`sent`)
  and whether it timed out; any other answer is the call's response.
- `Retries` is one call's account of its attempts. An idempotent call (a method in
  `IDEMPOTENT_METHODS`, an `Idempotency-Key`, or the caller's word) has the
  client's `retries` extra attempts, any other call one attempt. With a pool, a
  failed attempt's instance is marked down (unless it answered) and the next goes
  to an instance this call has not tried yet, without a pause; a connection that
  was never opened costs no attempt during the first round over the instances.
  Once every instance has failed, the call goes round them again after a
  full-jitter exponential backoff, as does a call to a single URL. No attempt
  starts after the deadline, nor a pause that would end past it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import aiohttp
from multidict import CIMultiDict

from mercato.chassis.client.balancing import Instance, Pool
from mercato.chassis.client.circuit import CircuitBreaker, CircuitState
from mercato.chassis.client.responses import (
    ServiceResponse,
    ServiceTimeoutError,
    ServiceUnavailableError,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "AttemptFailed",
    "Params",
    "Retries",
    "attempt",
]

log = logging.getLogger("mercato.http")  # the client's logger: these are its lines

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})

Params = Mapping[str, str | int | float] | None


class AttemptFailed(Exception):
    """One attempt failed in a way that may be retried.

    `sent` is False when no connection could be opened, so the target never saw it;
    `response` is the 502/503/504 answer, if the target gave one.
    """

    def __init__(
        self,
        reason: str,
        *,
        timed_out: bool,
        response: ServiceResponse | None,
        sent: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.response = response
        self.sent = sent

    def error(self, target: str, budget: float) -> ServiceTimeoutError | ServiceUnavailableError:
        """What the call to `target` raises when this was its last attempt."""
        if self.timed_out:
            return ServiceTimeoutError(target, budget)
        return ServiceUnavailableError(target, self.reason, response=self.response)


class Retries:
    """One call's attempts so far, and the pause before the next (None: no next)."""

    __slots__ = ("attempts", "backoff", "deadline", "failures", "first_round", "pool", "tried")

    def __init__(
        self,
        *,
        attempts: int,
        deadline: float,
        pool: Pool | None,
        backoff: Callable[[int], float],
    ) -> None:
        """`attempts` in all (before free failovers), within `deadline` (monotonic).

        `backoff(n)` is the pause before trying again after the n-th failure (from 0).
        """
        self.attempts = attempts
        self.deadline = deadline
        self.pool = pool
        self.backoff = backoff
        self.failures = 0  # attempts that failed so far
        self.tried: list[Instance] = []  # this call's failed instances, while some are left
        self.first_round = True  # no instance has been tried twice yet

    def after(self, instance: Instance | None, failure: AttemptFailed) -> float | None:
        """The pause before the attempt after `failure` at `instance`; None to give up."""
        fresh = False  # whether an instance not tried yet takes the retry
        pool = self.pool
        if pool is not None and instance is not None:
            if failure.response is None:
                pool.mark_down(instance)  # refused, broken or too slow: skip it a while
            self.tried.append(instance)
            fresh = len(self.tried) < len(pool.instances)
            if not fresh:
                self.tried.clear()  # every instance failed once: go round them again
                self.first_round = False
            elif not failure.sent and self.first_round:
                self.attempts += 1  # nothing reached the instance: another one is free
        # Failing over to another instance needs no pause; trying again does.
        delay = 0.0 if fresh else self.backoff(self.failures)
        self.failures += 1
        if self.failures >= self.attempts or time.monotonic() + delay >= self.deadline:
            return None
        return delay


async def attempt(
    session: aiohttp.ClientSession,
    breaker: CircuitBreaker,
    method: str,
    url: str,
    *,
    target: str,
    data: bytes | None,
    headers: CIMultiDict[str],
    params: Params,
    timeout: aiohttp.ClientTimeout,
) -> ServiceResponse:
    """One attempt: send, read the whole answer, record the outcome in `breaker`."""
    was_open = breaker.state is not CircuitState.CLOSED
    try:
        async with session.request(
            method,
            url,
            data=data,
            headers=headers,
            params=params,
            timeout=timeout,
            allow_redirects=False,
        ) as raw:
            body = await raw.read()
            response = ServiceResponse(raw.status, raw.headers, body, target)
    except aiohttp.ConnectionTimeoutError as exc:
        _failed(breaker, f"connect timeout: {exc}")
        raise AttemptFailed(
            "connection timed out", timed_out=False, response=None, sent=False
        ) from exc
    except TimeoutError as exc:
        _failed(breaker, "timeout")
        raise AttemptFailed("timed out", timed_out=True, response=None) from exc
    except aiohttp.InvalidURL:
        raise
    except aiohttp.ClientConnectorError as exc:
        _failed(breaker, f"{type(exc).__name__}: {exc}")
        raise AttemptFailed(
            "connection failed", timed_out=False, response=None, sent=False
        ) from exc
    except aiohttp.ClientError as exc:
        _failed(breaker, f"{type(exc).__name__}: {exc}")
        raise AttemptFailed("connection failed", timed_out=False, response=None) from exc
    if response.status >= 500:
        _failed(breaker, f"answered {response.status}")
        if response.status in RETRYABLE_STATUSES:
            reason = f"answered {response.status}"
            raise AttemptFailed(reason, timed_out=False, response=response)
    else:
        breaker.record_success()
        if was_open:
            log.info("circuit to %s closed: the trial call succeeded", breaker.name)
    return response


def _failed(breaker: CircuitBreaker, why: str) -> None:
    """Record a failure, logging when it opens the circuit."""
    target = breaker.name
    before = breaker.state
    breaker.record_failure()
    if breaker.state is CircuitState.OPEN and before is not CircuitState.OPEN:
        log.warning(
            "circuit to %s opened (%s); failing fast for %.1fs",
            target,
            why,
            breaker.reset_timeout,
        )
    else:
        log.debug("call to %s failed: %s", target, why)
