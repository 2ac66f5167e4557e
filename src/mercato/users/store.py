"""Queries of the users service: functions taking an AsyncSession (or, for the
hottest read, the database's DirectReader), no HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import insert_ignoring_conflicts
from mercato.chassis.data.driver_reads import DirectQuery, DirectReader
from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.users.models import Profile, ProfileRow

__all__ = ["fill_blank", "get", "insert_if_absent", "page", "read"]


# Built once, so their cache keys are too: `session.get` builds and hashes a statement
# on every call, about a tenth of the CPU of a `GET /api/users/me`.
_BY_ID = select(Profile).where(Profile.user_id == bindparam("user_id"))
_ROW_BY_ID = DirectQuery(
    select(Profile.__table__).where(Profile.__table__.c.user_id == bindparam("user_id")),
    ProfileRow,
)
_INSERT_NEW = {
    dialect: insert_ignoring_conflicts(cast(Table, Profile.__table__), dialect)
    for dialect in ("postgresql", "sqlite", "mysql")
}
_NEWEST = TimeKeyset(Profile.created_at, Profile.user_id)


async def read(reader: DirectReader, user_id: str) -> ProfileRow | None:
    """The profile of `user_id` as a plain row (no session, no ORM entity), or None."""
    return await reader.one(_ROW_BY_ID, user_id=user_id)


async def get(session: AsyncSession, user_id: str) -> Profile | None:
    """The profile of `user_id`, or None."""
    return (await session.execute(_BY_ID, {"user_id": user_id})).scalar_one_or_none()


async def insert_if_absent(
    session: AsyncSession, *, user_id: str, email: str, name: str, now: datetime
) -> bool:
    """Insert a new profile unless one exists (an upsert that never overwrites)."""
    values: dict[str, Any] = {
        "user_id": user_id,
        "email": email,
        "name": name,
        "bio": None,
        "avatar_url": None,
        "preferences": {},
        "addresses": [],
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    dialect = session.get_bind().dialect.name
    statement = _INSERT_NEW.get(dialect)
    if statement is None:
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    result = cast(CursorResult[Any], await session.execute(statement, values))
    return result.rowcount == 1


async def fill_blank(
    session: AsyncSession,
    *,
    user_id: str,
    field: Literal["email", "name"],
    value: str,
    now: datetime,
) -> bool:
    """Set `field` to `value` only where it is still empty; whether a row changed."""
    column = getattr(Profile, field)
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Profile)
            .where(Profile.user_id == user_id, column == "")
            .values({field: value, "updated_at": now, "version": Profile.version + 1})
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount > 0


async def page(
    session: AsyncSession,
    *,
    email: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Page[Profile]:
    """Up to `limit` profiles, newest first, after the keyset `after` if given."""
    statement = select(Profile)
    if email:
        if session.get_bind().dialect.name == "mysql":
            # Its collation compares case-blind, and its index is on the column.
            statement = statement.where(Profile.email == email)
        else:
            statement = statement.where(func.lower(Profile.email) == email.lower())
    return await keyset_page(session, statement, _NEWEST, limit=limit, after=after)
