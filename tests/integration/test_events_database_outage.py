"""A consumer's database goes away for longer than its attempts last: no event is lost.

The consumer reaches a real PostgreSQL through a small TCP relay that the test can
cut: while cut, the relay drops every connection it carries and closes every new one
at once (as a server that restarts, or a name that does not resolve, fails a
connect). An event delivered meanwhile fails on every attempt because the database is
unavailable, not because of the event, so it must be retried past `max_deliver`, never
dead-lettered, and handled exactly once when the database is back. Before the fix a
consumer gave such an event to the dead letters after `max_deliver` failed attempts
(1 + 2 + 4 + 8 s with the default delays, less than a PostgreSQL restart), and the
audit log of the container suite missed it. On NATS JetStream and on RabbitMQ.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import Database
from mercato.chassis.events import DependencyUnavailable, Event, IdempotentConsumer, event_tables
from tests.integration.conftest import Broker
from tests.support.servers import fresh_postgres_database

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]
MAX_DELIVER = 2


class Relay:
    """A TCP relay to PostgreSQL that can be cut (connections dropped and refused)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.cut = False
        self.refuse_next = 0  # new connections to close at once, though not cut
        self.refused = 0  # connections closed at once while cut: the consumer's attempts
        self._carried: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        self.sever()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def sever(self) -> None:
        """Cut: drop what is carried now, and close every new connection at once."""
        self.cut = True
        for writer in list(self._carried):
            writer.close()
        self._carried.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut or self.refuse_next > 0:
            self.refuse_next = max(self.refuse_next - 1, 0)
            self.refused += 1
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._carried |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._carried.discard(writer)


@pytest.fixture
async def relay_and_url() -> AsyncIterator[tuple[Relay, str]]:
    """A fresh database, and its URL through a relay the test can cut."""
    async with fresh_postgres_database("outage") as direct:
        url = make_url(direct)
        relay = Relay(url.host or "127.0.0.1", url.port or 5432)
        await relay.start()
        try:
            yield relay, url.set(host="127.0.0.1", port=relay.port).render_as_string(False)
        finally:
            await relay.stop()


async def test_an_outage_longer_than_the_attempts_loses_no_event(
    broker: Broker, eventually: Eventually, relay_and_url: tuple[Relay, str]
) -> None:
    relay, url = relay_and_url
    metadata = MetaData()
    tables = event_tables(metadata)
    effects = Table("effects", metadata, Column("event_id", String(64), primary_key=True))
    db = Database(url, pool_size=2)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)

    async def record(session: AsyncSession, event: Event) -> None:
        await session.execute(insert(effects).values(event_id=event.id))

    async def recorded() -> list[str]:
        async with db.session() as session:
            return list(await session.scalars(select(effects.c.event_id)))

    consumer = IdempotentConsumer(
        db, tables, "audit", {"demo.placed": record}, max_deliver=MAX_DELIVER
    )
    await consumer.start(broker.bus)
    try:
        before = Event.new("demo.placed", subject="o1", data={}, source="orders")
        await broker.bus.publish(before)

        async def first_handled() -> bool:
            return await recorded() == [before.id]

        await eventually(first_handled, what="the event before the outage")

        relay.sever()  # the pool's connection is dropped too: its next use fails
        during = Event.new("demo.placed", subject="o2", data={}, source="orders")
        await broker.bus.publish(during)
        # Twice as many attempts as max_deliver, each failed for want of the database.
        await eventually(
            lambda: relay.refused >= 2 * MAX_DELIVER, timeout=15.0, what="attempts in the outage"
        )
        assert await broker.bus.dead_letters() == []

        relay.cut = False

        async def both_handled() -> bool:
            return sorted(await recorded()) == sorted([before.id, during.id])

        await eventually(both_handled, timeout=15.0, what="the event after the outage")
        assert await broker.bus.dead_letters() == []
        async with db.session() as session:
            claimed = list(await session.scalars(select(tables.inbox.c.event_id)))
        assert sorted(claimed) == sorted([before.id, during.id])  # each handled once
    finally:
        await consumer.stop()
        await db.dispose()


async def test_a_claim_that_cannot_connect_is_an_outage_though_the_database_is_back_at_once(
    relay_and_url: tuple[Relay, str],
) -> None:
    # The database refuses the claim's new connection and answers the ping just after
    # (it came back in between): the failure is still the database's, not the event's.
    relay, url = relay_and_url
    metadata = MetaData()
    tables = event_tables(metadata)
    db = Database(url, pool_size=2)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)

    async def record(session: AsyncSession, event: Event) -> None:
        return None

    consumer = IdempotentConsumer(db, tables, "audit", {"demo.placed": record})
    try:
        await db.engine.dispose()  # no pooled connection: the claim opens a new one
        relay.refuse_next = 1
        event = Event.new("demo.placed", subject="o1", data={}, source="orders")
        with pytest.raises(DependencyUnavailable):
            await consumer.handle(event)
        assert relay.refused == 1 and relay.refuse_next == 0
        await consumer.handle(event)  # and the next attempt handles it
        async with db.session() as session:
            claimed = list(await session.scalars(select(tables.inbox.c.event_id)))
        assert claimed == [event.id]
    finally:
        await db.dispose()
