"""Unit tests of the outbox relay on a SQLite file, with small in-memory buses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from mercato.chassis.data.database import Database
from mercato.chassis.events import (
    EVENT_RETENTION,
    BusUnavailable,
    Event,
    EventTables,
    Outbox,
    OutboxRelay,
)
from tests.support.events import Sample


class RecordingBus:
    """Keeps what is published; fails while `down` is set."""

    def __init__(self) -> None:
        self.published: list[Event] = []
        self.calls = 0
        self.down = False

    async def publish_many(self, events: Sequence[Event]) -> None:
        self.calls += 1
        if self.down:
            raise BusUnavailable("broker down")
        self.published.extend(events)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def write(db: Database, outbox: Outbox, count: int) -> list[Event]:
    async with db.transaction() as session:
        return [await outbox.add(session, Sample(), subject=str(i)) for i in range(count)]


async def unpublished(db: Database, tables: EventTables) -> list[tuple[str, int]]:
    async with db.session() as session:
        query = select(tables.outbox.c.id, tables.outbox.c.attempts).where(
            tables.outbox.c.published_at.is_(None)
        )
        return [(row.id, row.attempts) for row in await session.execute(query)]


def relay_for(db: Database, tables: EventTables, bus: RecordingBus, **kw: float) -> OutboxRelay:
    return OutboxRelay(db, tables, bus, **kw)  # type: ignore[arg-type]


async def test_flush_publishes_oldest_first_in_batches(db: Database, tables: EventTables) -> None:
    bus = RecordingBus()
    written = await write(db, Outbox(tables, source="s"), 10)
    relay = relay_for(db, tables, bus, batch_size=4)
    assert await relay.flush() == 10
    assert [e.id for e in bus.published] == [e.id for e in written]
    assert bus.calls == 3
    assert await unpublished(db, tables) == []
    assert await relay.flush() == 0


async def test_commit_wakes_the_running_relay_without_polling(
    db: Database, tables: EventTables
) -> None:
    bus = RecordingBus()
    relay = relay_for(db, tables, bus, poll_interval=60.0)
    await relay.start()
    try:
        [event] = await write(db, Outbox(tables, source="s"), 1)

        async def arrived() -> bool:
            return [e.id for e in bus.published] == [event.id]

        await eventually(arrived, timeout=2.0)
    finally:
        await relay.stop()


async def test_rows_stay_while_the_bus_is_down(db: Database, tables: EventTables) -> None:
    bus = RecordingBus()
    bus.down = True
    relay = relay_for(db, tables, bus, min_backoff=0.01, max_backoff=0.05)
    await relay.start()
    try:
        written = await write(db, Outbox(tables, source="s"), 3)

        async def retried() -> bool:
            rows = await unpublished(db, tables)
            return len(rows) == 3 and all(attempts >= 2 for _, attempts in rows)

        await eventually(retried)
        bus.down = False

        async def drained() -> bool:
            return await unpublished(db, tables) == []

        await eventually(drained)
        assert [e.id for e in bus.published] == [e.id for e in written]
    finally:
        await relay.stop()


async def test_stop_flushes_what_is_pending(db: Database, tables: EventTables) -> None:
    bus = RecordingBus()
    bus.down = True
    relay = relay_for(db, tables, bus, min_backoff=1.0, max_backoff=1.0, flush_timeout=2.0)
    await relay.start()
    await write(db, Outbox(tables, source="s"), 2)
    await asyncio.sleep(0.05)  # the first attempt failed; the relay is backing off
    bus.down = False
    await relay.stop()
    assert len(bus.published) == 2


async def test_stop_gives_up_on_a_dead_bus_and_keeps_the_rows(
    db: Database, tables: EventTables
) -> None:
    bus = RecordingBus()
    bus.down = True
    relay = relay_for(db, tables, bus, min_backoff=0.01, flush_timeout=1.0)
    await relay.start()
    await write(db, Outbox(tables, source="s"), 2)
    await relay.stop()
    assert len(await unpublished(db, tables)) == 2


async def test_prune_deletes_only_old_published_rows(db: Database, tables: EventTables) -> None:
    bus = RecordingBus()
    relay = relay_for(db, tables, bus)
    outbox = Outbox(tables, source="s")
    await write(db, outbox, 3)
    await relay.flush()
    [pending] = await write(db, outbox, 1)
    assert await relay.prune(timedelta(hours=1)) == 0
    assert await relay.prune(timedelta(seconds=-1)) == 3
    assert [row_id for row_id, _ in await unpublished(db, tables)] == [pending.id]


async def plan_of_delete(db: Database, prune: Callable[[], Awaitable[int]]) -> str:
    """SQLite's plan of the one DELETE statement that `prune` really runs."""
    ran: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            ran.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await prune()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    [(statement, parameters)] = ran
    async with db.engine.connect() as connection:
        plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return " ".join(str(row[-1]) for row in plan)


async def test_prune_reads_the_published_rows_through_their_index(
    db: Database, tables: EventTables
) -> None:
    # Without it the delete read every row of the outbox, every ten minutes, in the
    # event loop on SQLite.
    relay = relay_for(db, tables, RecordingBus())
    details = await plan_of_delete(db, lambda: relay.prune(timedelta(days=1)))
    assert "USING INDEX ix_outbox_published" in details, details


async def handled(db: Database, tables: EventTables, **ages: timedelta) -> None:
    """Inbox rows of consumer `c`, one per event id, handled that long ago."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        for event_id, age in ages.items():
            row = {"event_id": event_id, "consumer": "c", "handled_at": now - age}
            await session.execute(insert(tables.inbox).values(row))


async def inbox_ids(db: Database, tables: EventTables) -> set[str]:
    async with db.session() as session:
        return set((await session.execute(select(tables.inbox.c.event_id))).scalars())


async def test_prune_inbox_deletes_only_rows_handled_before_the_cutoff(
    db: Database, tables: EventTables
) -> None:
    await handled(db, tables, old=timedelta(days=9), recent=timedelta(days=6))
    relay = relay_for(db, tables, RecordingBus())
    assert await relay.prune_inbox(timedelta(days=8)) == 1
    assert await inbox_ids(db, tables) == {"recent"}
    assert await relay.prune_inbox(timedelta(days=8)) == 0


def test_the_inbox_is_kept_longer_than_the_broker_keeps_events(
    db: Database, tables: EventTables
) -> None:
    # A NATS replay sends an event again to every consumer while the stream holds it:
    # a consumer that forgot it sooner would handle it twice.
    assert relay_for(db, tables, RecordingBus()).keep_handled > EVENT_RETENTION


async def test_the_running_relay_prunes_the_inbox(db: Database, tables: EventTables) -> None:
    await handled(db, tables, old=timedelta(days=2), recent=timedelta(minutes=1))
    relay = OutboxRelay(
        db,
        tables,
        RecordingBus(),  # type: ignore[arg-type]
        poll_interval=0.01,
        prune_interval=0.0,
        keep_handled=timedelta(days=1),
    )
    await relay.start()
    try:

        async def old_gone() -> bool:
            return await inbox_ids(db, tables) == {"recent"}

        await eventually(old_gone)
    finally:
        await relay.stop()


async def test_prune_inbox_reads_the_rows_through_their_index(
    db: Database, tables: EventTables
) -> None:
    relay = relay_for(db, tables, RecordingBus())
    details = await plan_of_delete(db, lambda: relay.prune_inbox(timedelta(days=8)))
    assert "USING INDEX ix_inbox_handled" in details, details
