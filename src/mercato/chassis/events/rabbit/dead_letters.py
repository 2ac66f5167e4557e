"""Dead letters on RabbitMQ: the messages of the dead-letter queue.

A consumer that gives up on an event publishes the record every transport uses
(`dead_letters.encode_dead_letter`) on the dead-letter exchange as
`<consumer>.<event type>`, which routes it to the dead-letter queue, with a fresh
message id (the dead letter's id) and the headers `consumer`, `event_type`,
`error`, `attempts` and `failed_at`, so that the management UI shows them too. The
broker itself dead-letters a message that crashed its consumer `delivery_limit`
times (the consumer queue's `x-delivery-limit`): such a message is the original
event with RabbitMQ's `x-death` header, and is read as a dead letter of the
consumer whose queue it left.

A queue cannot be read without taking messages, so listing takes up to `limit`
messages unacknowledged on a channel of its own and then gives them back (`nack`
with requeue, oldest first), which puts them back where they were on a single node
(a classic queue). Replicated (`MERCATO_EVENT_REPLICAS` > 1) the queue is a quorum
queue, which puts them back at its end, in the same order: a list of them all keeps
its order, and a longer queue is listed a window at a time. While one operator lists
or replays, another sees fewer dead letters for that moment.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import PublishError

from mercato.chassis.events.bus import BusError, DeadLetterNotFound
from mercato.chassis.events.dead_letters import DeadLetter, decode_dead_letter, encode_dead_letter
from mercato.chassis.events.rabbit.topology import DELIVERY_LIMIT, Topology

__all__ = ["DeadLetterQueue", "dead_letter_message", "event_type_of"]

MARK = "x-mercato-dead-letter"
MAX_HEADER_CHARS = 1000


def event_type_of(message: AbstractIncomingMessage, exchange: str) -> str:
    """The event type of a delivered message.

    Its routing key when it came from the events exchange (the key the broker checked
    the publisher's rights against), else its AMQP type (a delayed copy or a replay,
    which keep the type they were first routed by).
    """
    if message.exchange == exchange:
        return message.routing_key or ""
    if message.type:
        return message.type
    return str((message.headers or {}).get("event_type", "unknown"))


def dead_letter_message(
    *, consumer: str, event_type: str, error: str, attempts: int, payload: bytes
) -> aio_pika.Message:
    """The dead-letter queue's message for an event `consumer` gave up on."""
    body = encode_dead_letter(
        consumer=consumer, event_type=event_type, error=error, attempts=attempts, payload=payload
    )
    headers: dict[str, Any] = {
        MARK: 1,
        "consumer": consumer,
        "event_type": event_type,
        "error": error[:MAX_HEADER_CHARS],
        "attempts": attempts,
        "failed_at": datetime.now(UTC).isoformat(),
    }
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=uuid.uuid4().hex,
        headers=headers,
    )


