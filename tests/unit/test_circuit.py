"""The circuit breaker's states, driven by recorded outcomes and a manual clock."""

from __future__ import annotations

import pytest

from mercato.chassis.client.circuit import CircuitBreaker, CircuitOpenError, CircuitState
from tests.support.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


def breaker(clock: ManualClock, threshold: int = 3, reset: float = 5.0) -> CircuitBreaker:
    return CircuitBreaker("catalog", failure_threshold=threshold, reset_timeout=reset, clock=clock)


def state(b: CircuitBreaker) -> CircuitState:
    """The breaker's state now.

    Read through a call: mypy keeps what `assert b.state is X` narrowed the property to
    across the calls that change it, and would call the next state impossible.
    """
    return b.state


def test_starts_closed_and_allows(clock: ManualClock) -> None:
    b = breaker(clock)
    assert state(b) is CircuitState.CLOSED
    assert all(b.allow() for _ in range(10))
    assert b.retry_after == 0.0


def test_opens_after_threshold_consecutive_failures(clock: ManualClock) -> None:
    b = breaker(clock, threshold=3)
    b.record_failure()
    b.record_failure()
    assert state(b) is CircuitState.CLOSED
    assert b.failures == 2
    b.record_failure()
    assert state(b) is CircuitState.OPEN
    assert not b.allow()
    assert b.retry_after == pytest.approx(5.0)


def test_success_resets_the_failure_count(clock: ManualClock) -> None:
    b = breaker(clock, threshold=3)
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert state(b) is CircuitState.CLOSED


def test_stays_open_until_reset_timeout(clock: ManualClock) -> None:
    b = breaker(clock, threshold=1, reset=5.0)
    b.record_failure()
    clock.advance(4.9)
    assert state(b) is CircuitState.OPEN
    assert not b.allow()
    assert b.retry_after == pytest.approx(0.1)
    clock.advance(0.1)
    assert state(b) is CircuitState.HALF_OPEN


def test_half_open_lets_one_trial_through(clock: ManualClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.advance(5.0)
    assert b.allow()
    assert not b.allow()
    assert not b.allow()


def test_successful_trial_closes(clock: ManualClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.advance(5.0)
    assert b.allow()
    b.record_success()
    assert state(b) is CircuitState.CLOSED
    assert b.allow()
    assert b.allow()


def test_failed_trial_reopens_for_a_full_timeout(clock: ManualClock) -> None:
    b = breaker(clock, threshold=2)
    b.record_failure()
    b.record_failure()
    clock.advance(5.0)
    assert b.allow()
    b.record_failure()
    assert state(b) is CircuitState.OPEN
    clock.advance(4.0)
    assert not b.allow()
    clock.advance(1.0)
    assert state(b) is CircuitState.HALF_OPEN
    assert b.allow()


def test_a_trial_that_never_reports_does_not_wedge_the_breaker(clock: ManualClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.advance(5.0)
    assert b.allow()  # the trial's caller is cancelled and records nothing
    clock.advance(4.0)
    assert not b.allow()
    clock.advance(1.0)
    assert b.allow()


def test_state_does_not_consume_the_trial(clock: ManualClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.advance(5.0)
    assert state(b) is CircuitState.HALF_OPEN
    assert state(b) is CircuitState.HALF_OPEN
    assert b.allow()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError, match="reset_timeout"):
        CircuitBreaker("x", reset_timeout=-1)


def test_circuit_open_error_names_the_target() -> None:
    error = CircuitOpenError("payments", retry_after=2.5)
    assert error.target == "payments"
    assert error.retry_after == 2.5
    assert "payments" in str(error)
