"""Domain logic of the logs service: events recorded, listed, read and expired.

Functions take keyword-only arguments and raise `mercato.chassis.web.errors` problems.
`record_event` runs inside the caller's transaction (the event consumer's, with its
inbox row); `delete_expired` commits each batch it deletes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Event
from mercato.chassis.web.errors import NotFound, Unprocessable, field_error
from mercato.chassis.web.paging import Page, decode_time_cursor, in_utc
from mercato.logs import store
from mercato.logs.models import AuditEvent
from mercato.logs.store import EventFilter

__all__ = [
    "DELETE_BATCH",
    "MAX_ID_LENGTH",
    "audit_row",
    "delete_expired",
    "get_event",
    "list_events",
    "order_id_of",
    "record_event",
    "user_id_of",
]

MAX_ID_LENGTH = 200  # longer ids in `data` are not lifted into their indexed column
DELETE_BATCH = 5000


def _id_in(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if 0 < len(text) <= MAX_ID_LENGTH else None


def user_id_of(event: Event) -> str | None:
    """The user an event concerns: its `data.user_id`, when it has one."""
    return _id_in(event.data, "user_id")


def order_id_of(event: Event) -> str | None:
    """The order an event concerns: `data.order_id`, else the subject of `order.*`."""
    found = _id_in(event.data, "order_id")
    if found is None and event.type.startswith("order."):
        found = event.subject if 0 < len(event.subject) <= MAX_ID_LENGTH else None
    return found


def audit_row(event: Event, *, recorded_at: datetime) -> dict[str, Any]:
    """The `audit_events` row of `event`, stored as it was published."""
    return {
        "id": event.id,
        "type": event.type,
        "version": event.version,
        "source": event.source,
        "subject": event.subject,
        "user_id": user_id_of(event),
        "order_id": order_id_of(event),
        "occurred_at": event.occurred_at,
        "recorded_at": recorded_at,
        "trace": event.trace,
        "data": event.data,
    }


async def record_event(session: AsyncSession, *, event: Event, now: datetime) -> bool:
    """Append `event` to the audit log unless it is there already; whether it was new."""
    return await store.insert_if_absent(session, audit_row(event, recorded_at=now))


async def get_event(session: AsyncSession, *, event_id: str) -> AuditEvent:
    """The audit event `event_id`; 404 when there is none."""
    found = await store.get(session, event_id)
    if found is None:
        raise NotFound(f"No audit event {event_id}.")
    return found


def _invalid(field: str, message: str) -> Unprocessable:
    error = field_error(field, message, location="query", type="value_error")
    return Unprocessable(f"Invalid fields: {field}", errors=[error])


def _utc(moment: datetime | None, field: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return in_utc(moment)
    except OverflowError:
        raise _invalid(field, "out of range") from None


async def list_events(
    session: AsyncSession, *, where: EventFilter, limit: int, cursor: str | None
) -> Page[AuditEvent]:
    """Events matching `where` in the order they occurred, keyset paged; 422 on bad input."""
    since, until = _utc(where.since, "since"), _utc(where.until, "until")
    if since is not None and until is not None and since > until:
        raise _invalid("until", "must not be before since")
    where = replace(where, since=since, until=until)
    after = decode_time_cursor(cursor)
    return await store.page(session, where=where, limit=limit, after=after)


async def delete_expired(
    session: AsyncSession, *, retention_days: int, now: datetime, batch: int = DELETE_BATCH
) -> int:
    """Delete events older than `retention_days` (0 keeps all).

    The inbox is pruned by the chassis's relay, as every service's is.
    """
    if retention_days <= 0:
        return 0
    cutoff = now - timedelta(days=retention_days)
    total = 0
    while True:
        deleted = await store.delete_before(session, cutoff=cutoff, batch=batch)
        await session.commit()
        total += deleted
        if deleted < batch:
            break
    return total
