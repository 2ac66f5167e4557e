"""Queries of the returns' refund sagas: functions taking an AsyncSession, no HTTP.

As for orders (`store`), a saga's writes are compare-and-set updates on the return's
row (`leases`): `take_lease` claims it for one worker, and `move` changes its status
only from the expected one and only for the lease's owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.orders.leases import Leases
from mercato.orders.models import OrderReturn

__all__ = [
    "count_status",
    "get_return",
    "move",
    "of_orders",
    "page",
    "postpone",
    "release_lease",
    "resumable",
    "take_lease",
]

_RETURNS = cast(Table, OrderReturn.__table__)
_RETURN = (
    select(OrderReturn)
    .where(OrderReturn.id == bindparam("return_id"))
    .execution_options(populate_existing=True)
)
_LEASES = Leases(_RETURNS)


async def get_return(session: AsyncSession, return_id: str) -> OrderReturn | None:
    """The return `return_id`, read fresh, or None."""
    return (await session.scalars(_RETURN, {"return_id": return_id})).first()


async def of_orders(
    session: AsyncSession, order_ids: Sequence[str]
) -> dict[str, list[OrderReturn]]:
    """The returns of several orders, oldest first, by order id (every id present)."""
    found: dict[str, list[OrderReturn]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        statement = (
            select(OrderReturn)
            .where(OrderReturn.order_id.in_(order_ids))
            .order_by(OrderReturn.created_at, OrderReturn.id)
        )
        for row in await session.scalars(statement):
            found[row.order_id].append(row)
    return found


async def take_lease(
    session: AsyncSession, *, return_id: str, owner: str, now: datetime, until: datetime
) -> bool:
    """Claim a return for `owner` unless another worker holds a live lease."""
    return await _LEASES.take(session, return_id, owner=owner, now=now, until=until)


async def release_lease(session: AsyncSession, *, return_id: str, owner: str) -> None:
    """Give up `owner`'s lease on a return (nothing happens if it is not theirs)."""
    await _LEASES.release(session, return_id, owner=owner)


async def move(
    session: AsyncSession,
    *,
    return_id: str,
    owner: str,
    expected: str,
    new: str,
    now: datetime,
    **fields: Any,
) -> dict[str, Any] | None:
    """Compare-and-set `expected` -> `new` for the lease owner; the columns set, or None."""
    values: dict[str, Any] = {
        "status": new,
        "updated_at": now,
        "attempts": 0,
        "retry_at": None,
        **fields,
    }
    moved = await _LEASES.move(session, return_id, owner=owner, expected=expected, values=values)
    return values if moved else None


async def postpone(
    session: AsyncSession, *, return_id: str, owner: str, now: datetime, retry_at: datetime
) -> bool:
    """Count a failed attempt at a return the caller holds, to be tried again at `retry_at`."""
    return await _LEASES.postpone(session, return_id, owner=owner, now=now, retry_at=retry_at)


async def resumable(
    session: AsyncSession, *, statuses: Sequence[str], now: datetime, limit: int
) -> Sequence[str]:
    """Ids of unfinished returns no worker holds whose retry (if any) is due, oldest first."""
    statement = (
        select(OrderReturn.id)
        .where(
            OrderReturn.status.in_(statuses),
            or_(OrderReturn.lease_owner.is_(None), OrderReturn.lease_until < now),
            or_(OrderReturn.retry_at.is_(None), OrderReturn.retry_at <= now),
        )
        .order_by(OrderReturn.updated_at)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


async def count_status(session: AsyncSession, status: str) -> int:
    """How many returns are in `status`."""
    statement = select(func.count()).select_from(OrderReturn).where(OrderReturn.status == status)
    return int(await session.scalar(statement) or 0)


_NEWEST = TimeKeyset(OrderReturn.created_at, OrderReturn.id)


async def page(
    session: AsyncSession, *, status: str, limit: int, after: tuple[datetime, str] | None
) -> Page[OrderReturn]:
    """Up to `limit` returns in `status`, newest first, after `after`."""
    statement = select(OrderReturn).where(OrderReturn.status == status)
    return await keyset_page(session, statement, _NEWEST, limit=limit, after=after)
