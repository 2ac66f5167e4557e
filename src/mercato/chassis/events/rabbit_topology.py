"""The RabbitMQ layout of one namespace, and declaring it.

For the default namespace `MERCATO` (names are lower-case):

    exchange mercato.events          topic, durable; routing key = event type
    queue    mercato.<consumer>      one per durable consumer, bound to its types
    exchange/queue mercato.retry.<ms>  a delay: fanout exchange into a queue whose
                                     messages expire after <ms> and are dead-lettered
                                     (default exchange, their routing key) back to the
                                     consumer queue they were published for
    queue    mercato.dead-letters    the dead letters, one JSON record each
    queue    mercato.events.stream   a stream of every event, for `tail` (3.9+)

Queues are quorum queues when the server has them (RabbitMQ 3.8+), classic ones
before, except the dead letters: listing them takes messages and puts them back,
and a quorum queue puts them back at its end, a classic one in place. A consumer
queue has a broker-side delivery limit as a safety net for a handler that crashes
its process on every attempt (the broker moves such a message to the dead letters). A queue that
already exists with other arguments is used as it is, with a warning (RabbitMQ
cannot change a queue's arguments: delete it to apply them).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aiormq.exceptions import ChannelPreconditionFailed

__all__ = ["WILDCARD", "Features", "Topology", "declare_exchange", "declare_queue"]

log = logging.getLogger("mercato.events")
WILDCARD = ">"  # the event type that means every event type
RESERVED = frozenset({"events", "dead-letters", "retry"})


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3]) or (0,)


@dataclass(frozen=True, slots=True)
class Features:
    """What the connected RabbitMQ server supports, from its version."""

    version: tuple[int, ...]

    @classmethod
    def from_server(cls, properties: dict[str, Any]) -> Features:
        """The features of a server announcing `properties` on connect."""
        raw = properties.get("version", b"0")
        return cls(_version(raw.decode() if isinstance(raw, bytes) else str(raw)))

    @property
    def quorum(self) -> bool:
        """Quorum queues, with a delivery count and a delivery limit (3.8+)."""
        return self.version >= (3, 8)

    @property
    def streams(self) -> bool:
        """Stream queues, which can be read again from a point in time (3.9+)."""
        return self.version >= (3, 9)

    @property
    def quorum_ttl(self) -> bool:
        """Message TTL and at-least-once dead-lettering on quorum queues (3.10+)."""
        return self.version >= (3, 10)


class Topology:
    """The names and queue arguments of one namespace."""

    def __init__(self, namespace: str, features: Features, *, delivery_limit: int) -> None:
        self.prefix = namespace.lower()
        self.features = features
        self.delivery_limit = delivery_limit
        self.exchange = f"{self.prefix}.events"
        self.dead_letters = f"{self.prefix}.dead-letters"
        self.stream = f"{self.prefix}.events.stream"

    def queue(self, consumer: str) -> str:
        """The queue of a durable consumer."""
        if consumer in RESERVED:
            raise ValueError(f"consumer {consumer!r}: the name is reserved")
        return f"{self.prefix}.{consumer}"

    def consumer_of(self, queue: str) -> str:
        """The consumer name of a consumer queue."""
        return queue.removeprefix(self.prefix + ".")

    def retry(self, delay_ms: int) -> str:
        """The delay exchange and queue for `delay_ms` milliseconds."""
        return f"{self.prefix}.retry.{delay_ms}"

    @staticmethod
    def binding_key(event_type: str) -> str:
        """The topic binding key of an event type (`>` means every type)."""
        return "#" if event_type == WILDCARD else event_type

    def _durable(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum" if self.features.quorum else "classic"}

    def consumer_arguments(self) -> dict[str, Any]:
        """A consumer queue: dead-letters what crashed its consumer too often."""
        arguments = self._durable()
        if self.features.quorum:
            arguments["x-delivery-limit"] = self.delivery_limit
            arguments["x-dead-letter-exchange"] = ""
            arguments["x-dead-letter-routing-key"] = self.dead_letters
        return arguments

    def retry_arguments(self, delay_ms: int) -> dict[str, Any]:
        """A delay queue: expires after `delay_ms` back to the message's routing key."""
        arguments: dict[str, Any] = {"x-message-ttl": delay_ms, "x-dead-letter-exchange": ""}
        if self.features.quorum_ttl:
            arguments["x-queue-type"] = "quorum"
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
        else:
            arguments["x-queue-type"] = "classic"
        return arguments

    @staticmethod
    def dead_letter_arguments() -> dict[str, Any]:
        """The dead-letter queue: classic, the only type that puts back in place."""
        return {"x-queue-type": "classic"}

    @staticmethod
    def stream_arguments(retention: timedelta) -> dict[str, Any]:
        """The tail stream, keeping events for `retention`."""
        return {"x-queue-type": "stream", "x-max-age": f"{int(retention.total_seconds())}s"}


async def declare_queue(
    connection: AbstractRobustConnection,
    name: str,
    arguments: dict[str, Any],
    *,
    bind: tuple[str, list[str]] | None = None,
) -> None:
    """Declare a durable queue (keeping an existing one as it is), bound as `bind` says."""
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, durable=True, arguments=arguments)
    except ChannelPreconditionFailed as exc:
        log.warning("queue %s exists with other arguments; using it as it is: %s", name, exc)
        await channel.close()
        channel = await connection.channel()
        await channel.declare_queue(name, passive=True)
    try:
        if bind is not None:
            exchange, keys = bind
            queue = await channel.get_queue(name, ensure=False)
            for key in keys:
                await queue.bind(exchange, key)
    finally:
        await channel.close()


async def declare_exchange(
    connection: AbstractRobustConnection, name: str, kind: aio_pika.ExchangeType
) -> None:
    """Declare a durable exchange."""
    channel = await connection.channel()
    try:
        await channel.declare_exchange(name, kind, durable=True)
    finally:
        await channel.close()
