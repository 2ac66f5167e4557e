"""Handing one RabbitMQ message to a handler and settling it.

For a durable subscription: the handler returned, so `ack`; it raised, so a copy
goes to the delay queue for `retry_delay * 2**(attempts - 1)` seconds (from where
the broker moves it back to this consumer's queue only) and the original is
acknowledged; it raised for the `max_deliver`-th time, or raised `PoisonEvent`,
or the message is not an event at all, so the message goes to the dead letters
and is acknowledged. Every copy or dead letter is confirmed by the broker before
the original is acknowledged, so a crash in between repeats a step, never loses
the event.

The attempts are counted in the header `x-mercato-attempts` of the delayed copies,
plus the broker's own count of deliveries that were never settled (a consumer
that crashed or stopped: quorum queues' `x-delivery-count`, else the
`redelivered` flag). An event that arrived from the events exchange under a routing
key other than its own type, or whose source is not its type's owner, is forged
(`origin.forgery`) and goes to the dead letters unhandled; the other ways into a
consumer's queue (its own delay queues, the operator's replay) are closed to other
services by their permissions. For a tail nothing is retried, and a failing handler
or a forged event is only logged.

With a `batch_handler`, `many` settles the messages the consume loop found waiting
together: those delivered for the first time go to it together and are
acknowledged once it returns, by one acknowledgement of the last (`multiple`: every
earlier delivery of the channel is settled by then); when it raises, each goes
through the one-by-one path above instead. A retried or redelivered event, a
message that is not an event, a forged one, and a type the consumer does not want
take the one-by-one path from the start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Protocol

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from mercato.chassis.events.batch_settling import BatchSettling
from mercato.chassis.events.bus import BatchHandler, EventHandler, PoisonEvent
from mercato.chassis.events.envelope import Event
from mercato.chassis.events.failures import backoff, describe, next_retry
from mercato.chassis.events.origin import forgery
from mercato.chassis.events.rabbit.dead_letters import event_type_of
from mercato.chassis.events.rabbit.topology import Topology
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics, Outcome

__all__ = ["ATTEMPTS", "Delivery", "DeliveryBus", "TailDelivery", "copy_message"]

log = logging.getLogger("mercato.events")
ATTEMPTS = "x-mercato-attempts"
_BROKER_HEADERS = ("x-death", "x-delivery-count", "x-stream-offset", ATTEMPTS)


def attempts_of(message: AbstractIncomingMessage) -> int:
    """This delivery's attempt number, counting delayed retries and unsettled deliveries."""
    headers = message.headers or {}
    retried = int(str(headers.get(ATTEMPTS, 0)))
    unsettled = headers.get("x-delivery-count")
    if unsettled is None:
        unsettled = 1 if message.redelivered else 0
    return retried + int(str(unsettled)) + 1


def copy_message(
    message: AbstractIncomingMessage, *, type: str | None = None, **headers: Any
) -> aio_pika.Message:
    """A persistent copy of `message` without the broker's headers, plus `headers`."""
    kept = {
        key: value
        for key, value in (message.headers or {}).items()
        if key not in _BROKER_HEADERS and not key.startswith("x-first-death-")
    }
    return aio_pika.Message(
        message.body,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=type or message.type,
        timestamp=message.timestamp,
        app_id=message.app_id,
        correlation_id=message.correlation_id,
        headers={**kept, **headers},
    )


def published_as(message: AbstractIncomingMessage, exchange: str) -> str | None:
    """The routing key a message was published under on the events exchange, if it was."""
    return (message.routing_key or "") if message.exchange == exchange else None


async def _settle(action: Awaitable[None], what: str) -> None:
    try:
        await action
    except Exception as exc:  # the channel is gone: the broker delivers it again
        log.debug("%s failed: %s", what, exc)


class DeliveryBus(Protocol):
    """What a delivery needs of its bus (`RabbitBus`), so that it does not import it."""

    @property
    def topology(self) -> Topology: ...
    @property
    def retry_delay(self) -> float: ...
    @property
    def max_retry_delay(self) -> float: ...
    @property
    def metrics(self) -> ConsumerMetrics | None: ...

    async def publish_delayed(
        self, message: aio_pika.Message, *, consumer: str, delay: float
    ) -> None: ...

    async def publish_dead_letter(
        self, *, consumer: str, event_type: str, payload: bytes, error: str, attempts: int
    ) -> None: ...


