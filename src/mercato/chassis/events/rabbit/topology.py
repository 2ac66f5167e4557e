"""The RabbitMQ layout of one namespace, and declaring it.

For the default namespace `MERCATO` (names are lower-case):

    exchange mercato.events          topic, durable; routing key = event type
    queue    mercato.<consumer>      one per durable consumer, bound to its types
    exchange/queue mercato.retry.<consumer>.<ms>
                                     a delay of one consumer: fanout exchange into a
                                     queue whose messages expire after <ms> and are
                                     dead-lettered to mercato.retry.<consumer>
    exchange mercato.retry.<consumer>  fanout into that consumer's queue, and no other
    exchange mercato.dlx             topic; a consumer's dead letters go out on it as
                                     `<consumer>.<event type>`
    queue    mercato.dead-letters    the dead letters, one JSON record each, bound to
                                     mercato.dlx by each consumer for `<consumer>.#`
    queue    mercato.stream.<type>   a stream of the events of one type, for `tail`
                                     (3.9+), bound to that type only

Every name belongs to one service or is shared, so that a RabbitMQ user per service
can be given rights on its own (`mercato.chassis.events.permissions`): a consumer's
retries and dead letters cannot reach another consumer's queue, and a tail reads
only the types it asked for. Nothing is dead-lettered through the default exchange,
which would let whoever may write to it put a message into any queue.

Queues are quorum queues when the server has them (RabbitMQ 3.8+), classic ones
before, except the dead letters on a single node: listing them takes messages and
puts them back, and a quorum queue puts them back at its end, a classic one in
place. With `replicas` > 1 (`MERCATO_EVENT_REPLICAS`, on a cluster) every queue is
replicated: quorum queues start with that many members
(`x-quorum-initial-group-size`), the streams too (`x-initial-cluster-size`), and the
dead letters are a quorum queue as well (a dead letter lost with a node is an event
lost; listing then moves the listed ones to the queue's end). A consumer queue has a
broker-side delivery limit as a safety net for a handler that crashes its process on
every attempt (the broker moves such a message to the dead letters). A queue that
already exists with other arguments is used as it is, with a warning naming the
argument: RabbitMQ changes neither a queue's type nor its arguments in place (a
classic queue stays unreplicated until it is deleted and declared again; a quorum
queue's members are changed with `rabbitmq-queues grow` or `add_member`), so a
service never lowers what an operator set up.
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

from mercato.chassis.events.failures import backoff
from mercato.chassis.events.names import events_exchange

__all__ = [
    "WILDCARD",
    "Features",
    "Topology",
    "declare_exchange",
    "declare_queue",
    "declare_stream",
    "milliseconds",
    "possible_delays",
]

log = logging.getLogger("mercato.events")
WILDCARD = ">"  # the event type that means every event type
DELIVERY_LIMIT = "delivery-limit"  # the "type" of a dead letter the broker moved itself
RESERVED = frozenset({"events", "dead-letters", "retry", "dlx", "stream"})


def milliseconds(delay: float) -> int:
    """A retry delay as the whole milliseconds that name its delay queue."""
    return max(1, round(delay * 1000))


def possible_delays(base: float, maximum: float) -> frozenset[int]:
    """Every delay (ms) a backoff from `base` to `maximum` asks for: its delay queues."""
    delays: set[int] = set()
    attempts = 1
    while True:  # the backoff grows to its cap, then stays there
        delay = backoff(attempts, base=base, maximum=maximum)
        delays.add(milliseconds(delay))
        if delay <= 0 or delay >= maximum:
            return frozenset(delays)
        attempts += 1


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

    def __init__(
        self, namespace: str, features: Features, *, delivery_limit: int, replicas: int | None = 1
    ) -> None:
        self.prefix = namespace.lower()
        self.features = features
        self.delivery_limit = delivery_limit
        self.replicas = replicas or 1  # None (the operator's tools): as for one node
        self.exchange = events_exchange(namespace)
        self.dead_letters = f"{self.prefix}.dead-letters"
        self.dead_letter_exchange = f"{self.prefix}.dlx"

    def queue(self, consumer: str) -> str:
        """The queue of a durable consumer."""
        if consumer in RESERVED:
            raise ValueError(f"consumer {consumer!r}: the name is reserved")
        return f"{self.prefix}.{consumer}"

    def consumer_of(self, queue: str) -> str:
        """The consumer name of a consumer queue."""
        return queue.removeprefix(self.prefix + ".")

    def retry(self, consumer: str, delay_ms: int) -> str:
        """The delay exchange and queue of `consumer` for `delay_ms` milliseconds."""
        return f"{self.prefix}.retry.{consumer}.{delay_ms}"

    def retry_return(self, consumer: str) -> str:
        """The exchange through which `consumer`'s delayed events come back to its queue."""
        return f"{self.prefix}.retry.{consumer}"

    def stream(self, event_type: str) -> str:
        """The stream queue of one event type (`>`: of every type), read by tails."""
        return f"{self.prefix}.stream.{self.binding_key(event_type)}"

    @staticmethod
    def dead_letter_key(consumer: str, event_type: str) -> str:
        """The routing key of a dead letter of `consumer` on the dead-letter exchange."""
        return f"{consumer}.{event_type}"

    @staticmethod
    def binding_key(event_type: str) -> str:
        """The topic binding key of an event type (`>` means every type)."""
        return "#" if event_type == WILDCARD else event_type

    @property
    def replicated(self) -> bool:
        """Whether queues are to be replicated: more than one copy, on a server that can."""
        return self.replicas > 1 and self.features.quorum

    def _quorum(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {"x-queue-type": "quorum"}
        if self.replicated:
            arguments["x-quorum-initial-group-size"] = self.replicas
        return arguments

    def _durable(self) -> dict[str, Any]:
        return self._quorum() if self.features.quorum else {"x-queue-type": "classic"}

    def consumer_arguments(self, consumer: str) -> dict[str, Any]:
        """A consumer queue: dead-letters what crashed its consumer too often."""
        arguments = self._durable()
        if self.features.quorum:
            arguments["x-delivery-limit"] = self.delivery_limit
            arguments["x-dead-letter-exchange"] = self.dead_letter_exchange
            arguments["x-dead-letter-routing-key"] = self.dead_letter_key(consumer, DELIVERY_LIMIT)
        return arguments

    def retry_arguments(self, consumer: str, delay_ms: int) -> dict[str, Any]:
        """A delay queue: expires after `delay_ms` back to `consumer`'s queue, only there."""
        arguments: dict[str, Any] = {
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": self.retry_return(consumer),
        }
        if self.features.quorum_ttl:
            arguments.update(self._quorum())
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
        else:
            arguments["x-queue-type"] = "classic"
        return arguments

    def dead_letter_arguments(self) -> dict[str, Any]:
        """The dead-letter queue: classic (it puts back in place), quorum when replicated."""
        return self._quorum() if self.replicated else {"x-queue-type": "classic"}

    def stream_arguments(self, retention: timedelta) -> dict[str, Any]:
        """The tail stream, keeping events for `retention`."""
        arguments: dict[str, Any] = {"x-queue-type": "stream"}
        arguments["x-max-age"] = f"{int(retention.total_seconds())}s"
        if self.replicated:
            arguments["x-initial-cluster-size"] = self.replicas
        return arguments


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
        log.warning("queue %s exists with other arguments; using it as it is: %s", name, _why(exc))
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


def _why(exc: ChannelPreconditionFailed) -> str:
    """What RabbitMQ refused, and for the arguments it cannot change, what to do."""
    text = str(exc.args[0] if exc.args else exc)
    if "'x-queue-type'" in text:
        return (
            f"{text} (RabbitMQ cannot change a queue's type: delete the queue, once empty, "
            "to have it declared again as configured)"
        )
    if "'x-quorum-initial-group-size'" in text or "'x-initial-cluster-size'" in text:
        return (
            f"{text} (its members are changed with `rabbitmq-queues grow` or "
            "`rabbitmq-queues add_member`, not by a service)"
        )
    return text


async def declare_exchange(
    connection: AbstractRobustConnection, name: str, kind: aio_pika.ExchangeType
) -> None:
    """Declare a durable exchange."""
    channel = await connection.channel()
    try:
        await channel.declare_exchange(name, kind, durable=True)
    finally:
        await channel.close()


async def declare_stream(
    connection: AbstractRobustConnection,
    topology: Topology,
    event_type: str,
    retention: timedelta,
) -> str:
    """Declare the stream of `event_type` (bound to that type only); its name."""
    stream = topology.stream(event_type)
    await declare_queue(
        connection,
        stream,
        topology.stream_arguments(retention),
        bind=(topology.exchange, [topology.binding_key(event_type)]),
    )
    return stream


async def declare_retry(
    connection: AbstractRobustConnection, topology: Topology, consumer: str, delay_ms: int
) -> str:
    """Declare `consumer`'s delay queue of `delay_ms` and its way back; its exchange's name.

    A message published to that exchange waits `delay_ms` in the delay queue, then
    goes back to the consumer's queue alone (through its own fanout exchange).
    """
    name, queue = topology.retry(consumer, delay_ms), topology.queue(consumer)
    back = topology.retry_return(consumer)
    await declare_exchange(connection, back, aio_pika.ExchangeType.FANOUT)
    await declare_queue(connection, queue, topology.consumer_arguments(consumer), bind=(back, [""]))
    await declare_exchange(connection, name, aio_pika.ExchangeType.FANOUT)
    arguments = topology.retry_arguments(consumer, delay_ms)
    await declare_queue(connection, name, arguments, bind=(name, [""]))
    return name
