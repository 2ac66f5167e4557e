"""What a transport does when a handler fails: retry later, or dead-letter now.

Both transports share this policy so that an event is treated the same on NATS and
on RabbitMQ: exponential backoff between attempts, capped, and after `max_deliver`
failed attempts the event goes to the dead letters.
"""

from __future__ import annotations

import logging

from mercato.chassis.events.envelope import Event

__all__ = ["backoff", "describe", "next_retry"]

log = logging.getLogger("mercato.events")


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
