"""What the event gauges show, read when sampled: the outbox's backlog, a consumer's lag.

No code path sees these change, so the runtime reads them every few seconds
(`Runtime.sample_metrics`) rather than on each event:

- `outbox_backlog`: how many outbox rows wait unpublished, counted up to
  `BACKLOG_COUNTED` (a count walks every row it counts, and on SQLite it runs in the
  event loop: a million unpublished rows held every request for 130-170 ms each
  time), and how old the oldest is (the first entry of the partial index of
  unpublished rows). The alert watches the age, which no backlog makes dear;
- `consumer_lag`: how many events wait for a durable consumer: on NATS the
  consumer's `num_pending` (in its stream, not yet delivered to it), on RabbitMQ the
  messages ready in its queue (delivered ones waiting for an acknowledgement, and
  failed ones waiting in the delay queues, are not counted). It asks the broker
  with the service's own rights (NATS: `CONSUMER.INFO` of its own consumer only).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, literal, select

from mercato.chassis.data.database import Database
from mercato.chassis.events.bus import BusError, BusUnavailable, EventBus
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.events.tables import EventTables

__all__ = ["BACKLOG_COUNTED", "consumer_lag", "outbox_backlog"]

LAG_TIMEOUT = 2.0  # seconds: a broker slower than this has its lag sampled next round
BACKLOG_COUNTED = 10_000  # unpublished rows counted at most: the gauge says "this or more"


async def outbox_backlog(db: Database, tables: EventTables) -> tuple[int, float]:
    """The outbox's unpublished rows: how many (up to `BACKLOG_COUNTED`), the oldest's age (s)."""
    outbox = tables.outbox
    unpublished = outbox.c.published_at.is_(None)
    some = select(literal(1)).where(unpublished).limit(BACKLOG_COUNTED).subquery()
    async with db.session() as session:
        rows = (await session.execute(select(func.count()).select_from(some))).scalar_one()
        oldest = (
            await session.execute(select(func.min(outbox.c.created_at)).where(unpublished))
        ).scalar_one()
    if not rows or oldest is None:
        return 0, 0.0
    if oldest.tzinfo is None:  # SQLite keeps no offset: the outbox writes UTC
        oldest = oldest.replace(tzinfo=UTC)
    return int(rows), max(0.0, (datetime.now(UTC) - oldest).total_seconds())


async def consumer_lag(bus: EventBus, consumer: str) -> int:
    """The events waiting for the durable consumer `consumer`; BusUnavailable if unknown."""
    try:
        if isinstance(bus, NatsBus):
            info = await bus.js.consumer_info(bus.stream, consumer, timeout=LAG_TIMEOUT)
            return int(info.num_pending or 0)
        if isinstance(bus, RabbitBus):
            # A channel of its own: a passive declare that fails closes its channel.
            channel = await bus.connection.channel()
            try:
                name = bus.topology.queue(consumer)
                queue = await channel.declare_queue(name, passive=True, timeout=LAG_TIMEOUT)
            finally:
                await channel.close()
            return int(queue.declaration_result.message_count or 0)
    except BusError:
        raise
    except Exception as exc:
        raise BusUnavailable(f"the lag of {consumer}: {exc or type(exc).__name__}") from exc
    raise TypeError(f"no lag for a bus of type {type(bus).__name__}")
