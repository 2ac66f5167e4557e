"""Unit tests of the outbox and inbox tables on a SQLite file: writing and consuming."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, MetaData, String, Table, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import Database
from mercato.chassis.events import (
    Event,
    EventTables,
    IdempotentConsumer,
    Outbox,
    PoisonEvent,
    create_event_tables,
    drop_event_tables,
    event_tables,
)
from mercato.contracts.events import Money, PaymentRefunded
from tests.support.events import ProfileUpdatedV2, Sample


@pytest.fixture
async def schema(db: Database) -> tuple[MetaData, EventTables, Table]:
    metadata = MetaData()
    tables = event_tables(metadata)
    effects = Table("effects", metadata, Column("event_id", String(64), primary_key=True))
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return metadata, tables, effects


async def outbox_rows(db: Database, tables: EventTables) -> list[dict[str, Any]]:
    async with db.session() as session:
        query = select(tables.outbox).order_by(tables.outbox.c.created_at)
        return [dict(row) for row in (await session.execute(query)).mappings()]


async def test_add_writes_the_envelope_in_the_callers_transaction(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, _ = schema
    outbox = Outbox(tables, source="users")
    async with db.transaction() as session:
        event = await outbox.add(session, ProfileUpdatedV2(changed=["bio"]), subject="u1")
    [row] = await outbox_rows(db, tables)
    assert (row["id"], row["type"], row["subject"], row["version"]) == (
        event.id,
        "user.profile_updated",
        "u1",
        2,
    )
    assert row["published_at"] is None and row["attempts"] == 0
    stored = Event.from_bytes(row["payload"])
    assert stored == event and stored.source == "users"


async def test_nothing_is_written_when_the_caller_rolls_back(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, _ = schema
    outbox = Outbox(tables, source="users")
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await outbox.add(session, Sample(), subject="s")
            raise RuntimeError("the state change failed")
    assert await outbox_rows(db, tables) == []


async def test_commit_rings_the_doorbell_and_rows_keep_their_order(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, _ = schema
    outbox = Outbox(tables, source="users")
    bell = tables.doorbell.listen()
    async with db.session() as session:
        events = [await outbox.add(session, Sample(), subject=str(i)) for i in range(50)]
        assert not bell.is_set()
        await session.commit()
    assert bell.is_set()
    rows = await outbox_rows(db, tables)
    assert [r["id"] for r in rows] == [e.id for e in events]
    assert len({r["created_at"] for r in rows}) == 50
    bell.clear()
    async with db.session() as session:  # a second transaction in a new session rings again
        await outbox.add(session, Sample(), subject="x")
        await session.commit()
    assert bell.is_set()
    tables.doorbell.forget(bell)


async def test_migration_helpers_create_what_event_tables_declares(tmp_path: Path) -> None:
    db = Database("sqlite+aiosqlite:///" + str(tmp_path / "migrated.db"))

    def migrate(conn: Connection) -> dict[str, Sequence[str | None]]:
        op = Operations(MigrationContext.configure(conn))
        create_event_tables(op)
        create_event_tables(op, prefix="users_")
        found = inspect(conn)
        shape: dict[str, Sequence[str | None]] = {
            name: sorted(c["name"] for c in found.get_columns(name))
            for name in found.get_table_names()
        }
        shape["indexes"] = [i["name"] for i in found.get_indexes("outbox")]
        shape["inbox_pk"] = found.get_pk_constraint("inbox")["constrained_columns"]
        drop_event_tables(op, prefix="users_")
        shape["after_drop"] = sorted(inspect(conn).get_table_names())
        return shape

    try:
        async with db.engine.begin() as conn:
            shape = await conn.run_sync(migrate)
    finally:
        await db.dispose()
    declared = event_tables(MetaData())
    assert shape["outbox"] == sorted(declared.outbox.c.keys())
    assert shape["inbox"] == sorted(declared.inbox.c.keys())
    assert shape["users_outbox"] == shape["outbox"]
    assert shape["indexes"] == ["ix_outbox_unpublished"]
    assert shape["inbox_pk"] == ["event_id", "consumer"]
    assert shape["after_drop"] == ["inbox", "outbox"]


async def test_consumer_has_one_effect_per_event(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, effects = schema
    calls: list[str] = []

    async def handler(session: AsyncSession, event: Event) -> None:
        calls.append(event.id)
        await session.execute(insert(effects).values(event_id=event.id))

    consumer = IdempotentConsumer(db, tables, "audit", {"demo.placed": handler})
    event = Event.new("demo.placed", subject="o1", data={}, source="orders")
    for _ in range(3):
        await consumer.handle(event)
    await consumer.handle(Event.new("other.thing", subject="x", data={}, source="y"))
    assert calls == [event.id]
    async with db.session() as session:
        assert list(await session.scalars(select(effects.c.event_id))) == [event.id]
        inbox = (await session.execute(select(tables.inbox))).mappings().all()
    assert [(r["event_id"], r["consumer"]) for r in inbox] == [(event.id, "audit")]


async def test_a_failing_handler_leaves_no_trace_and_runs_again(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, effects = schema
    attempts = 0

    async def flaky(session: AsyncSession, event: Event) -> None:
        nonlocal attempts
        attempts += 1
        await session.execute(insert(effects).values(event_id=event.id))
        if attempts == 1:
            raise ConnectionError("downstream hiccup")

    consumer = IdempotentConsumer(db, tables, "audit", {"demo.placed": flaky})
    event = Event.new("demo.placed", subject="o1", data={}, source="orders")
    with pytest.raises(ConnectionError):
        await consumer.handle(event)
    await consumer.handle(event)
    await consumer.handle(event)
    assert attempts == 2
    async with db.session() as session:
        assert list(await session.scalars(select(effects.c.event_id))) == [event.id]


async def test_another_consumer_has_its_own_inbox(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, _ = schema
    seen: list[str] = []

    async def record(session: AsyncSession, event: Event) -> None:
        seen.append(event.id)

    event = Event.new("demo.placed", subject="o1", data={}, source="orders")
    for name in ("audit", "mailer", "audit"):
        await IdempotentConsumer(db, tables, name, {"demo.placed": record}).handle(event)
    assert seen == [event.id, event.id]


async def test_contract_violation_is_poison_and_runs_no_handler(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, _ = schema
    ran = asyncio.Event()

    async def handler(session: AsyncSession, event: Event) -> None:
        ran.set()

    consumer = IdempotentConsumer(db, tables, "users", {"user.registered": handler})
    bad = Event.new("user.registered", subject="u1", data={"user_id": "u1"}, source="auth")
    with pytest.raises(PoisonEvent, match="breaks its contract"):
        await consumer.handle(bad)
    assert not ran.is_set()
    good = {"user_id": "u1", "email": "a@example.com", "name": "A", "roles": ["customer"]}
    await consumer.handle(Event.new("user.registered", subject="u1", data=good, source="auth"))
    assert ran.is_set()


async def test_an_outbox_refuses_another_services_event_type(
    db: Database, schema: tuple[MetaData, EventTables, Table]
) -> None:
    _, tables, _ = schema
    refunded = PaymentRefunded(
        payment_id="p",
        refund_id="r",
        order_id="o",
        user_id="u",
        amount=Money(amount=1, currency="USD"),
        reason="x",
    )
    async with db.session() as session:
        with pytest.raises(ValueError, match=r"catalog may not publish payment\.refunded"):
            await Outbox(tables, source="catalog").add(session, refunded, subject="p1")
        await Outbox(tables, source="payments").add(session, refunded, subject="p")
        await session.commit()
    assert [row["type"] for row in await outbox_rows(db, tables)] == ["payment.refunded"]


@pytest.mark.parametrize("handled", ["payment.refunded", ">"])
async def test_an_event_from_another_source_than_its_producer_is_poison(
    db: Database, schema: tuple[MetaData, EventTables, Table], handled: str
) -> None:
    """Even a handler of every event (an audit log) never sees a forged one."""
    _, tables, _ = schema
    seen: list[str] = []

    async def handler(session: AsyncSession, event: Event) -> None:
        seen.append(event.source)

    consumer = IdempotentConsumer(db, tables, "audit", {handled: handler})
    data = {
        "payment_id": "p",
        "refund_id": "r",
        "order_id": "o",
        "user_id": "u",
        "amount": {"amount": 1, "currency": "USD"},
        "reason": "x",
    }
    forged = Event.new("payment.refunded", subject="p", data=data, source="catalog")
    with pytest.raises(PoisonEvent, match="claims source 'catalog'"):
        await consumer.handle(forged)
    await consumer.handle(Event.new("payment.refunded", subject="p", data=data, source="payments"))
    assert seen == ["payments"]
