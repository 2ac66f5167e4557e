"""A clock that moves only when the test moves it, for the circuit breakers and the balancing."""

from __future__ import annotations


class ManualClock:
    """A monotonic clock that only moves when a test moves it (`clock.now += 5`)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
