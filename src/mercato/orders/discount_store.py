"""Queries of discount codes, their uses and the code on a cart: functions, no HTTP.

`lock_discount` is what makes a code's limits hold under concurrent checkouts: it
reads the code with `SELECT ... FOR UPDATE` (PostgreSQL, MariaDB), and on SQLite the
transaction already holds the write lock (`begin_write`), so two checkouts count the
code's uses one after the other, each seeing the other's redemption once committed
(MariaDB runs READ COMMITTED here, as every service's sessions do).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.orders.models import CartDiscount, Discount, DiscountRedemption

__all__ = [
    "by_code",
    "by_id",
    "cart_code",
    "drop_cart_code",
    "live_uses",
    "live_uses_of",
    "lock_discount",
    "page",
    "redeem",
    "release",
    "set_cart_code",
]

_NEWEST = TimeKeyset(Discount.created_at, Discount.id)


async def by_id(session: AsyncSession, discount_id: str) -> Discount | None:
    """The discount `discount_id`, or None."""
    statement = (
        select(Discount).where(Discount.id == discount_id).execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).first()


async def by_code(session: AsyncSession, code: str) -> Discount | None:
    """The discount of an upper-cased code, or None."""
    statement = (
        select(Discount).where(Discount.code == code).execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).first()


async def lock_discount(session: AsyncSession, code: str) -> Discount | None:
    """The discount of a code, locked until the transaction ends (see the module docstring)."""
    statement = (
        select(Discount)
        .where(Discount.code == code)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).first()


async def page(
    session: AsyncSession, *, limit: int, after: tuple[datetime, str] | None
) -> Page[Discount]:
    """Up to `limit` discounts, newest first, after `after`."""
    return await keyset_page(session, select(Discount), _NEWEST, limit=limit, after=after)


async def live_uses(session: AsyncSession, *, discount_id: str, user_id: str) -> tuple[int, int]:
    """How many uses of a code are not given back: by everyone, and by `user_id`."""
    live = (DiscountRedemption.discount_id == discount_id) & DiscountRedemption.released_at.is_(
        None
    )
    mine = func.sum(case((DiscountRedemption.user_id == user_id, 1), else_=0))
    row = (await session.execute(select(func.count(), mine).where(live))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def live_uses_of(session: AsyncSession, discount_ids: list[str]) -> dict[str, int]:
    """How many uses of each of several codes are not given back (every id present)."""
    found = dict.fromkeys(discount_ids, 0)
    if discount_ids:
        statement = (
            select(DiscountRedemption.discount_id, func.count())
            .where(
                DiscountRedemption.discount_id.in_(discount_ids),
                DiscountRedemption.released_at.is_(None),
            )
            .group_by(DiscountRedemption.discount_id)
        )
        for discount_id, count in await session.execute(statement):
            found[discount_id] = int(count)
    return found


async def redeem(
    session: AsyncSession,
    *,
    discount_id: str,
    order_id: str,
    user_id: str,
    amount: int,
    currency: str,
    now: datetime,
) -> None:
    """Record an order's use of a code (in the transaction that inserts the order)."""
    session.add(
        DiscountRedemption(
            discount_id=discount_id,
            order_id=order_id,
            user_id=user_id,
            amount=amount,
            currency=currency,
            created_at=now,
            released_at=None,
        )
    )
    await session.flush()


async def release(session: AsyncSession, *, order_id: str, now: datetime) -> bool:
    """Give back an order's use of its code; whether there was one to give back."""
    result = await session.execute(
        update(DiscountRedemption)
        .where(DiscountRedemption.order_id == order_id, DiscountRedemption.released_at.is_(None))
        .values(released_at=now)
    )
    return cast(CursorResult[Any], result).rowcount > 0


async def cart_code(session: AsyncSession, user_id: str) -> str | None:
    """The code on a user's cart, or None."""
    statement = select(CartDiscount.code).where(CartDiscount.user_id == user_id)
    return (await session.scalars(statement)).first()


async def set_cart_code(session: AsyncSession, *, user_id: str, code: str, now: datetime) -> None:
    """Put a code on a user's cart (replacing any)."""
    row = await session.get(CartDiscount, user_id)
    if row is None:
        session.add(CartDiscount(user_id=user_id, code=code, applied_at=now))
    else:
        row.code = code
        row.applied_at = now


async def drop_cart_code(session: AsyncSession, user_id: str) -> None:
    """Take the code off a user's cart (absent is fine)."""
    await session.execute(delete(CartDiscount).where(CartDiscount.user_id == user_id))
