"""Handing one JetStream message to a handler and settling it.

For a durable subscription the outcome decides the message's fate: the handler
returned, so `ack`; it raised, so `nak` with a delay that doubles with every
attempt (redelivered later, to this or another replica); it raised for the
`max_deliver`-th time, or raised `PoisonEvent`, or the message is not an event at
all, so publish it to the dead letters with the error and the consumer's name and
then `ack` it so it leaves the main stream. An event whose envelope names another
type than the subject it was published on, or another source than its type's owner,
is forged (`origin.forgery`): it goes to the dead letters too, unhandled. For a tail
nothing is acknowledged, and a failing handler or a forged event is only logged.

With a `batch_handler`, `many` settles a fetched batch: the events delivered for the
first time go to it together and are acknowledged once it returns (their
acknowledgements leave in one write); when it raises, each goes through the one-by-one
path above instead. A redelivered event, a message that is not an event, a forged
one, and a type the consumer does not want take the one-by-one path from the start.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from mercato.chassis.events.batch_settling import BatchSettling
from mercato.chassis.events.bus import BatchHandler, EventHandler, PoisonEvent
from mercato.chassis.events.envelope import Event
from mercato.chassis.events.failures import backoff, describe, next_retry
from mercato.chassis.events.origin import forgery
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics, Outcome

__all__ = ["Delivery", "DeliveryBus"]

log = logging.getLogger("mercato.events")


class DeliveryBus(Protocol):
    """What a delivery needs of its bus (`NatsBus`), so that it does not import it."""

    @property
    def events_prefix(self) -> str: ...
    @property
    def retry_delay(self) -> float: ...
    @property
    def max_retry_delay(self) -> float: ...
    @property
    def metrics(self) -> ConsumerMetrics | None: ...

    async def publish_dead_letter(
        self, *, consumer: str, subject: str, payload: bytes, error: str, attempts: int, seq: int
    ) -> None: ...


class Delivery(BatchSettling[Any]):
    """Processes the messages of one subscription."""

    def __init__(
        self,
        bus: DeliveryBus,
        consumer: str,
        handler: EventHandler,
        *,
        max_deliver: int = 5,
        wanted: frozenset[str] | None = None,
        acks: bool = True,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        if max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        self.bus = bus
        self.consumer = consumer
        self.handler = handler
        self.max_deliver = max_deliver
        self.wanted = wanted
        self.acks = acks
        self.batch_handler = batch_handler if acks else None

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next delivery after `attempts` failed ones."""
        return backoff(attempts, base=self.bus.retry_delay, maximum=self.bus.max_retry_delay)

    async def __call__(self, msg: Any) -> None:
        """Handle and settle one message."""
        event_type = msg.subject.removeprefix(self.bus.events_prefix)
        if self.wanted is not None and event_type not in self.wanted:
            if self.acks:
                await msg.ack()  # an older server could not filter on several types
            return
        if not self.acks:
            await self._tail(msg)
            return
        attempts = int(msg.metadata.num_delivered)
        if attempts > 1 and self.bus.metrics is not None:
            self.bus.metrics.redelivered(event_type)
        try:
            event = Event.from_bytes(msg.data)
        except ValueError as exc:
            await self._dead_letter(msg, f"not a valid event: {exc}", attempts)
            return
        forged = forgery(event, published_as=event_type)
        if forged is not None:
            await self._dead_letter(msg, forged, attempts, Outcome.FORGED)
            return
        try:
            await self.handler(event)
        except PoisonEvent as exc:
            await self._dead_letter(msg, describe(exc), attempts)
        except Exception as exc:
            delay = next_retry(
                self.consumer,
                event,
                exc,
                attempts=attempts,
                max_deliver=self.max_deliver,
                base=self.bus.retry_delay,
                maximum=self.bus.max_retry_delay,
            )
            if delay is None:
                await self._dead_letter(msg, describe(exc), attempts)
                return
            await msg.nak(delay=delay)
            self._count(event_type, Outcome.RETRIED)
        else:
            await msg.ack()

    async def acknowledge(self, messages: list[Any]) -> None:
        """Acknowledge a handled batch (the client sends the acknowledgements in one write)."""
        for msg in messages:
            await msg.ack()

    def first_delivery(self, msg: Any) -> Event | None:
        """The event of a message a batch may take; None for one to settle alone."""
        event_type = msg.subject.removeprefix(self.bus.events_prefix)
        if self.wanted is not None and event_type not in self.wanted:
            return None
        if int(msg.metadata.num_delivered) > 1:
            return None
        try:
            event = Event.from_bytes(msg.data)
        except ValueError:
            return None
        if forgery(event, published_as=event_type) is not None:
            return None
        return event

    async def _tail(self, msg: Any) -> None:
        try:
            event = Event.from_bytes(msg.data)
            forged = forgery(event, published_as=msg.subject.removeprefix(self.bus.events_prefix))
            if forged is not None:
                log.error("%s drops %s", self.consumer, forged)
                return
            await self.handler(event)
        except Exception:
            log.exception("%s failed on a message of %s", self.consumer, msg.subject)

    async def _dead_letter(
        self, msg: Any, error: str, attempts: int, outcome: Outcome = Outcome.DEAD_LETTERED
    ) -> None:
        try:
            await self.bus.publish_dead_letter(
                consumer=self.consumer,
                subject=msg.subject,
                payload=msg.data,
                error=error,
                attempts=attempts,
                seq=int(msg.metadata.sequence.stream),
            )
        except Exception as exc:
            # Keep it in the main stream; its next failure tries the dead letters again.
            log.error("could not dead-letter a message of %s: %s", self.consumer, exc)
            await msg.nak(delay=self.retry_delay(attempts))
            return
        await msg.ack()
        self._count(msg.subject.removeprefix(self.bus.events_prefix), outcome)

    def _count(self, event_type: str, outcome: Outcome) -> None:
        if self.bus.metrics is not None:
            self.bus.metrics.handled(event_type, outcome)
