"""Queries on the sessions table: functions taking an `AsyncSession`, no HTTP.

A session is read on every page, so its statements are built once here and executed
with a parameter dict (docs/conventions.md). Each function that writes commits: a
session row is its own unit of work, and none stays open across a call to a service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.web.models import SessionRecord

__all__ = [
    "claim_refresh",
    "delete_expired",
    "delete_session",
    "insert_session",
    "release_claim",
    "rename",
    "session_by_hash",
    "set_cart",
    "set_flash",
    "store_tokens",
    "take_flash",
    "touch",
]

SESSIONS = cast(Table, SessionRecord.__table__)
_BY_HASH = select(SessionRecord).where(SessionRecord.id_hash == bindparam("w_id"))
_TOUCH = (
    update(SESSIONS)
    .where(SESSIONS.c.id_hash == bindparam("w_id"))
    .values(last_seen_at=bindparam("last_seen_at"), idle_expires_at=bindparam("idle_expires_at"))
)
_DELETE = delete(SESSIONS).where(SESSIONS.c.id_hash == bindparam("w_id"))
# The one request that rotates the tokens takes this claim; the others see it taken.
_CLAIM = (
    update(SESSIONS)
    .where(
        SESSIONS.c.id_hash == bindparam("w_id"),
        SESSIONS.c.refresh_token == bindparam("w_refresh"),
        or_(
            SESSIONS.c.refreshing_until.is_(None),
            SESSIONS.c.refreshing_until < bindparam("w_now"),
        ),
    )
    .values(refreshing_until=bindparam("refreshing_until"))
)
_TOKENS = (
    update(SESSIONS)
    .where(SESSIONS.c.id_hash == bindparam("w_id"))
    .values(
        access_token=bindparam("access_token"),
        refresh_token=bindparam("refresh_token"),
        access_expires_at=bindparam("access_expires_at"),
        refreshing_until=None,
    )
)
_FLASH = (
    update(SESSIONS).where(SESSIONS.c.id_hash == bindparam("w_id")).values(flash=bindparam("flash"))
)
_EXPIRED = delete(SESSIONS).where(
    or_(
        SESSIONS.c.idle_expires_at < bindparam("w_now"),
        SESSIONS.c.absolute_expires_at < bindparam("w_now"),
    )
)


async def session_by_hash(db: AsyncSession, id_hash: str) -> SessionRecord | None:
    """The session whose cookie value hashes to `id_hash`, if there is one."""
    found: SessionRecord | None = await db.scalar(_BY_HASH, {"w_id": id_hash})
    return found


async def insert_session(db: AsyncSession, record: SessionRecord) -> None:
    """Store a new session (and commit)."""
    db.add(record)
    await db.commit()


async def touch(
    db: AsyncSession, id_hash: str, *, now: datetime, idle_expires_at: datetime
) -> None:
    """Record a use of the session, moving its idle expiry."""
    await db.execute(
        _TOUCH, {"w_id": id_hash, "last_seen_at": now, "idle_expires_at": idle_expires_at}
    )
    await db.commit()


async def delete_session(db: AsyncSession, id_hash: str) -> None:
    """Forget a session (and commit)."""
    await db.execute(_DELETE, {"w_id": id_hash})
    await db.commit()


async def claim_refresh(
    db: AsyncSession, id_hash: str, *, refresh_token: str, now: datetime, until: datetime
) -> bool:
    """Take the claim to rotate this session's tokens; False if another request holds it.

    Also False when the refresh token is no longer `refresh_token`: another request
    rotated it already.
    """
    params: dict[str, Any] = {
        "w_id": id_hash,
        "w_refresh": refresh_token,
        "w_now": now,
        "refreshing_until": until,
    }
    result = await db.execute(_CLAIM, params)
    await db.commit()
    return bool(getattr(result, "rowcount", 0))


async def store_tokens(
    db: AsyncSession,
    id_hash: str,
    *,
    access_token: str,
    refresh_token: str,
    access_expires_at: datetime,
) -> None:
    """Keep a rotated pair of tokens and release the claim (and commit)."""
    await db.execute(
        _TOKENS,
        {
            "w_id": id_hash,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "access_expires_at": access_expires_at,
        },
    )
    await db.commit()


async def release_claim(db: AsyncSession, id_hash: str) -> None:
    """Give the claim up without new tokens (the refresh failed)."""
    await db.execute(
        update(SESSIONS).where(SESSIONS.c.id_hash == id_hash).values(refreshing_until=None)
    )
    await db.commit()


async def rename(db: AsyncSession, id_hash: str, name: str) -> None:
    """Keep the shopper's new name in their session (and commit)."""
    await db.execute(
        update(SESSIONS).where(SESSIONS.c.id_hash == id_hash).values(user_name=name[:200])
    )
    await db.commit()


async def set_flash(db: AsyncSession, id_hash: str, message: str | None) -> None:
    """Leave a message for the next page shown (None clears it)."""
    await db.execute(_FLASH, {"w_id": id_hash, "flash": message})
    await db.commit()


async def set_cart(db: AsyncSession, id_hash: str, cart: str | None) -> None:
    """Keep a visitor's cart (None: empty) in their session (and commit)."""
    await db.execute(update(SESSIONS).where(SESSIONS.c.id_hash == id_hash).values(cart=cart))
    await db.commit()


async def take_flash(db: AsyncSession, id_hash: str) -> None:
    """Clear the message once it is shown."""
    await set_flash(db, id_hash, None)


async def delete_expired(db: AsyncSession, *, now: datetime) -> int:
    """Delete every session past its idle or absolute expiry; how many."""
    result = await db.execute(_EXPIRED, {"w_now": now})
    await db.commit()
    return int(getattr(result, "rowcount", 0) or 0)
