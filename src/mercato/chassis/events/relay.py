"""The outbox relay: publishes committed outbox rows to the bus, oldest first.

A background task takes up to `batch_size` unpublished rows, publishes them with
`publish_many` (a bounded number in flight, every acknowledgement awaited) and
then marks them published. It wakes at once when this process commits an outbox
row (the tables' doorbell) and polls every `poll_interval` seconds for rows written
by other processes. When the broker is down the rows stay where they are, their
`attempts` grow and the relay retries with a backoff: nothing is lost.

Several relays may share one database (replicas of a service). On PostgreSQL each
takes its batch with `FOR UPDATE SKIP LOCKED`, so they split the work. On SQLite
two processes can publish the same row; that is harmless, because the broker drops
a message whose id (the event id) it has seen within its de-duplication window,
and a consumer's inbox ignores an event it has already handled. The same holds for
a relay that dies between publishing and marking its rows.

With tracing on, each event published is a span under the span that wrote it
(`spans`, `chassis.telemetry.event_spans`).

Every `prune_interval` the relay also keeps the event tables from growing for ever:
it deletes the outbox rows published over `keep_published` ago, and the inbox rows
handled over `keep_handled` ago. A consumer needs an inbox row for as long as its
event can reach it again, and the broker keeps events `EVENT_RETENTION` (a
replayed dead letter is published again to every consumer on NATS, when its event
is still in the stream); a day more covers a relay that published a row and died
before marking it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Delete, delete, select, update

from mercato.chassis.data.database import Database
from mercato.chassis.events.bus import EVENT_RETENTION, EventBus
from mercato.chassis.events.envelope import Event
from mercato.chassis.events.tables import EventTables
from mercato.chassis.telemetry.event_metrics import OutboxMetrics
from mercato.chassis.telemetry.event_spans import EventSpans

__all__ = ["OutboxRelay"]

log = logging.getLogger("mercato.events.relay")


class OutboxRelay:
    """Publishes a service's outbox in the background."""

    def __init__(
        self,
        db: Database,
        tables: EventTables,
        bus: EventBus,
        *,
        batch_size: int = 256,
        poll_interval: float = 1.0,
        min_backoff: float = 0.1,
        max_backoff: float = 2.0,
        flush_timeout: float = 5.0,
        keep_published: timedelta = timedelta(days=1),
        keep_handled: timedelta = EVENT_RETENTION + timedelta(days=1),
        prune_interval: float = 600.0,
        metrics: OutboxMetrics | None = None,
        spans: EventSpans | None = None,
    ) -> None:
        self.db = db
        self.tables = tables
        self.bus = bus  # may be replaced while running; the next attempt uses the new one
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.flush_timeout = flush_timeout
        self.keep_published = keep_published
        self.keep_handled = keep_handled
        self.prune_interval = prune_interval
        self.metrics = metrics
        self.spans = spans
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    async def start(self) -> None:
        """Start publishing in the background."""
        if self._task is not None:
            return
        self._stop = asyncio.Event()
        self._wake = self.tables.doorbell.listen()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Publish what is pending (within `flush_timeout`), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        self._wake.set()
        done, _ = await asyncio.wait([task], timeout=self.flush_timeout)
        if not done:
            task.cancel()
            await asyncio.wait([task])
            log.warning(
                "outbox not flushed within %.1fs; the rest goes at next start", self.flush_timeout
            )
        self.tables.doorbell.forget(self._wake)

    async def publish_pending(self) -> int:
        """Publish one batch of the oldest unpublished rows; how many were published."""
        outbox = self.tables.outbox
        query = (
            select(outbox.c.id, outbox.c.payload)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.created_at)
            .limit(self.batch_size)
        )
        locking = self.db.dialect in ("postgresql", "mysql")  # SKIP LOCKED: MariaDB 10.6+
        if locking:
            query = query.with_for_update(skip_locked=True)
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
            if not rows:
                return 0
            if not locking:
                await session.commit()  # never hold a SQLite snapshot while publishing
            ids = [row.id for row in rows]
            events = [Event.from_bytes(row.payload) for row in rows]
            try:
                if self.spans is None:
                    await self.bus.publish_many(events)
                else:
                    with self.spans.publishing(events):
                        await self.bus.publish_many(events)
            except Exception:
                if self.metrics is not None:
                    self.metrics.publish_failed()
                await session.rollback()
                with contextlib.suppress(Exception):
                    await session.execute(
                        update(outbox)
                        .where(outbox.c.id.in_(ids))
                        .values(attempts=outbox.c.attempts + 1)
                    )
                    await session.commit()
                raise
            if self.metrics is not None:
                self.metrics.published(event.type for event in events)
            await session.execute(
                update(outbox).where(outbox.c.id.in_(ids)).values(published_at=datetime.now(UTC))
            )
            await session.commit()
        return len(rows)

    async def flush(self) -> int:
        """Publish every unpublished row now; how many were published."""
        total = 0
        while (count := await self.publish_pending()) > 0:
            total += count
        return total

    async def prune(self, older_than: timedelta) -> int:
        """Delete rows published more than `older_than` ago; how many were deleted."""
        outbox = self.tables.outbox
        cutoff = datetime.now(UTC) - older_than
        return await self._delete(
            delete(outbox).where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
        )

    async def prune_inbox(self, older_than: timedelta) -> int:
        """Delete inbox rows handled more than `older_than` ago; how many were deleted."""
        inbox = self.tables.inbox
        cutoff = datetime.now(UTC) - older_than
        return await self._delete(delete(inbox).where(inbox.c.handled_at < cutoff))

    async def _delete(self, statement: Delete) -> int:
        async with self.db.transaction() as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    async def _run(self) -> None:
        backoff = self.min_backoff
        failing = False
        pruned_at = time.monotonic()
        while True:
            self._wake.clear()
            try:
                count = await self.publish_pending()
            except Exception as exc:
                if self._stop.is_set():
                    log.warning("outbox not flushed at stop (%s); it goes at next start", exc)
                    return
                if not failing:
                    log.warning("publishing the outbox failed (%s); rows kept, retrying", exc)
                    failing = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if failing:
                log.info("publishing the outbox again")
                failing = False
            backoff = self.min_backoff
            if count >= self.batch_size:
                continue
            if self._stop.is_set():
                return
            if time.monotonic() - pruned_at >= self.prune_interval:
                pruned_at = time.monotonic()
                await self._prune_quietly()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _prune_quietly(self) -> None:
        try:
            await self.prune(self.keep_published)
            await self.prune_inbox(self.keep_handled)
        except Exception as exc:
            log.warning("pruning the outbox and inbox failed: %s", exc)
