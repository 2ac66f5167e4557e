"""The outbox and inbox tables a service keeps in its own database.

`event_tables(metadata)` declares them on the service's metadata, and each service's
first Alembic migration creates them with `create_event_tables(op)`:

    outbox  id (event id) | type | subject | version | payload (the envelope JSON)
            | created_at | published_at (NULL until the relay has published it)
            | attempts (failed publish attempts)
    inbox   event_id | consumer | handled_at      primary key (event_id, consumer)

A partial index on `created_at` covers only the unpublished outbox rows, so the
relay's "oldest unpublished first" query stays cheap however many published rows
are kept; two more serve the relay's pruning: the published rows by `published_at`
and the inbox by `handled_at`. `EventTables` also carries the doorbell that an
outbox write rings on commit to wake this process's relay at once.

Several services sharing one database (rather than one schema each) can tell their
tables apart with `prefix` ("users_" gives `users_outbox`, `users_inbox`); pass the
same prefix to `event_tables` and to the migration helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

__all__ = [
    "Doorbell",
    "EventTables",
    "create_event_tables",
    "create_handled_index",
    "create_published_index",
    "drop_event_tables",
    "drop_handled_index",
    "drop_published_index",
    "event_tables",
]

_UNPUBLISHED = "published_at IS NULL"
_PUBLISHED = "published_at IS NOT NULL"


class Doorbell:
    """Wakes this process's relays when a transaction that wrote outbox rows commits."""

    def __init__(self) -> None:
        self._waiters: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}

    def listen(self) -> asyncio.Event:
        """A new event, set on every ring until `forget` is called with it."""
        waiter = asyncio.Event()
        self._waiters[waiter] = asyncio.get_running_loop()
        return waiter

    def forget(self, waiter: asyncio.Event) -> None:
        """Stop setting `waiter`."""
        self._waiters.pop(waiter, None)

    def ring(self) -> None:
        """Set every listening event, from any thread."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for waiter, loop in list(self._waiters.items()):
            if loop is running:
                waiter.set()
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed
                    loop.call_soon_threadsafe(waiter.set)


@dataclass(frozen=True, eq=False)
class EventTables:
    """A service's outbox and inbox tables, and the doorbell of its outbox."""

    outbox: Table
    inbox: Table
    doorbell: Doorbell = field(default_factory=Doorbell)


def _outbox_columns() -> list[Any]:
    return [
        Column("id", String(64), primary_key=True),
        Column("type", String(200), nullable=False),
        Column("subject", String(200), nullable=False),
        Column("version", Integer, nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, default=0, server_default=text("0")),
    ]


def _inbox_columns() -> list[Any]:
    return [
        Column("event_id", String(64), nullable=False),
        Column("consumer", String(100), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("event_id", "consumer"),
    ]


def _names(prefix: str) -> tuple[str, str, str]:
    return f"{prefix}outbox", f"{prefix}inbox", f"ix_{prefix}outbox_unpublished"


def _published_index(prefix: str) -> str:
    return f"ix_{prefix}outbox_published"


def _handled_index(prefix: str) -> str:
    return f"ix_{prefix}inbox_handled"


def event_tables(metadata: MetaData, *, prefix: str = "") -> EventTables:
    """Declare the outbox and inbox tables on a service's metadata."""
    outbox_name, inbox_name, index_name = _names(prefix)
    outbox = Table(outbox_name, metadata, *_outbox_columns())
    Index(
        index_name,
        outbox.c.created_at,
        sqlite_where=text(_UNPUBLISHED),
        postgresql_where=text(_UNPUBLISHED),
    )
    # The relay's pruning deletes the rows published over a day ago: without an index
    # it read the whole outbox (0.43 s a million rows, in the event loop on SQLite).
    Index(
        _published_index(prefix),
        outbox.c.published_at,
        sqlite_where=text(_PUBLISHED),
        postgresql_where=text(_PUBLISHED),
    )
    inbox = Table(inbox_name, metadata, *_inbox_columns())
    # And the inbox's, of the rows handled longer ago than the broker keeps events.
    Index(_handled_index(prefix), inbox.c.handled_at)
    return EventTables(outbox=outbox, inbox=inbox)


def create_event_tables(op: Any, *, prefix: str = "") -> None:
    """Create both tables from an Alembic migration (`op` is `alembic.op`)."""
    outbox_name, inbox_name, index_name = _names(prefix)
    op.create_table(outbox_name, *_outbox_columns())
    op.create_index(
        index_name,
        outbox_name,
        ["created_at"],
        sqlite_where=text(_UNPUBLISHED),
        postgresql_where=text(_UNPUBLISHED),
    )
    op.create_table(inbox_name, *_inbox_columns())


def create_published_index(op: Any, *, prefix: str = "") -> None:
    """Index the outbox's published rows by when, from a migration (`op` is `alembic.op`)."""
    op.create_index(
        _published_index(prefix),
        f"{prefix}outbox",
        ["published_at"],
        sqlite_where=text(_PUBLISHED),
        postgresql_where=text(_PUBLISHED),
    )


def drop_published_index(op: Any, *, prefix: str = "") -> None:
    """Drop that index, from a migration's downgrade."""
    op.drop_index(_published_index(prefix), table_name=f"{prefix}outbox")


def create_handled_index(op: Any, *, prefix: str = "") -> None:
    """Index the inbox's rows by when they were handled, from a migration."""
    op.create_index(_handled_index(prefix), f"{prefix}inbox", ["handled_at"])


def drop_handled_index(op: Any, *, prefix: str = "") -> None:
    """Drop that index, from a migration's downgrade."""
    op.drop_index(_handled_index(prefix), table_name=f"{prefix}inbox")


def drop_event_tables(op: Any, *, prefix: str = "") -> None:
    """Drop both tables from an Alembic migration's downgrade."""
    outbox_name, inbox_name, index_name = _names(prefix)
    op.drop_table(inbox_name)
    op.drop_index(index_name, table_name=outbox_name)
    op.drop_table(outbox_name)
