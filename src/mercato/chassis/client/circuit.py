"""A circuit breaker: stop calling a target that keeps failing, then probe it again.

The breaker is pure logic over a clock, so it is tested with a fake one. The states:

    closed     calls go through; consecutive failures are counted, and reaching
               `failure_threshold` opens the circuit (a success resets the count)
    open       calls are refused at once, without touching the network, until
               `reset_timeout` seconds have passed
    half-open  ONE trial call is let through; its success closes the circuit,
               its failure opens it again for another `reset_timeout`

A trial whose outcome is never recorded (its caller was cancelled) does not wedge
the breaker: after `reset_timeout` another trial is allowed. `on_open` is called each
time a closed circuit opens (its metrics count it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["CircuitBreaker", "CircuitOpenError", "CircuitState"]


class CircuitState(StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitOpenError(Exception):
    """A call was refused because the circuit to `target` is open."""

    def __init__(self, target: str, retry_after: float = 0.0) -> None:
        super().__init__(f"the circuit to {target} is open")
        self.target = target
        self.retry_after = retry_after


class CircuitBreaker:
    """Closed/open/half-open breaker for one target, driven by recorded outcomes."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._on_open = on_open
        self._open = False
        self._failures = 0
        self._opened_at = 0.0
        self._trial_started: float | None = None

    @property
    def state(self) -> CircuitState:
        """The current state; an open circuit whose timeout has passed is half-open."""
        if not self._open:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.reset_timeout:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    @property
    def failures(self) -> int:
        """Consecutive failures recorded while closed."""
        return self._failures

    @property
    def retry_after(self) -> float:
        """Seconds until the next trial may be let through (0 when calls may go now)."""
        if not self._open:
            return 0.0
        now = self._clock()
        since = self._trial_started if self._trial_started is not None else self._opened_at
        return max(0.0, since + self.reset_timeout - now)

    def allow(self) -> bool:
        """Whether a call may go now; in half-open this claims the single trial slot."""
        if not self._open:
            return True
        now = self._clock()
        if now - self._opened_at < self.reset_timeout:
            return False
        if self._trial_started is not None and now - self._trial_started < self.reset_timeout:
            return False
        self._trial_started = now
        return True

    def record_success(self) -> None:
        """The target answered: close the circuit and forget past failures."""
        self._open = False
        self._failures = 0
        self._trial_started = None

    def record_failure(self) -> None:
        """The target failed: count it, and open (or re-open) the circuit when due."""
        now = self._clock()
        if self._open:
            # A failed trial (or a late failure of a call let through before opening)
            # keeps the circuit open for another full timeout.
            self._opened_at = now
            self._trial_started = None
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open = True
            self._opened_at = now
            self._trial_started = None
            if self._on_open is not None:
                self._on_open()

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state.value}, failures={self._failures})"
