"""Queries on the checkouts table: functions taking an `AsyncSession`, no HTTP.

Each function that writes commits: a checkout's row is its own unit of work, and no
transaction stays open across a call to a service. Statements are built once here
and executed with a parameter dict (docs/conventions.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import insert_ignoring_conflicts
from mercato.web.models import CheckoutRecord

__all__ = [
    "checkout",
    "delete_older_than",
    "insert_claim",
    "release",
    "retake_claim",
    "set_method",
    "set_order",
]

CHECKOUTS = cast(Table, CheckoutRecord.__table__)
_KEYED = (CHECKOUTS.c.user_id == bindparam("w_user"), CHECKOUTS.c.key == bindparam("w_key"))
_READ = select(CHECKOUTS).where(*_KEYED)
_INSERT_NEW = {
    dialect: insert_ignoring_conflicts(CHECKOUTS, dialect)
    for dialect in ("postgresql", "sqlite", "mysql")
}
# Another request's claim that has run out (its process died mid-checkout) is taken over.
_RETAKE = (
    update(CHECKOUTS)
    .where(
        *_KEYED,
        CHECKOUTS.c.order_id.is_(None),
        or_(CHECKOUTS.c.claimed_until.is_(None), CHECKOUTS.c.claimed_until < bindparam("w_now")),
    )
    .values(claimed_until=bindparam("claimed_until"))
)
_METHOD = update(CHECKOUTS).where(*_KEYED).values(method_id=bindparam("method_id"))
_ORDER = update(CHECKOUTS).where(*_KEYED).values(order_id=bindparam("order_id"), claimed_until=None)
_RELEASE = update(CHECKOUTS).where(*_KEYED).values(claimed_until=None)
_OLD = delete(CHECKOUTS).where(CHECKOUTS.c.created_at < bindparam("w_before"))


def _keys(user_id: str, key: str) -> dict[str, Any]:
    return {"w_user": user_id, "w_key": key}


async def insert_claim(
    db: AsyncSession, *, user_id: str, key: str, now: datetime, until: datetime
) -> bool:
    """Start the checkout of `key`, claimed until `until`; False if it exists already."""
    dialect = db.get_bind().dialect.name
    statement = _INSERT_NEW.get(dialect)
    if statement is None:
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    row = {"user_id": user_id, "key": key, "claimed_until": until, "created_at": now}
    result = await db.execute(statement, row)
    await db.commit()
    return bool(getattr(result, "rowcount", 0))


async def retake_claim(
    db: AsyncSession, *, user_id: str, key: str, now: datetime, until: datetime
) -> bool:
    """Claim a checkout nobody holds (released, or run out) and not yet ordered."""
    params = {**_keys(user_id, key), "w_now": now, "claimed_until": until}
    result = await db.execute(_RETAKE, params)
    await db.commit()
    return bool(getattr(result, "rowcount", 0))


async def checkout(db: AsyncSession, *, user_id: str, key: str) -> dict[str, Any] | None:
    """The row of a checkout, as a dict of its columns (None: no such checkout)."""
    row = (await db.execute(_READ, _keys(user_id, key))).mappings().first()
    return dict(row) if row is not None else None


async def set_method(db: AsyncSession, *, user_id: str, key: str, method_id: str) -> None:
    """Remember the card saved for this checkout."""
    await db.execute(_METHOD, {**_keys(user_id, key), "method_id": method_id})
    await db.commit()


async def set_order(db: AsyncSession, *, user_id: str, key: str, order_id: str) -> None:
    """Remember the order this checkout placed (and release the claim)."""
    await db.execute(_ORDER, {**_keys(user_id, key), "order_id": order_id})
    await db.commit()


async def release(db: AsyncSession, *, user_id: str, key: str) -> None:
    """Give the claim up without an order: the next post of the form goes on."""
    await db.execute(_RELEASE, _keys(user_id, key))
    await db.commit()


async def delete_older_than(db: AsyncSession, *, before: datetime) -> int:
    """Delete checkouts started before `before`; how many."""
    result = await db.execute(_OLD, {"w_before": before})
    await db.commit()
    return int(getattr(result, "rowcount", 0) or 0)
