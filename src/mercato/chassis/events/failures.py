"""What a transport does when a handler fails: retry later, or dead-letter now.

Both transports share this policy so that an event is treated the same on NATS and
on RabbitMQ: exponential backoff between attempts, capped, and after `max_deliver`
failed attempts the event goes to the dead letters.

A failure because a dependency is down (`DependencyUnavailable`: the consumer's
database stopped, restarting, unreachable) is not the event's fault: it never sends
the event to the dead letters, however many attempts it took, and its delay stops
growing at the `OUTAGE_STEPS`-th attempt's (8 s from the default 1 s), so that the
event comes back within seconds of the dependency's return. Before, a consumer used
up its five attempts in 1 + 2 + 4 + 8 s, less than a database restart can take.
Those attempts still count in the broker's delivery count, so an event that fails
for a reason of its own after an outage reaches the dead letters sooner.
"""

from __future__ import annotations

import logging

from mercato.chassis.events.bus import DependencyUnavailable
from mercato.chassis.events.envelope import Event

__all__ = ["OUTAGE_STEPS", "backoff", "describe", "next_retry"]

log = logging.getLogger("mercato.events")
# The attempt whose backoff an outage's retries keep to: one of the delays the backoff
# makes anyway (RabbitMQ has one delay queue per delay).
OUTAGE_STEPS = 4


def describe(exc: BaseException) -> str:
    """A one-line account of a failure, with its cause."""
    text = f"{type(exc).__name__}: {exc}"
    if exc.__cause__ is not None:
        text += f" (caused by {type(exc.__cause__).__name__}: {exc.__cause__})"
    return text


def backoff(attempts: int, *, base: float, maximum: float) -> float:
    """Seconds before the next delivery after `attempts` failed ones."""
    return float(min(base * 2 ** (attempts - 1), maximum))


def next_retry(
    consumer: str,
    event: Event,
    exc: BaseException,
    *,
    attempts: int,
    max_deliver: int,
    base: float,
    maximum: float,
) -> float | None:
    """The delay before retrying a failed event, or None when it must be dead-lettered."""
    if isinstance(exc, DependencyUnavailable):
        delay = backoff(min(attempts, OUTAGE_STEPS), base=base, maximum=maximum)
        # No traceback: an outage fails every event the same way, and is logged elsewhere.
        log.warning(
            "%s could not handle %s %s (attempt %d, a dependency is down; retry in %.2fs, "
            "not counted towards the dead letters): %s",
            consumer,
            event.type,
            event.id,
            attempts,
            delay,
            describe(exc),
        )
        return delay
    if attempts >= max_deliver:
        return None
    delay = backoff(attempts, base=base, maximum=maximum)
    log.warning(
        "%s failed on %s %s (attempt %d of %d, retry in %.2fs): %s",
        consumer,
        event.type,
        event.id,
        attempts,
        max_deliver,
        delay,
        describe(exc),
        exc_info=exc,
    )
    return delay
