"""Integration tests of the whole event path, on NATS JetStream and on RabbitMQ.

A producer's transaction writes the outbox, the relay publishes it, and an
idempotent consumer in another service's database applies it exactly once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import Database
from mercato.chassis.events import (
    BusUnavailable,
    Event,
    EventTables,
    IdempotentConsumer,
    Outbox,
    OutboxRelay,
    connect_bus,
    event_tables,
)
from mercato.contracts.events import OrderCancelled
from tests.integration.conftest import Broker
from tests.support.events import DemoPlaced

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]


@dataclass
class Service:
    """One service's database, event tables and a table its handlers write."""

    db: Database
    tables: EventTables
    effects: Table

    async def count(self, table: Table) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)

    async def effect_subjects(self) -> list[str]:
        async with self.db.session() as session:
            query = select(self.effects.c.subject).order_by(self.effects.c.subject)
            return list(await session.scalars(query))


async def open_service(path: Path) -> Service:
    metadata = MetaData()
    tables = event_tables(metadata)
    effects = Table(
        "effects",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("subject", String(64)),
    )
    db = Database("sqlite+aiosqlite:///" + str(path))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return Service(db, tables, effects)


@pytest.fixture
async def producer(tmp_path: Path) -> AsyncIterator[Service]:
    service = await open_service(tmp_path / "orders.db")
    yield service
    await service.db.dispose()


@pytest.fixture
async def consumer_side(tmp_path: Path) -> AsyncIterator[Service]:
    service = await open_service(tmp_path / "audit.db")
    yield service
    await service.db.dispose()


def recording_handler(service: Service, calls: list[str]) -> Callable[..., Awaitable[None]]:
    async def handle(session: AsyncSession, event: Event) -> None:
        calls.append(event.id)
        row = {"event_id": event.id, "subject": event.subject}
        await session.execute(insert(service.effects).values(**row))

    return handle


async def test_outbox_to_relay_to_consumer(
    producer: Service, consumer_side: Service, broker: Broker, eventually: Eventually
) -> None:
    calls: list[str] = []
    consumer = IdempotentConsumer(
        consumer_side.db,
        consumer_side.tables,
        "audit",
        {"demo.placed": recording_handler(consumer_side, calls)},
    )
    await consumer.start(broker.bus)
    relay = OutboxRelay(producer.db, producer.tables, broker.bus, poll_interval=30.0)
    await relay.start()
    outbox = Outbox(producer.tables, source="orders")
    try:
        started = time.monotonic()
        async with producer.db.transaction() as session:
            for i in range(3):
                await outbox.add(session, DemoPlaced(n=i), subject=f"o{i}")
            cancelled = OrderCancelled(order_id="o0", user_id="u", reason="requested")
            await outbox.add(session, cancelled, subject="o0")
        # Woken by the commit, not by the 30s poll.
        await eventually(lambda: len(calls) == 3, timeout=5.0, what="three handled events")
        print(f"commit to handled: {(time.monotonic() - started) * 1000:.1f} ms")
    finally:
        await relay.stop()
        await consumer.stop()
    assert await consumer_side.effect_subjects() == ["o0", "o1", "o2"]
    assert await consumer_side.count(consumer_side.tables.inbox) == 3
    async with producer.db.session() as session:
        published = select(func.count()).where(producer.tables.outbox.c.published_at.is_not(None))
        assert await session.scalar(published) == 4


async def test_a_redelivered_event_has_one_effect(
    consumer_side: Service, broker: Broker, eventually: Eventually
) -> None:
    calls: list[str] = []
    handler = recording_handler(consumer_side, calls)
    consumer = IdempotentConsumer(
        consumer_side.db, consumer_side.tables, "audit", {"demo.placed": handler}
    )
    await consumer.start(broker.bus)
    try:
        event = Event.new("demo.placed", subject="o1", data={}, source="orders")
        await broker.bus.publish(event)
        # The same event again without its de-duplication id: the broker delivers it.
        await broker.publish_raw(event.type, event.to_bytes())
        sentinel = Event.new("demo.placed", subject="o2", data={}, source="orders")
        await broker.bus.publish(sentinel)
        await eventually(lambda: sentinel.id in calls, what="the sentinel")
    finally:
        await consumer.stop()
    assert calls == [event.id, sentinel.id]
    assert await consumer_side.effect_subjects() == ["o1", "o2"]
    assert await consumer_side.count(consumer_side.tables.inbox) == 2


async def test_contract_violation_is_dead_lettered_at_once(
    consumer_side: Service, broker: Broker, eventually: Eventually
) -> None:
    calls: list[str] = []
    handler = recording_handler(consumer_side, calls)
    consumer = IdempotentConsumer(
        consumer_side.db, consumer_side.tables, "users", {"user.registered": handler}
    )
    await consumer.start(broker.bus)
    try:
        bad = Event.new("user.registered", subject="u1", data={"user_id": "u1"}, source="auth")
        await broker.bus.publish(bad)

        async def dead_lettered() -> bool:
            return len(await broker.bus.dead_letters()) == 1

        await eventually(dead_lettered, what="the invalid event in the DLQ")
    finally:
        await consumer.stop()
    [letter] = await broker.bus.dead_letters()
    assert letter.attempts == 1 and letter.consumer == "users"
    assert "breaks its contract" in letter.error and "email" in letter.error
    assert calls == []


async def test_relay_keeps_rows_while_the_broker_is_unreachable(
    producer: Service, broker: Broker, eventually: Eventually
) -> None:
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.id)

    # The checking consumer exists before anything is published (RabbitMQ routes
    # an event only to the queues bound at the time), and takes it later.
    await (await broker.bus.subscribe("check", ["demo.placed"], record)).stop()
    dead = connect_bus(broker.dead_url, service="orders", namespace=broker.namespace)
    with pytest.raises(BusUnavailable):
        await dead.connect()
    relay = OutboxRelay(producer.db, producer.tables, dead, min_backoff=0.02, max_backoff=0.1)
    await relay.start()
    outbox = Outbox(producer.tables, source="orders")
    try:
        async with producer.db.transaction() as session:
            written = [await outbox.add(session, DemoPlaced(), subject=f"o{i}") for i in range(5)]
        attempts = producer.tables.outbox.c.attempts

        async def retried() -> bool:
            async with producer.db.session() as session:
                return bool(await session.scalar(select(func.min(attempts))) >= 2)

        await eventually(retried, what="several failed attempts")
        assert await broker.published() == 0

        relay.bus = broker.bus  # the broker is back

        async def all_published() -> bool:
            return await broker.published() == 5

        await eventually(all_published, what="the kept rows on the broker")
    finally:
        await relay.stop()
        await dead.close()
    async with producer.db.session() as session:
        unpublished = select(func.count()).where(producer.tables.outbox.c.published_at.is_(None))
        assert await session.scalar(unpublished) == 0
    await broker.bus.subscribe("check", ["demo.placed"], record)
    await eventually(lambda: len(seen) == 5, what="five deliveries")
    assert seen == [event.id for event in written]
