"""The shared retry policy: an ordinary failure is bounded, a dependency's outage is not.

`next_retry` is what both transports ask after a handler raised; the integration test
`test_events_database_outage` runs it on the real brokers with a real database cut.
"""

from __future__ import annotations

from mercato.chassis.events import DependencyUnavailable, Event
from mercato.chassis.events.failures import OUTAGE_STEPS, backoff, next_retry

EVENT = Event.new("demo.placed", subject="o1", data={}, source="orders")


def retry_after(exc: Exception, attempts: int, max_deliver: int = 5) -> float | None:
    return next_retry(
        "audit", EVENT, exc, attempts=attempts, max_deliver=max_deliver, base=1.0, maximum=60.0
    )


def test_an_ordinary_failure_backs_off_then_goes_to_the_dead_letters() -> None:
    assert [retry_after(RuntimeError("bug"), n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, None]


def test_an_outage_is_retried_past_max_deliver_at_a_bounded_delay() -> None:
    outage = DependencyUnavailable("the database does not answer")
    delays = [retry_after(outage, n) for n in range(1, 50)]
    assert None not in delays  # never dead-lettered, however long it lasts
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert set(delays[OUTAGE_STEPS:]) == {backoff(OUTAGE_STEPS, base=1.0, maximum=60.0)}
    # The delay is one the ordinary backoff makes too (RabbitMQ's delay queues).
    assert delays[-1] == backoff(4, base=1.0, maximum=60.0) == 8.0


def test_an_outage_never_waits_longer_than_the_transport_allows() -> None:
    outage = DependencyUnavailable("down")
    delays = [
        next_retry("audit", EVENT, outage, attempts=n, max_deliver=2, base=0.05, maximum=0.3)
        for n in range(1, 20)
    ]
    assert max(d for d in delays if d is not None) == 0.3
