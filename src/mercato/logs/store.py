"""Queries of the logs service: functions taking an AsyncSession, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import insert_ignoring_conflicts
from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.logs.models import AuditEvent

__all__ = ["EventFilter", "delete_before", "get", "insert_if_absent", "page"]


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list; None means any. `type` ending in `*` is a prefix."""

    type: str | None = None
    source: str | None = None
    user_id: str | None = None
    order_id: str | None = None
    subject: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


_INSERT_NEW = {
    dialect: insert_ignoring_conflicts(cast(Table, AuditEvent.__table__), dialect)
    for dialect in ("postgresql", "sqlite", "mysql")
}
_IN_ORDER = TimeKeyset(AuditEvent.occurred_at, AuditEvent.id, oldest_first=True)


async def insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert one audit event unless its id is stored already; whether it was new."""
    dialect = session.get_bind().dialect.name
    statement = _INSERT_NEW.get(dialect)
    if statement is None:
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    result = cast(CursorResult[Any], await session.execute(statement, values))
    return result.rowcount == 1


async def get(session: AsyncSession, event_id: str) -> AuditEvent | None:
    """The audit event with id `event_id`, or None."""
    return await session.get(AuditEvent, event_id)


def _conditions(where: EventFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.type is not None:
        if where.type.endswith("*"):
            prefix = where.type[:-1]
            if prefix:
                conditions.append(AuditEvent.type.startswith(prefix, autoescape=True))
        else:
            conditions.append(AuditEvent.type == where.type)
    for name in ("source", "user_id", "order_id", "subject"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(getattr(AuditEvent, name) == value)
    if where.since is not None:
        conditions.append(AuditEvent.occurred_at >= where.since)
    if where.until is not None:
        conditions.append(AuditEvent.occurred_at < where.until)
    return conditions


async def page(
    session: AsyncSession,
    *,
    where: EventFilter,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Page[AuditEvent]:
    """Up to `limit` events matching `where`, oldest first, after the keyset `after`."""
    statement = select(AuditEvent).where(*_conditions(where))
    return await keyset_page(session, statement, _IN_ORDER, limit=limit, after=after)


async def delete_before(session: AsyncSession, *, cutoff: datetime, batch: int) -> int:
    """Delete up to `batch` events that occurred before `cutoff`; how many were."""
    oldest = (
        select(AuditEvent.id)
        .where(AuditEvent.occurred_at < cutoff)
        .order_by(AuditEvent.occurred_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "mysql":
        # MariaDB takes no LIMIT in an IN subquery, but does in a derived table's.
        oldest = select(oldest.subquery("oldest").c.id)
    result = cast(
        CursorResult[Any],
        await session.execute(
            delete(AuditEvent)
            .where(AuditEvent.id.in_(oldest.scalar_subquery()))
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount
