"""Integration tests of the event metrics, on NATS JetStream and on RabbitMQ.

An idempotent consumer behind the real bus counts each delivery by how it ended
(handled, retried, dead-lettered, forged), its redeliveries and its dead letters; its
lag is what the broker says waits for it; the outbox's backlog grows while the broker
cannot be reached and falls to 0 once the relay has published it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData
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
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.events.sampling import consumer_lag, outbox_backlog
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics, OutboxMetrics
from mercato.contracts.events import EventData, OrderCancelled, ProfileUpdated, UserRegistered
from tests.integration.conftest import Broker
from tests.support.metrics import sample

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]
REGISTERED, UPDATED = "user.registered", "user.profile_updated"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[Database, EventTables]]:
    metadata = MetaData()
    tables = event_tables(metadata)
    db = Database("sqlite+aiosqlite:///" + str(tmp_path / "service.db"))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield db, tables
    await db.dispose()


def of(data: EventData, source: str) -> Event:
    """An event of `data`'s type, claiming to come from `source`."""
    return Event.new(data.TYPE, subject="u1", data=data.model_dump(mode="json"), source=source)


def registered(n: int = 1) -> UserRegistered:
    return UserRegistered(user_id=f"u{n}", email=f"u{n}@example.com", name="U", roles=[])


def measured(broker: Broker, registry: CollectorRegistry) -> ConsumerMetrics:
    """The broker's bus counting its deliveries in `registry` (as `connect_bus` sets it)."""
    metrics = ConsumerMetrics("tests", registry)
    bus = broker.bus
    assert isinstance(bus, NatsBus | RabbitBus)
    bus.metrics = metrics
    return metrics


async def test_deliveries_are_counted_by_how_they_end(
    broker: Broker,
    service: tuple[Database, EventTables],
    eventually: Eventually,
) -> None:
    registry = CollectorRegistry(auto_describe=True)
    metrics = measured(broker, registry)
    db, tables = service
    seen: list[str] = []

    async def on_registered(session: AsyncSession, event: Event) -> None:
        seen.append(event.id)

    async def on_updated(session: AsyncSession, event: Event) -> None:
        raise RuntimeError("profiles are broken today")

    handlers = {REGISTERED: on_registered, UPDATED: on_updated}
    consumer = IdempotentConsumer(db, tables, "tests", handlers, max_deliver=2, metrics=metrics)
    await consumer.start(broker.bus)
    try:
        genuine = of(registered(), "auth")
        await broker.bus.publish(genuine)
        await broker.bus.publish(of(ProfileUpdated(user_id="u1", changed=["name"]), "users"))
        await broker.bus.publish(of(registered(2), "orders"))  # only auth publishes it

        def count(name: str, event_type: str, **labels: str) -> float:
            wanted = {"service": "tests", "event_type": event_type, **labels}
            return sample(registry, name, wanted)

        def settled() -> bool:
            outcomes = "events_handled_total"
            return (
                count(outcomes, REGISTERED, outcome="handled") == 1
                and count(outcomes, REGISTERED, outcome="forged") == 1
                and count(outcomes, UPDATED, outcome="dead_lettered") == 1
            )

        await eventually(settled, timeout=10.0, what="every delivery to end")
        assert seen == [genuine.id]
        assert count("events_handled_total", UPDATED, outcome="retried") == 1
        assert count("events_redeliveries_total", UPDATED) == 1
        assert count("events_redeliveries_total", REGISTERED) == 0
        assert count("events_dead_letters_total", UPDATED) == 1
        assert count("events_dead_letters_total", REGISTERED) == 1  # the forged one
        assert count("events_handler_duration_seconds_count", UPDATED) == 2
        assert count("events_handler_duration_seconds_count", REGISTERED) == 1
        assert len(await broker.bus.dead_letters()) == 2
        assert await consumer_lag(broker.bus, "tests") == 0
    finally:
        await consumer.stop()

    # Stopped: what is published now waits for the consumer.
    await broker.bus.publish_many([of(registered(n), "auth") for n in range(3, 6)])

    async def waiting() -> bool:
        return await consumer_lag(broker.bus, "tests") == 3

    await eventually(waiting, what="three events waiting for the consumer")
    with pytest.raises(BusUnavailable):
        await consumer_lag(broker.bus, "nobody")


async def test_the_backlog_grows_while_the_broker_is_away_and_falls_once_published(
    broker: Broker,
    service: tuple[Database, EventTables],
    eventually: Eventually,
) -> None:
    db, tables = service
    registry = CollectorRegistry(auto_describe=True)
    metrics = OutboxMetrics("orders", registry)
    dead = connect_bus(broker.dead_url, service="orders", namespace=broker.namespace)
    relay = OutboxRelay(db, tables, dead, min_backoff=0.02, max_backoff=0.1, metrics=metrics)
    orders = {"service": "orders"}
    cancelled = {**orders, "event_type": "order.cancelled"}
    await relay.start()
    try:
        outbox = Outbox(tables, source="orders")
        async with db.transaction() as session:
            for n in range(4):
                data = OrderCancelled(order_id=f"o{n}", user_id="u1", reason="test")
                await outbox.add(session, data, subject=f"o{n}")

        def failing() -> bool:
            return sample(registry, "outbox_publish_failures_total", orders) >= 2

        await eventually(failing, what="failed publishes")
        metrics.backlog(*await outbox_backlog(db, tables))
        assert sample(registry, "outbox_backlog_events", orders) == 4
        assert sample(registry, "outbox_oldest_event_age_seconds", orders) > 0
        assert sample(registry, "outbox_published_total", cancelled) == 0

        relay.bus = broker.bus  # the broker is back

        async def drained() -> bool:
            metrics.backlog(*await outbox_backlog(db, tables))
            return sample(registry, "outbox_backlog_events", orders) == 0

        await eventually(drained, what="the backlog published")
    finally:
        await relay.stop()
        await dead.close()
    assert sample(registry, "outbox_oldest_event_age_seconds", orders) == 0
    assert sample(registry, "outbox_published_total", cancelled) == 4
    assert await broker.published() == 4