class DeadLetterQueue:
    """Reads and takes the dead letters of one namespace."""

    def __init__(self, connection: AbstractRobustConnection, topology: Topology) -> None:
        self.connection = connection
        self.topology = topology

    def read(self, message: AbstractIncomingMessage) -> DeadLetter:
        """The dead letter a message of the dead-letter queue holds."""
        headers = message.headers or {}
        if headers.get(MARK):
            return decode_dead_letter(message.message_id or "", message.body)
        # Dead-lettered by the broker: the latest x-death entry says where from.
        deaths: Any = headers.get("x-death") or [{}]
        death = deaths[0] if isinstance(deaths, list) and deaths else {}
        queue = str(death.get("queue", ""))
        failed_at = death.get("time")
        return DeadLetter(
            id=f"{message.message_id}@{queue}",
            consumer=self.topology.consumer_of(queue),
            event_type=event_type_of(message, self.topology.exchange),
            error=f"RabbitMQ dead-lettered it from {queue}: {death.get('reason', 'unknown')}",
            attempts=self.topology.delivery_limit + 1,
            failed_at=failed_at if isinstance(failed_at, datetime) else datetime.now(UTC),
            payload=message.body,
        )

    def check_origin(self, message: AbstractIncomingMessage, letter: DeadLetter) -> None:
        """BusError unless `letter` came from the consumer it names.

        A consumer publishes its dead letters on the dead-letter exchange under its own
        name, which its broker user is limited to; the record inside is its own word.
        Dead letters the broker moved here itself (`x-death`) name their queue, and
        come under that queue's consumer's name too.
        """
        if (message.headers or {}).get(MARK):
            key = self.topology.dead_letter_key(letter.consumer, letter.event_type)
        else:
            key = self.topology.dead_letter_key(letter.consumer, DELIVERY_LIMIT)
        if (message.exchange, message.routing_key) != (self.topology.dead_letter_exchange, key):
            raise BusError(
                f"dead letter {letter.id} names consumer {letter.consumer!r} but was sent"
                f" as {message.routing_key!r} on {message.exchange!r}: not replayed"
            )

    def target(self, message: AbstractIncomingMessage, letter: DeadLetter) -> str:
        """The queue of the consumer that gave up on `letter`."""
        if (message.headers or {}).get(MARK):
            return self.topology.queue(letter.consumer)
        return letter.id.rpartition("@")[2]

    @contextlib.asynccontextmanager
    async def _browse(self) -> AsyncIterator[_Browser]:
        channel = await self.connection.channel(on_return_raises=True)
        browser = _Browser(
            channel, await channel.get_queue(self.topology.dead_letters, ensure=False)
        )
        try:
            yield browser
        finally:
            await browser.put_back()
            await channel.close()

    async def list(self, limit: int) -> list[DeadLetter]:
        """The oldest dead letters, at most `limit`, left in the queue."""
        found: list[DeadLetter] = []
        async with self._browse() as browser:
            while len(found) < limit and (message := await browser.next()) is not None:
                found.append(self.read(message))
        return found

    @contextlib.asynccontextmanager
    async def take(
        self, dead_letter_id: str
    ) -> AsyncIterator[tuple[AbstractChannel, AbstractIncomingMessage]]:
        """The dead letter's channel and message, removed when the block succeeds."""
        async with self._browse() as browser:
            while True:
                message = await browser.next()
                if message is None:
                    raise DeadLetterNotFound(f"no dead letter {dead_letter_id!r}")
                if self.read(message).id == dead_letter_id:
                    break
            yield browser.channel, message
            await browser.remove(message)

    async def replay(self, dead_letter_id: str) -> DeadLetter:
        """Send a dead letter back to its consumer's queue, then remove it; the letter."""
        async with self.take(dead_letter_id) as (channel, message):
            letter = self.read(message)
            self.check_origin(message, letter)
            event = letter.event
            replayed = aio_pika.Message(
                letter.payload,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=event.id if event is not None else uuid.uuid4().hex,
                type=letter.event_type,
                timestamp=datetime.now(UTC),
                headers={"x-mercato-replay-of": letter.id},
            )
            target = self.target(message, letter)
            try:  # mandatory: returned if the consumer's queue is gone
                await channel.default_exchange.publish(replayed, target)
            except PublishError as exc:
                raise BusError(f"the queue {target} is gone: nothing to replay to") from exc
        return letter


class _Browser:
    """Takes messages from a queue and puts back those not removed, in order."""

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue) -> None:
        self.channel = channel
        self.queue = queue
        self.taken: list[AbstractIncomingMessage] = []

    async def next(self) -> AbstractIncomingMessage | None:
        """The next message, unacknowledged; None when the queue has no more."""
        message = await self.queue.get(no_ack=False, fail=False)
        if message is not None:
            self.taken.append(message)
        return message

    async def remove(self, message: AbstractIncomingMessage) -> None:
        """Acknowledge `message`: it leaves the queue."""
        await message.ack()
        self.taken.remove(message)

    async def put_back(self) -> None:
        """Give back every message taken, oldest first, before the channel closes.

        Explicit, because the broker handles a closed channel's messages in the
        background (a quorum queue may deliver others first, out of order).
        """
        for message in self.taken:
            await message.nack(requeue=True)
        self.taken.clear()
