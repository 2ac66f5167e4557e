"""The transactional outbox: events are written in the same transaction as the change.

`Outbox.add(session, data, subject=...)` inserts the event's row with the caller's
session. `data` is one of the contracts' event schemas, which says the event's type
and version itself (`mercato.contracts.events`), so no type is written with another
type's fields. The row reaches the broker only if the caller commits, and it cannot
be lost once the caller has committed (the relay publishes it, retrying while the
broker is down).
The session's commit rings the doorbell of the tables, which wakes this process's
relay at once; the relay's slow poll is only a safety net for rows written by
another process or replica sharing the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from mercato.chassis.events.envelope import Event
from mercato.chassis.events.tables import EventTables
from mercato.contracts.events import EventData, producer_of

__all__ = ["Outbox"]

_RING_KEY = "mercato.outbox.ring"


class _Clock:
    """UTC time that never repeats nor goes back within this process.

    Two events written in the same microsecond (or on a coarse clock) still get
    distinct, ordered `created_at` values, so the relay publishes them in order.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        now = datetime.now(UTC)
        if now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now


_clock = _Clock()


class Outbox:
    """Writes events to a service's outbox table inside the caller's transaction."""

    def __init__(self, tables: EventTables, *, source: str) -> None:
        self.tables = tables
        self.source = source
        # Built once and given its values as parameters: a statement built per event
        # is coerced and hashed into a cache key per event.
        self._insert = insert(tables.outbox)

    async def add(self, session: AsyncSession, data: EventData, *, subject: str) -> Event:
        """Record the event `data` is of in the session's transaction; the caller commits.

        Its payload is `data` as JSON. ValueError for a type another service owns: the
        broker would refuse it, and every consumer too; TypeError for data of no type
        (a schema that only shares fields, such as `ProductChanged`).
        """
        event, row = self._row(data, subject)
        await session.execute(self._insert, row)
        self._ring_on_commit(session.sync_session)
        return event

    async def add_many(
        self, session: AsyncSession, events: Sequence[tuple[EventData, str]]
    ) -> list[Event]:
        """Record several events, each `(data, subject)`, in one executemany (bulk writes)."""
        if not events:
            return []
        made = [self._row(data, subject) for data, subject in events]
        await session.execute(self._insert, [row for _, row in made])
        self._ring_on_commit(session.sync_session)
        return [event for event, _ in made]

    def _row(self, data: EventData, subject: str) -> tuple[Event, dict[str, Any]]:
        kind = type(data)
        if not hasattr(kind, "TYPE"):
            raise TypeError(f"{kind.__name__} is the data of no event type")
        producer = producer_of(kind.TYPE)
        if producer is not None and producer != self.source:
            raise ValueError(f"{self.source} may not publish {kind.TYPE}: {producer} owns it")
        event = Event.new(
            kind.TYPE,
            subject=subject,
            data=data.model_dump(mode="json"),
            source=self.source,
            version=kind.VERSION,
            occurred_at=_clock.now(),
        )
        row = {
            "id": event.id,
            "type": event.type,
            "subject": event.subject,
            "version": event.version,
            "payload": event.to_bytes().decode(),
            "created_at": event.occurred_at,
            "attempts": 0,
        }
        return event, row

    def _ring_on_commit(self, session: Session) -> None:
        doorbell = self.tables.doorbell
        key = f"{_RING_KEY}.{id(doorbell)}"
        if session.info.get(key):
            return  # already armed for this transaction

        def ring(committed: Session) -> None:
            committed.info.pop(key, None)
            doorbell.ring()

        session.info[key] = True
        sa_event.listen(session, "after_commit", ring, once=True)