class Delivery(BatchSettling[AbstractIncomingMessage]):
    """Processes the messages of one durable subscription."""

    def __init__(
        self,
        bus: DeliveryBus,
        consumer: str,
        handler: EventHandler,
        *,
        max_deliver: int = 5,
        wanted: frozenset[str] | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        if max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        self.bus = bus
        self.consumer = consumer
        self.queue = bus.topology.queue(consumer)
        self.handler = handler
        self.max_deliver = max_deliver
        self.wanted = wanted
        self.batch_handler = batch_handler

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next delivery after `attempts` failed ones."""
        return backoff(attempts, base=self.bus.retry_delay, maximum=self.bus.max_retry_delay)

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Handle and settle one message."""
        event_type = event_type_of(message, self.bus.topology.exchange)
        if self.wanted is not None and event_type not in self.wanted:
            await _settle(message.ack(), "ack")  # a binding left from an older type list
            return
        attempts = attempts_of(message)
        if attempts > 1 and self.bus.metrics is not None:
            self.bus.metrics.redelivered(event_type)
        try:
            event = Event.from_bytes(message.body)
        except ValueError as exc:
            await self._dead_letter(message, event_type, f"not a valid event: {exc}", attempts)
            return
        forged = forgery(event, published_as=published_as(message, self.bus.topology.exchange))
        if forged is not None:
            await self._dead_letter(message, event_type, forged, attempts, Outcome.FORGED)
            return
        try:
            await self.handler(event)
        except PoisonEvent as exc:
            await self._dead_letter(message, event_type, describe(exc), attempts)
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
                await self._dead_letter(message, event_type, describe(exc), attempts)
                return
            await self._retry(message, event_type, attempts, delay)
        else:
            await _settle(message.ack(), "ack")

    async def acknowledge(self, messages: list[AbstractIncomingMessage]) -> None:
        """Acknowledge a handled batch with one frame (`multiple`).

        The channel's deliveries are tagged in order, and those before the last of
        the batch are in it or were settled before it.
        """
        await _settle(messages[-1].ack(multiple=True), "ack")

    def first_delivery(self, message: AbstractIncomingMessage) -> Event | None:
        """The event of a message a batch may take; None for one to settle alone."""
        exchange = self.bus.topology.exchange
        if self.wanted is not None and event_type_of(message, exchange) not in self.wanted:
            return None
        if attempts_of(message) > 1:
            return None
        try:
            event = Event.from_bytes(message.body)
        except ValueError:
            return None
        if forgery(event, published_as=published_as(message, exchange)) is not None:
            return None
        return event

    async def _retry(
        self, message: AbstractIncomingMessage, event_type: str, attempts: int, delay: float
    ) -> None:
        try:
            # The copy counts every attempt so far; its own delivery count starts anew.
            # Its type is the one it was routed by, so its dead letter keeps a key that
            # this consumer may use.
            copy = copy_message(
                message,
                type=event_type_of(message, self.bus.topology.exchange),
                **{ATTEMPTS: attempts},
            )
            await self.bus.publish_delayed(copy, consumer=self.consumer, delay=delay)
        except Exception as exc:
            await self._give_back(message, f"could not delay a message: {exc}", delay)
            return
        await _settle(message.ack(), "ack")
        self._count(event_type, Outcome.RETRIED)

    async def _dead_letter(
        self,
        message: AbstractIncomingMessage,
        event_type: str,
        error: str,
        attempts: int,
        outcome: Outcome = Outcome.DEAD_LETTERED,
    ) -> None:
        try:
            await self.bus.publish_dead_letter(
                consumer=self.consumer,
                event_type=event_type,
                payload=message.body,
                error=error,
                attempts=attempts,
            )
        except Exception as exc:
            # Keep it in the queue; its next failure tries the dead letters again.
            await self._give_back(message, f"could not dead-letter a message: {exc}", 1.0)
            return
        await _settle(message.ack(), "ack")
        self._count(event_type, outcome)

    def _count(self, event_type: str, outcome: Outcome) -> None:
        if self.bus.metrics is not None:
            self.bus.metrics.handled(event_type, outcome)

    async def _give_back(self, message: AbstractIncomingMessage, why: str, delay: float) -> None:
        log.error("%s: %s", self.consumer, why)
        await asyncio.sleep(min(delay, 1.0))  # no hot loop while the broker refuses
        await _settle(message.nack(requeue=True), "nack")


class TailDelivery:
    """Processes the messages of a tail: filter, hand over, never retry."""

    def __init__(
        self,
        name: str,
        handler: EventHandler,
        *,
        exchange: str,
        wanted: frozenset[str] | None,
        start: datetime | None,
        acks: bool,
    ) -> None:
        self.name = name
        self.handler = handler
        self.exchange = exchange
        self.wanted = wanted
        self.start = start.replace(microsecond=0) if start is not None else None
        self.acks = acks

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        """Hand one message to the handler if it is wanted; acknowledge it (stream credit)."""
        try:
            if self._wanted(message):
                event = Event.from_bytes(message.body)
                forged = forgery(event, published_as=published_as(message, self.exchange))
                if forged is not None:
                    log.error("%s drops %s", self.name, forged)
                    return
                await self.handler(event)
        except Exception:
            log.exception("%s failed on a message of %s", self.name, message.routing_key)
        finally:
            if self.acks:
                await _settle(message.ack(), "ack")

    def _wanted(self, message: AbstractIncomingMessage) -> bool:
        if self.wanted is not None and event_type_of(message, self.exchange) not in self.wanted:
            return False
        # A stream starts at the chunk holding the start time: skip what came before.
        stamp = message.timestamp
        return self.start is None or stamp is None or stamp >= self.start
