"""The event bus interface, independent of the broker behind it.

`connect_bus(url, service=...)` (in `transports`) picks the transport from the
URL's scheme: `nats://` (NATS JetStream, the default) or `amqp://` (RabbitMQ).
Delivery is at least once: a subscriber's handler may see an event again after a
crash or a lost acknowledgement, which `IdempotentConsumer` turns into exactly one
effect.

The errors, drawn once:

    BusError                 the broker refused or failed an operation
    ├── BusUnavailable       the broker cannot be reached, or the bus is not connected
    └── DeadLetterNotFound   no dead letter has that id
    PoisonEvent              raised by a handler: this event can never succeed, so it
                             goes to the dead letters at once, without retries
    DependencyUnavailable    raised by a handler: something it needs (its database) is
                             down; retried for as long as that lasts, the attempt not
                             counted towards the dead letters
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Protocol

from mercato.chassis.events.dead_letters import DeadLetter
from mercato.chassis.events.envelope import Event
from mercato.chassis.events.names import DEFAULT_NAMESPACE

__all__ = [
    "DEFAULT_NAMESPACE",
    "EVENT_RETENTION",
    "BatchHandler",
    "BusError",
    "BusUnavailable",
    "DeadLetterNotFound",
    "DependencyUnavailable",
    "EventBus",
    "EventHandler",
    "PoisonEvent",
    "Subscription",
]

# How long the broker keeps an event (NATS: the events stream's age limit; RabbitMQ:
# the tails' streams): what tails can read back, and replays reach, at most.
EVENT_RETENTION = timedelta(days=7)

EventHandler = Callable[[Event], Awaitable[None]]
BatchHandler = Callable[[Sequence[Event]], Awaitable[None]]


class BusError(Exception):
    """The broker refused or failed an operation."""


class BusUnavailable(BusError):
    """The broker cannot be reached, or the bus is not connected."""


class DeadLetterNotFound(BusError, LookupError):
    """No dead letter has that id (already replayed, or never existed)."""


class PoisonEvent(Exception):
    """Raised by a handler for an event that can never succeed: dead-letter it now."""


class DependencyUnavailable(Exception):
    """Raised by a handler that could not run because a dependency is down, not the event.

    The transports retry such an event with the capped backoff (`failures.next_retry`)
    and never dead-letter it for this failure, so an outage of a service's database
    longer than its attempts' backoff costs no event.
    """


class Subscription(Protocol):
    """A running subscription."""

    async def stop(self) -> None:
        """Stop fetching; the handler in progress finishes first."""
        ...


class EventBus(Protocol):
    """Publish and consume events through a broker."""

    async def connect(self) -> None:
        """Connect and declare the streams/queues; raise BusUnavailable if unreachable."""
        ...

    async def close(self) -> None:
        """Stop every subscription and close the connection."""
        ...

    async def ping(self) -> None:
        """Raise if the broker does not answer (a readiness check)."""
        ...

    async def publish(self, event: Event) -> None:
        """Publish one event and wait for the broker's acknowledgement."""
        ...

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Publish events with a bounded number in flight; wait for every acknowledgement."""
        ...

    async def subscribe(
        self,
        consumer: str,
        types: Sequence[str],
        handler: EventHandler,
        *,
        max_deliver: int = 5,
        batch_handler: BatchHandler | None = None,
    ) -> Subscription:
        """Durable, at-least-once delivery of `types` to `handler` under the name `consumer`.

        The event is acknowledged when the handler returns; when it raises, the event is
        redelivered later with a growing delay, and after `max_deliver` failed attempts
        (or at once on PoisonEvent) it moves to the dead letters. A transport that
        fetches events in batches hands a batch to `batch_handler` when one is given,
        acknowledges all of them when it returns, and gives each to `handler` when it
        raises; the others use `handler` only.
        """
        ...

    async def tail(
        self, types: Sequence[str], handler: EventHandler, *, since: timedelta
    ) -> Subscription:
        """Ephemeral delivery of `types` published since `now - since`, then of new ones."""
        ...

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest dead letters, at most `limit`."""
        ...

    async def replay(self, dead_letter_id: str) -> None:
        """Publish a dead letter's event again, then remove the dead letter."""
        ...
