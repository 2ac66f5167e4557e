"""Unit tests of the event metrics on a SQLite file: the outbox's backlog, relay, consumer.

The relay publishes to a small in-memory bus that fails while `down` is set; the
consumer's handlers are called as a bus would call them. Whatever a bus does with a
failed delivery (retry or dead letter) is the integration tests' (real brokers).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import Database
from mercato.chassis.events import (
    BusUnavailable,
    Event,
    EventTables,
    IdempotentConsumer,
    Outbox,
    OutboxRelay,
    sampling,
)
from mercato.chassis.events.sampling import outbox_backlog
from mercato.chassis.telemetry.event_metrics import (
    OTHER_TYPE,
    ConsumerMetrics,
    OutboxMetrics,
    Outcome,
    type_label,
)
from mercato.contracts.events import UserRegistered
from tests.support.events import Sample
from tests.support.metrics import sample

SERVICE = {"service": "demo"}


class FlakyBus:
    """Keeps what is published; refuses everything while `down` is set."""

    def __init__(self) -> None:
        self.published: list[Event] = []
        self.down = False

    async def publish_many(self, events: Sequence[Event]) -> None:
        if self.down:
            raise BusUnavailable("broker down")
        self.published.extend(events)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def test_only_the_types_a_contract_names_are_labels() -> None:
    assert type_label("order.placed") == "order.placed"
    assert type_label("a.b") == OTHER_TYPE
    assert type_label("order.placed.x" * 20) == OTHER_TYPE


async def test_the_backlog_rises_while_the_broker_is_away_and_falls_once_published(
    db: Database, tables: EventTables, registry: CollectorRegistry
) -> None:
    metrics = OutboxMetrics("demo", registry)
    bus = FlakyBus()
    bus.down = True
    relay = OutboxRelay(db, tables, bus, metrics=metrics)  # type: ignore[arg-type]
    assert await outbox_backlog(db, tables) == (0, 0.0)
    outbox = Outbox(tables, source="demo")
    async with db.transaction() as session:
        for n in range(3):
            await outbox.add(session, Sample(), subject=str(n))

    with pytest.raises(BusUnavailable):
        await relay.publish_pending()
    with pytest.raises(BusUnavailable):
        await relay.publish_pending()
    metrics.backlog(*await outbox_backlog(db, tables))
    assert sample(registry, "outbox_backlog_events", SERVICE) == 3
    assert sample(registry, "outbox_oldest_event_age_seconds", SERVICE) > 0
    assert sample(registry, "outbox_publish_failures_total", SERVICE) == 2
    assert sample(registry, "outbox_published_total", {**SERVICE, "event_type": "other"}) == 0

    bus.down = False
    assert await relay.flush() == 3
    metrics.backlog(*await outbox_backlog(db, tables))
    assert sample(registry, "outbox_backlog_events", SERVICE) == 0
    assert sample(registry, "outbox_oldest_event_age_seconds", SERVICE) == 0
    assert sample(registry, "outbox_published_total", {**SERVICE, "event_type": "other"}) == 3
    assert sample(registry, "outbox_publish_failures_total", SERVICE) == 2


async def test_a_backlog_is_counted_up_to_a_bound_and_its_age_read_all_the_same(
    db: Database, tables: EventTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A count walks every row it counts; a broker away for hours must not make the
    # sample (in the event loop, on SQLite) as slow as the backlog is long.
    monkeypatch.setattr(sampling, "BACKLOG_COUNTED", 4)
    outbox = Outbox(tables, source="demo")
    async with db.transaction() as session:
        for n in range(3):
            await outbox.add(session, Sample(), subject=str(n))
    assert (await outbox_backlog(db, tables))[0] == 3
    async with db.transaction() as session:
        for n in range(6):
            await outbox.add(session, Sample(), subject=str(n))
    rows, oldest_age = await outbox_backlog(db, tables)
    assert rows == 4
    assert oldest_age > 0


async def test_the_consumer_counts_handled_and_duplicate_events_and_times_every_one(
    db: Database, tables: EventTables, registry: CollectorRegistry
) -> None:
    metrics = ConsumerMetrics("demo", registry)
    broken = True

    async def handler(session: AsyncSession, event: Event) -> None:
        if broken:
            raise RuntimeError("not now")

    consumer = IdempotentConsumer(db, tables, "demo", {"user.registered": handler}, metrics=metrics)
    data = UserRegistered(user_id="u1", email="a@example.com", name="A", roles=["customer"])
    event = Event.new(
        "user.registered", subject="u1", data=data.model_dump(mode="json"), source="auth"
    )
    labels = {**SERVICE, "event_type": "user.registered"}

    with pytest.raises(RuntimeError):
        await consumer.handle(event)  # the delivery decides: retried or dead-lettered
    broken = False
    await consumer.handle(event)
    await consumer.handle(event)

    def outcome(name: Outcome) -> float:
        return sample(registry, "events_handled_total", {**labels, "outcome": name.value})

    assert outcome(Outcome.HANDLED) == 1
    assert outcome(Outcome.DUPLICATE) == 1
    assert outcome(Outcome.RETRIED) == outcome(Outcome.DEAD_LETTERED) == 0
    assert sample(registry, "events_handler_duration_seconds_count", labels) == 3
    assert sample(registry, "events_dead_letters_total", labels) == 0


def test_a_dead_letter_counts_as_an_outcome_and_a_dead_letter(
    registry: CollectorRegistry,
) -> None:
    metrics = ConsumerMetrics("demo", registry)
    metrics.handled("order.placed", Outcome.FORGED)
    metrics.handled("made.up", Outcome.DEAD_LETTERED)
    metrics.redelivered("order.placed")
    metrics.lag("demo", 7)
    assert sample(registry, "events_dead_letters_total", {**SERVICE, "event_type": "order.placed"})
    assert sample(registry, "events_dead_letters_total", {**SERVICE, "event_type": "other"}) == 1
    forged = {**SERVICE, "event_type": "order.placed", "outcome": "forged"}
    assert sample(registry, "events_handled_total", forged) == 1
    redelivered = {**SERVICE, "event_type": "order.placed"}
    assert sample(registry, "events_redeliveries_total", redelivered) == 1
    lag = {**SERVICE, "consumer": "demo"}
    assert sample(registry, "events_consumer_lag_events", lag) == 7
    metrics.lag("demo", None)  # unknown now: no stale figure stays
    assert registry.get_sample_value("events_consumer_lag_events", lag) is None
    metrics.lag("demo", None)
