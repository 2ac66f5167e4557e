"""Queries of the orders service: functions taking an AsyncSession, no HTTP.

The saga's writes are compare-and-set updates: `take_lease` claims an order for one
worker, and `move` changes its status only from the expected one and only for the
lease's owner, so a worker that lost its lease (or a stale one) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.orders.models import CartLine, Order, OrderHistory
from mercato.orders.states import ACTIVE, Status

__all__ = [
    "add_history",
    "cart_lines",
    "clear_cart",
    "find_by_key",
    "get_order",
    "histories",
    "history",
    "move",
    "page",
    "put_line",
    "release_lease",
    "remove_line",
    "resumable",
    "take_lease",
    "touch",
]


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


# -- cart ----------------------------------------------------------------------


async def cart_lines(session: AsyncSession, user_id: str) -> Sequence[CartLine]:
    """The lines of a user's cart, oldest first."""
    statement = (
        select(CartLine)
        .where(CartLine.user_id == user_id)
        .order_by(CartLine.added_at, CartLine.product_id)
    )
    return (await session.scalars(statement)).all()


async def put_line(
    session: AsyncSession, *, user_id: str, product_id: str, quantity: int, now: datetime
) -> None:
    """Set the quantity of a product in the cart, adding the line if absent."""
    line = await session.get(CartLine, (user_id, product_id))
    if line is None:
        session.add(
            CartLine(
                user_id=user_id,
                product_id=product_id,
                quantity=quantity,
                added_at=now,
                updated_at=now,
            )
        )
    else:
        line.quantity = quantity
        line.updated_at = now


async def remove_line(session: AsyncSession, *, user_id: str, product_id: str) -> bool:
    """Remove a product from the cart; whether it was there."""
    result = await session.execute(
        delete(CartLine).where(CartLine.user_id == user_id, CartLine.product_id == product_id)
    )
    return _rowcount(result) > 0


async def clear_cart(session: AsyncSession, user_id: str) -> None:
    """Empty a user's cart."""
    await session.execute(delete(CartLine).where(CartLine.user_id == user_id))


# -- orders --------------------------------------------------------------------


async def get_order(session: AsyncSession, order_id: str) -> Order | None:
    """The order `order_id`, read fresh from the database, or None."""
    statement = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    return (await session.scalars(statement)).first()


async def find_by_key(session: AsyncSession, *, user_id: str, key: str) -> Order | None:
    """The order a user placed with an idempotency key, or None."""
    statement = (
        select(Order)
        .where(Order.user_id == user_id, Order.idempotency_key == key)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).first()


async def history(session: AsyncSession, order_id: str) -> Sequence[OrderHistory]:
    """The states an order went through, in order."""
    return (await histories(session, [order_id]))[order_id]


async def histories(
    session: AsyncSession, order_ids: Sequence[str]
) -> dict[str, list[OrderHistory]]:
    """The histories of several orders in one query, by order id (every id present)."""
    found: dict[str, list[OrderHistory]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        statement = (
            select(OrderHistory)
            .where(OrderHistory.order_id.in_(order_ids))
            .order_by(OrderHistory.id)
        )
        for entry in await session.scalars(statement):
            found[entry.order_id].append(entry)
    return found


async def add_history(
    session: AsyncSession, *, order_id: str, status: Status, reason: str | None, at: datetime
) -> None:
    """Record that an order entered `status`."""
    await session.execute(
        insert(OrderHistory).values(order_id=order_id, status=status.value, reason=reason, at=at)
    )


async def page(
    session: AsyncSession, *, user_id: str, limit: int, after: tuple[datetime, str] | None
) -> Sequence[Order]:
    """Up to `limit` of a user's orders, newest first, after the keyset `after`."""
    statement = select(Order).where(Order.user_id == user_id)
    if after is not None:
        created_at, order_id = after
        statement = statement.where(
            or_(
                Order.created_at < created_at,
                and_(Order.created_at == created_at, Order.id < order_id),
            )
        )
    statement = statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    return (await session.scalars(statement)).all()


# -- the saga's lock and moves -------------------------------------------------


async def take_lease(
    session: AsyncSession, *, order_id: str, owner: str, now: datetime, until: datetime
) -> bool:
    """Claim an order for `owner` unless another worker holds a live lease."""
    result = await session.execute(
        update(Order)
        .where(
            Order.id == order_id,
            or_(Order.lease_owner.is_(None), Order.lease_until < now, Order.lease_owner == owner),
        )
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def release_lease(session: AsyncSession, *, order_id: str, owner: str) -> None:
    """Give up `owner`'s lease on an order (nothing happens if it is not theirs)."""
    await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def move(
    session: AsyncSession,
    *,
    order_id: str,
    owner: str,
    expected: Status,
    new: Status,
    now: datetime,
    lease_until: datetime,
    reason: str | None = None,
    **fields: Any,
) -> bool:
    """Compare-and-set `expected` -> `new` for the lease owner, with history; whether it moved."""
    values: dict[str, Any] = {
        "status": new.value,
        "updated_at": now,
        "lease_until": lease_until,
        "attempts": 0,
        **fields,
    }
    if reason is not None:
        values["reason"] = reason
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == expected.value, Order.lease_owner == owner)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return False
    await add_history(session, order_id=order_id, status=new, reason=reason, at=now)
    return True


async def touch(
    session: AsyncSession, *, order_id: str, owner: str, now: datetime, **fields: Any
) -> bool:
    """Update fields of an order the caller holds the lease of (no state change)."""
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.lease_owner == owner)
        .values({"updated_at": now, **fields})
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def resumable(
    session: AsyncSession, *, now: datetime, stale_before: datetime, limit: int
) -> Sequence[str]:
    """Ids of orders the sweeper should drive: unfinished or with an unknown charge."""
    unleashed = or_(Order.lease_owner.is_(None), Order.lease_until < now)
    pending_work = or_(
        Order.status.in_([status.value for status in ACTIVE]),
        Order.charge_unresolved.is_(True),
    )
    statement = (
        select(Order.id)
        .where(pending_work, unleashed, Order.updated_at < stale_before)
        .order_by(Order.updated_at)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()
