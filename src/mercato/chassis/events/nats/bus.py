"""The event bus over NATS JetStream.

Layout, for the default namespace `MERCATO`:

    stream MERCATO_EVENTS   subjects mercato.events.>   event "user.registered" is
                            published on mercato.events.user.registered
    stream MERCATO_DLQ      subjects mercato.dlq.>      a dead letter of consumer "audit"
                            is kept on mercato.dlq.audit.<event type>

Both streams use file storage, with `replicas` copies of each message, and are
declared on connect (`nats_streams`): a stream that exists with another
configuration is brought up to what this client needs, its replicas never lowered,
or kept as it is (with a warning) when this client's broker user may not change it
(the operator's right). The URL may list a cluster's servers, comma-separated
(`broker_urls`). Every
event is published with `Nats-Msg-Id` set to the event id, so the stream drops a
duplicate sent within the two-minute de-duplication window (a relay that crashed
between publishing and marking its rows, or two relays sharing a database).
Another namespace gives a separate set of streams on the same server (tests use
that to stay apart).

A durable subscription is a pull consumer named after the consumer, filtered on its
event types (`filter_subjects`, NATS 2.10+; on older servers it takes every event
and the types are checked here). Redelivery is driven by this client: a failed
event is `nak`ed with a growing delay, and its delivery count decides when it goes
to the dead letters, so the server's own `max_deliver` is unlimited. A type added
to an existing consumer is delivered from then on, not from the stream's start.
The type `">"` subscribes to every event type (subject `mercato.events.>`). A consumer
of one type names it in the create request's subject (NATS 2.9+), so that a broker
permission can pin the consumer's filter (`mercato.chassis.events.permissions`); the
client's reply inboxes are `_INBOX.<service>.` for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from mercato.chassis.events.broker_urls import nats_login, shown_servers
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
from mercato.chassis.events.names import (
    check_name,
    check_namespace,
    events_stream,
    events_subject,
    inbox_prefix,
)
from mercato.chassis.events.nats import dead_letters as nats_dead_letters
from mercato.chassis.events.nats.dead_letters import MSG_ID
from mercato.chassis.events.nats.delivery import Delivery
from mercato.chassis.events.nats.streams import declare_stream
from mercato.chassis.events.nats.subscription import PullLoop
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics

__all__ = ["NatsBus"]

log = logging.getLogger("mercato.events")


class NatsBus:
    """EventBus over NATS JetStream (see the module docstring for the layout)."""

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
        fetch_batch: int = 64,
        fetch_timeout: float = 1.0,
        ack_wait: float = 30.0,
        retention: timedelta = EVENT_RETENTION,
        replicas: int | None = 1,
    ) -> None:
        self.url = url
        self.service = service
        self.namespace = check_namespace(namespace)
        self.stream = events_stream(namespace)
        self.dlq_stream = f"{namespace}_DLQ"
        self.events_prefix = events_subject(namespace, "")
        self.dlq_prefix = f"{namespace.lower()}.dlq."
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_in_flight = max_in_flight
        self.publish_timeout = publish_timeout
        self.fetch_batch = fetch_batch
        self.fetch_timeout = fetch_timeout
        self.ack_wait = ack_wait
        self.retention = retention
        self.replicas = replicas  # of each stream; None: as they are (the operator's tools)
        self._login = nats_login(url)
        self._where = shown_servers(url)  # no credentials in logs
        self._nc: Any = None
        self._js: Any = None
        self._loops: set[PullLoop] = set()
        self.metrics: ConsumerMetrics | None = None  # its deliveries count (connect_bus)

    def subject(self, event_type: str) -> str:
        """The broker subject of an event type."""
        return self.events_prefix + event_type

    @property
    def js(self) -> Any:
        """The JetStream context; BusUnavailable before `connect()` or after `close()`."""
        if self._js is None or self._nc is None or self._nc.is_closed:
            raise BusUnavailable(f"not connected to NATS at {self._where}")
        return self._js

    async def connect(self) -> None:
        """Connect and declare the streams; BusUnavailable if NATS does not answer."""
        if self._nc is not None and not self._nc.is_closed:
            return
        try:
            # Two quick attempts at each server for the first connection, so a caller
            # retrying in a loop gets an answer; once connected, reconnect forever. The
            # credentials go apart, so that they hold for the servers it discovers too.
            login = self._login
            nc = await nats.connect(
                login.servers,
                user=login.user,
                password=login.password,
                token=login.token,
                name=self.service,
                inbox_prefix=inbox_prefix(self.service),
                connect_timeout=2,
                reconnect_time_wait=0.5,
                max_reconnect_attempts=1,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
        except Exception as exc:
            raise BusUnavailable(f"NATS not reachable at {self._where}: {exc}") from exc
        nc.options["max_reconnect_attempts"] = -1
        js = nc.jetstream(timeout=self.publish_timeout)
        try:
            await self._declare_streams(js)
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js

    async def _declare_streams(self, js: Any) -> None:
        configs = [
            StreamConfig(
                name=self.stream,
                subjects=[self.events_prefix + ">"],
                storage=StorageType.FILE,
                duplicate_window=120.0,
                max_age=self.retention.total_seconds(),
            ),
            StreamConfig(
                name=self.dlq_stream,
                subjects=[self.dlq_prefix + ">"],
                storage=StorageType.FILE,
                duplicate_window=120.0,
            ),
        ]
        events, dead_letters = configs
        has = await declare_stream(js, events, replicas=self.replicas)
        await declare_stream(js, dead_letters, replicas=self.replicas, like=has)

    async def _on_error(self, exc: Exception) -> None:
        if self._nc is None:
            return  # a failed first connection: connect() raises it to the caller
        # While reconnecting every failed attempt lands here: keep those quiet.
        level = logging.WARNING if self._nc.is_connected else logging.DEBUG
        log.log(level, "NATS at %s: %s", self._where, exc or type(exc).__name__)

    async def _on_disconnected(self) -> None:
        if self._nc is None or self._nc.is_closed:
            return  # closed on purpose
        log.warning("disconnected from NATS at %s; reconnecting", self._where)

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS at %s", self._where)

    async def close(self) -> None:
        """Stop every subscription and close the connection."""
        loops, self._loops = list(self._loops), set()
        await asyncio.gather(*(loop.stop() for loop in loops))
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            await nc.close()

    async def ping(self) -> None:
        """Raise unless JetStream answers and the events stream exists."""
        try:
            await self.js.stream_info(self.stream)
        except BusError:
            raise
        except Exception as exc:
            raise BusUnavailable(f"NATS at {self._where}: {exc or type(exc).__name__}") from exc

    def _headers(self, event: Event) -> dict[str, str]:
        headers = {MSG_ID: event.id}
        if event.trace:
            headers["traceparent"] = event.trace
        return headers

    async def publish(self, event: Event) -> None:
        """Publish one event and wait for the stream's acknowledgement."""
        await self.publish_many([event])

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Publish with at most `max_in_flight` unacknowledged, then await every ack."""
        js = self.js
        window = asyncio.Semaphore(self.max_in_flight)
        acks: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self.publish_timeout + 0.01 * len(events)):
                for event in events:
                    await window.acquire()
                    ack = await js.publish_async(
                        self.subject(event.type), event.to_bytes(), headers=self._headers(event)
                    )
                    ack.add_done_callback(lambda _: window.release())
                    acks.append(ack)
                await asyncio.gather(*acks)
        except TimeoutError as exc:
            raise BusUnavailable(f"NATS at {self._where} did not acknowledge in time") from exc
        except BusError:
            raise
        except Exception as exc:
            raise BusUnavailable(f"publish to NATS at {self._where} failed: {exc!r}") from exc
        finally:
            for ack in acks:
                if not ack.done():
                    ack.cancel()  # frees the client's slot for it
                elif not ack.cancelled():
                    ack.exception()  # retrieved, so asyncio does not log it again

    async def subscribe(
        self,
        consumer: str,
        types: Sequence[str],
        handler: EventHandler,
        *,
        max_deliver: int = 5,
        batch_handler: BatchHandler | None = None,
    ) -> Subscription:
        """A durable pull consumer named `consumer` for `types` (see EventBus)."""
        check_name("consumer", consumer)
        js = self.js
        config = ConsumerConfig(
            name=consumer,
            durable_name=consumer,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=1000,
        )
        wanted = self._filter(config, types, durable=True)
        try:
            await js.add_consumer(self.stream, config)
        except Exception as exc:  # refused, or unanswered (a broker user without the right)
            raise BusError(f"cannot create consumer {consumer}: {exc or repr(exc)}") from exc
        pull = await js.pull_subscribe_bind(durable=consumer, stream=self.stream)
        delivery = Delivery(
            self,
            consumer,
            handler,
            max_deliver=max_deliver,
            wanted=wanted,
            batch_handler=batch_handler,
        )
        return self._start(pull, delivery, consumer)

    async def tail(
        self, types: Sequence[str], handler: EventHandler, *, since: timedelta
    ) -> Subscription:
        """An ephemeral consumer from `now - since` on (see EventBus).

        Its consumer is kept in the server's memory; after a server restart the loop
        binds to a new one from `now - since` again (a repeat is harmless to a tail).
        """
        current = ""
        wanted: frozenset[str] | None = None

        async def bind() -> Any:
            nonlocal current, wanted
            name = f"{self.service}-tail-{uuid.uuid4().hex[:12]}"
            config = ConsumerConfig(
                name=name,
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=datetime.now(UTC) - since,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=max(60.0, self.fetch_timeout * 10),
                mem_storage=True,
            )
            wanted = self._filter(config, types, durable=False)
            await self.js.add_consumer(self.stream, config)
            pull = await self.js.pull_subscribe_bind(name=name, stream=self.stream)
            current = name
            return pull

        pull = await bind()
        delivery = Delivery(self, current, handler, wanted=wanted, acks=False)

        async def delete() -> None:
            try:
                await self.js.delete_consumer(self.stream, current)
            except Exception as exc:  # it expires on its own after inactive_threshold
                log.debug("deleting tail consumer %s: %s", current, exc)

        return self._start(pull, delivery, current, acks=False, cleanup=delete, rebind=bind)

    def _start(
        self,
        pull: Any,
        delivery: Delivery,
        name: str,
        *,
        acks: bool = True,
        cleanup: Callable[[], Awaitable[None]] | None = None,
        rebind: Callable[[], Awaitable[Any]] | None = None,
    ) -> Subscription:
        async def finish() -> None:
            self._loops.discard(loop)
            if cleanup is not None:
                await cleanup()

        loop = PullLoop(
            pull,
            delivery,
            process_many=delivery.batches,
            name=name,
            batch=self.fetch_batch,
            timeout=self.fetch_timeout,
            acks=acks,
            cleanup=finish,
            rebind=rebind,
        )
        self._loops.add(loop)
        loop.start()
        return loop

    def _filter(
        self, config: ConsumerConfig, types: Sequence[str], *, durable: bool
    ) -> frozenset[str] | None:
        """Filter `config` on `types`; the types left for the client to check, if any."""
        if ">" in types:  # every event type (`ALL_EVENTS`): one wildcard, nothing to check
            config.filter_subject = self.events_prefix + ">"
            return None
        subjects = sorted({self.subject(t) for t in types})
        version = self._nc.connected_server_version
        if len(subjects) == 1 and (not durable or (version.major, version.minor) >= (2, 10)):
            config.filter_subject = subjects[0]  # named in the create subject too
            return None
        if (version.major, version.minor) >= (2, 10):
            config.filter_subjects = subjects
            return None
        # Older servers filter on one subject only and mishandle a durable consumer's
        # changed filter, so such a consumer takes every event and the client checks.
        config.filter_subject = self.events_prefix + ">"
        return frozenset(types)

    async def publish_dead_letter(
        self, *, consumer: str, subject: str, payload: bytes, error: str, attempts: int, seq: int
    ) -> None:
        """Keep a message a consumer gave up on in the dead-letter stream."""
        await nats_dead_letters.publish(
            self, consumer=consumer, subject=subject, payload=payload, error=error,
            attempts=attempts, seq=seq,
        )  # fmt: skip

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest dead letters, at most `limit`."""
        return await nats_dead_letters.oldest(self, limit)

    async def replay(self, dead_letter_id: str) -> None:
        """Publish the event again with a new message id, then drop the dead letter."""
        await nats_dead_letters.replay(self, dead_letter_id)

    async def delete_streams(self) -> None:
        """Stop every subscription, then delete this namespace's streams (for tests)."""
        loops, self._loops = list(self._loops), set()
        await asyncio.gather(*(loop.stop() for loop in loops))
        for stream in (self.stream, self.dlq_stream):
            with contextlib.suppress(NotFoundError):
                await self.js.delete_stream(stream)
