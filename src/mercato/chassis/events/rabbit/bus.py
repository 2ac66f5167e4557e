"""The event bus over RabbitMQ (AMQP 0.9.1), chosen by an `amqp://` or `amqps://` URL.

The layout is in `rabbit_topology`. Every event is published to the topic exchange
`<namespace>.events` with the event type as routing key, persistent, with the event
id as `message_id`, its type as the AMQP `type` and `traceparent` as a header, on
a channel with publisher confirms; `publish_many` keeps at most `max_in_flight`
unconfirmed. RabbitMQ has no broker-side de-duplication: an event published twice
(a relay that crashed between publishing and marking its rows) is delivered
twice, and the consumers' inbox (`IdempotentConsumer`) gives it one effect.

A durable subscription is a queue `<namespace>.<consumer>` bound to the consumer's
types (`>` binds `#`, every type). Bindings are only ever added: a type dropped
from a consumer's list is still routed to its queue, and acknowledged unseen by
this client. Failed events go through the consumer's own delay queues and, in the
end, to the dead letters (`rabbit_delivery`); `replay` sends a dead letter back to
the queue of the consumer that failed it only (every other consumer has handled it
already), and only if the dead letter came from that consumer (its routing key on
the dead-letter exchange says so: a service's broker user may use only its own).

`tail` reads the streams of its types (`rabbit_tail`); the streams of `streams` (the
revocations every service tails) are declared on connect, so they keep what comes
before the first tail. After a reconnect a stream tail starts again from its start
time, so its handler may see events twice.

The connection is robust: after losing it the client reconnects every second and
restores the channels and consumers (their queues are durable); a publish while
disconnected raises BusUnavailable, and the relay retries it. It takes one URL, not
a list (`broker_urls`); `replicas` are the copies of each queue (`rabbit_topology`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustChannel, AbstractRobustConnection
from aio_pika.exceptions import DeliveryError

from mercato.chassis.events.broker_urls import check_broker_url, shown_servers
from mercato.chassis.events.bus import (
    DEFAULT_NAMESPACE,
    EVENT_RETENTION,
    BatchHandler,
    BusError,
    BusUnavailable,
    EventHandler,
    Subscription,
)
from mercato.chassis.events.dead_letters import DeadLetter
from mercato.chassis.events.envelope import Event
from mercato.chassis.events.names import check_name, check_namespace
from mercato.chassis.events.permissions import TOKEN_REVOKED
from mercato.chassis.events.rabbit import liveness
from mercato.chassis.events.rabbit.dead_letters import DeadLetterQueue, dead_letter_message
from mercato.chassis.events.rabbit.delivery import Delivery
from mercato.chassis.events.rabbit.subscription import ConsumeLoop
from mercato.chassis.events.rabbit.tail import tail
from mercato.chassis.events.rabbit.topology import (
    WILDCARD,
    Features,
    Topology,
    declare_exchange,
    declare_queue,
    declare_retry,
    declare_stream,
    milliseconds,
    possible_delays,
)
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics

__all__ = ["RabbitBus"]

log = logging.getLogger("mercato.events")


def _wanted(types: Sequence[str]) -> frozenset[str] | None:
    return None if WILDCARD in types else frozenset(types)


class RabbitBus:
    """EventBus over RabbitMQ (see the module docstring for the layout)."""

    def __init__(
        self,
        url: str,
        *,
        service: str,
        namespace: str = DEFAULT_NAMESPACE,
        retry_delay: float = 1.0,
        max_retry_delay: float = 60.0,
        max_in_flight: int = 256,
        publish_timeout: float = 5.0,
        prefetch: int = 64,
        delivery_limit: int = 20,
        retention: timedelta = EVENT_RETENTION,
        connect_timeout: float = 2.0,
        streams: Sequence[str] = (TOKEN_REVOKED,),
        replicas: int | None = 1,
    ) -> None:
        self.url = check_broker_url(url)  # ValueError for a list
        self.service = service
        self.namespace = check_namespace(namespace)
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_in_flight = max_in_flight
        self.publish_timeout = publish_timeout
        self.prefetch = prefetch
        self.delivery_limit = delivery_limit
        self.retention = retention
        self.connect_timeout = connect_timeout
        self.streams = tuple(streams)
        self.replicas = replicas  # None: as they are (the operator's tools)
        self.topology = self._topology(Features((0,)))
        self._every_delay = possible_delays(retry_delay, max_retry_delay)
        self.where = shown_servers(url)  # the broker's address, no credentials (for logs)
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._delays: set[tuple[str, int]] = set()
        self._queues: set[str] = set()
        self._streams: set[str] = set()
        self._loops: set[ConsumeLoop] = set()
        self.metrics: ConsumerMetrics | None = None  # its deliveries count (connect_bus)

    @property
    def connection(self) -> AbstractRobustConnection:
        """The connection; BusUnavailable before `connect()`, after `close()` or while down."""
        connection = self._connection
        if connection is None or connection.is_closed or not connection.connected.is_set():
            raise BusUnavailable(f"not connected to RabbitMQ at {self.where}")
        return connection

    @property
    def exchange(self) -> AbstractExchange:
        """The events exchange, on the publishing channel (publisher confirms)."""
        self.connection  # noqa: B018 - raises when not connected
        assert self._exchange is not None
        return self._exchange

    async def connect(self) -> None:
        """Connect and declare the exchange and queues; BusUnavailable if unreachable."""
        if self._connection is not None and not self._connection.is_closed:
            return
        try:
            connection = await aio_pika.connect_robust(
                self.url,
                timeout=self.connect_timeout,
                reconnect_interval=1.0,  # once connected, retry every second while down
                client_properties={"connection_name": self.service},
            )
        except Exception as exc:
            raise BusUnavailable(f"RabbitMQ not reachable at {self.where}: {exc!r}") from exc
        try:
            properties = connection.transport.connection.server_properties  # type: ignore[union-attr]
            self.topology = self._topology(Features.from_server(dict(properties)))
            await self._declare(connection)
            channel = await connection.channel(publisher_confirms=True)
            self._exchange = await channel.get_exchange(self.topology.exchange, ensure=False)
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, Exception) and not isinstance(exc, BusError):
                raise BusUnavailable(f"RabbitMQ at {self.where}: {exc!r}") from exc
            raise
        self._connection, self._channel = connection, channel

    def _topology(self, features: Features) -> Topology:
        limit, replicas = self.delivery_limit, self.replicas
        return Topology(self.namespace, features, delivery_limit=limit, replicas=replicas)

    async def _declare(self, connection: AbstractRobustConnection) -> None:
        topology = self.topology
        await declare_exchange(connection, topology.exchange, aio_pika.ExchangeType.TOPIC)
        if topology.features.streams:  # kept from now on, for the tails to come
            for event_type in self.streams:
                await declare_stream(connection, topology, event_type, self.retention)

    async def _declare_dead_letters(self, consumer: str | None = None) -> None:
        """The dead-letter exchange and queue, bound for `consumer`'s dead letters."""
        topology, connection = self.topology, self.connection
        exchange = topology.dead_letter_exchange
        await declare_exchange(connection, exchange, aio_pika.ExchangeType.TOPIC)
        keys = [f"{consumer}.#"] if consumer is not None else []
        await declare_queue(
            connection,
            topology.dead_letters,
            topology.dead_letter_arguments(),
            bind=(exchange, keys),
        )

    async def close(self) -> None:
        """Stop every subscription and close the connection."""
        loops, self._loops = list(self._loops), set()
        await asyncio.gather(*(loop.stop() for loop in loops))
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        self._delays.clear()
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def ping(self) -> None:
        """Raise unless RabbitMQ answers and the events exchange exists (`rabbit_liveness`)."""
        connection = self.connection
        try:
            async with asyncio.timeout(self.publish_timeout):
                await liveness.ask(connection, self.topology.exchange)
        except Exception as exc:
            raise BusUnavailable(f"RabbitMQ at {self.where}: {exc!r}") from exc

    def message(self, event: Event) -> aio_pika.Message:
        """The AMQP message of an event."""
        headers: dict[str, Any] = {"traceparent": event.trace} if event.trace else {}
        return aio_pika.Message(
            event.to_bytes(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=event.id,
            type=event.type,
            timestamp=datetime.now(UTC),
            app_id=self.service,
            headers=headers,
        )

    async def publish(self, event: Event) -> None:
        """Publish one event and wait for the broker's confirmation."""
        await self.publish_many([event])

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Publish with at most `max_in_flight` unconfirmed, then await every confirmation."""
        exchange = self.exchange
        window = asyncio.Semaphore(self.max_in_flight)

        async def one(event: Event) -> None:
            try:
                await exchange.publish(self.message(event), event.type, mandatory=False)
            finally:
                window.release()

        confirms: list[asyncio.Task[None]] = []
        try:
            async with asyncio.timeout(self.publish_timeout + 0.01 * len(events)):
                for event in events:
                    await window.acquire()
                    confirms.append(asyncio.create_task(one(event)))
                await asyncio.gather(*confirms)
        except TimeoutError as exc:
            raise BusUnavailable(f"RabbitMQ at {self.where} did not confirm in time") from exc
        except DeliveryError as exc:
            raise BusError(f"RabbitMQ at {self.where} refused an event: {exc!r}") from exc
        except BusError:
            raise
        except Exception as exc:
            raise BusUnavailable(f"publish to RabbitMQ at {self.where} failed: {exc!r}") from exc
        finally:
            for confirm in confirms:
                if not confirm.done():
                    confirm.cancel()
            await asyncio.gather(*confirms, return_exceptions=True)

    async def subscribe(
        self,
        consumer: str,
        types: Sequence[str],
        handler: EventHandler,
        *,
        max_deliver: int = 5,
        batch_handler: BatchHandler | None = None,
    ) -> Subscription:
        """A durable queue named after `consumer`, bound to `types` (see EventBus)."""
        check_name("consumer", consumer)
        delivery = Delivery(
            self,
            consumer,
            handler,
            max_deliver=max_deliver,
            wanted=_wanted(types),
            batch_handler=batch_handler,
        )
        connection = self.connection
        keys = sorted({self.topology.binding_key(t) for t in types})
        try:
            await declare_queue(
                connection,
                delivery.queue,
                self.topology.consumer_arguments(consumer),
                bind=(self.topology.exchange, keys),
            )
        except Exception as exc:
            raise BusError(f"cannot create the queue of {consumer}: {exc!r}") from exc
        self._queues.add(delivery.queue)
        try:
            await self._declare_dead_letters(consumer)
        except Exception as exc:
            raise BusError(f"cannot declare the dead letters of {consumer}: {exc!r}") from exc
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        # Declared (passively) on its channel, so the consumer comes back after a reconnect.
        queue = await channel.declare_queue(delivery.queue, passive=True)
        loop = ConsumeLoop(channel, queue, delivery, name=consumer, process_many=delivery.batches)
        return await self.start_loop(loop)

    async def tail(
        self, types: Sequence[str], handler: EventHandler, *, since: timedelta
    ) -> Subscription:
        """The streams of `types` from `now - since` on, or only new events on old servers."""
        return await tail(self, types, handler, since=since)

    def remember_stream(self, name: str) -> None:
        """A stream this bus declared (deleted with the namespace)."""
        self._streams.add(name)

    async def start_loop(self, loop: ConsumeLoop) -> Subscription:
        """Run `loop` until it is stopped (by itself, or by `close()`)."""

        async def forget() -> None:
            self._loops.discard(loop)

        loop.on_stopped(forget)
        self._loops.add(loop)
        await loop.start()
        return loop

    async def publish_delayed(
        self, message: aio_pika.Message, *, consumer: str, delay: float
    ) -> None:
        """Send `message` back to `consumer`'s queue after `delay` seconds (its delay queue)."""
        delay_ms = milliseconds(delay)
        name, queue = self.topology.retry(consumer, delay_ms), self.topology.queue(consumer)
        if (consumer, delay_ms) not in self._delays:
            await declare_retry(self.connection, self.topology, consumer, delay_ms)
            self._delays.add((consumer, delay_ms))
        assert self._channel is not None
        exchange = await self._channel.get_exchange(name, ensure=False)
        await exchange.publish(message, queue, mandatory=False, timeout=self.publish_timeout)

    async def publish_dead_letter(
        self, *, consumer: str, event_type: str, payload: bytes, error: str, attempts: int
    ) -> None:
        """Keep a message a consumer gave up on in the dead-letter queue."""
        message = dead_letter_message(
            consumer=consumer, event_type=event_type, error=error, attempts=attempts,
            payload=payload,
        )  # fmt: skip
        assert self._channel is not None
        self.connection  # noqa: B018 - raises when not connected
        dlx = await self._channel.get_exchange(self.topology.dead_letter_exchange, ensure=False)
        key = self.topology.dead_letter_key(consumer, event_type)
        await dlx.publish(message, key, mandatory=False, timeout=self.publish_timeout)
        log.error(
            "dead-lettered %s for %s after %d attempt(s) as %s: %s",
            *(event_type, consumer, attempts, message.message_id, error),
        )

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest dead letters, at most `limit`."""
        await self._declare_dead_letters()
        return await DeadLetterQueue(self.connection, self.topology).list(limit)

    async def replay(self, dead_letter_id: str) -> None:
        """Send the event back to the consumer that failed it, then drop the dead letter."""
        await self._declare_dead_letters()
        letter = await DeadLetterQueue(self.connection, self.topology).replay(dead_letter_id)
        log.info(
            "replayed dead letter %s (%s for %s)", letter.id, letter.event_type, letter.consumer
        )

    async def delete_namespace(
        self, consumers: Iterable[str] = (), tails: Iterable[str] = (TOKEN_REVOKED,)
    ) -> None:
        """Stop every subscription, then delete this namespace's exchanges and queues (tests).

        AMQP cannot list a namespace's queues, so besides what this bus declared it deletes
        the queues of `consumers` (of other processes), their delay queues for every delay
        its backoff can produce and the streams of `tails`; a queue that is not there is no
        error.
        """
        loops, self._loops = list(self._loops), set()
        await asyncio.gather(*(loop.stop() for loop in loops))
        channel = await self.connection.channel()
        try:
            topology = self.topology
            names = set(consumers) | {topology.consumer_of(q) for q in self._queues}
            delays = self._delays | {(c, ms) for c in names for ms in self._every_delay}
            retries = sorted(topology.retry(consumer, ms) for consumer, ms in delays)
            queues = [topology.dead_letters, *self._queues, *self._streams]
            queues += [topology.queue(consumer) for consumer in consumers]
            queues += [topology.stream(t) for t in tails]
            queues += retries
            for name in queues:
                await channel.queue_delete(name, if_unused=False, if_empty=False)
            returns = [topology.retry_return(consumer) for consumer in sorted(names)]
            for name in [topology.exchange, topology.dead_letter_exchange, *retries, *returns]:
                await channel.exchange_delete(name, if_unused=False)
        finally:
            await channel.close()
