"""Queries of the orders service: functions taking an AsyncSession, no HTTP.

The saga's writes are compare-and-set updates (`leases`): `take_lease` claims an
order for one worker, and `move` changes its status only from the expected one and
only for the lease's owner, so a worker that lost its lease (or a stale one) changes
nothing.
Only the saga runner takes and gives back leases (`runner.SagaRunner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import insert_ignoring_conflicts
from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.orders.leases import Leases
from mercato.orders.models import Cart, CartLine, Order, OrderHistory
from mercato.orders.states import ACTIVE, TERMINAL, Status

__all__ = [
    "add_history",
    "cart_lines",
    "clear_cart",
    "count_overdue",
    "count_status",
    "find_by_key",
    "get_order",
    "histories",
    "history",
    "lock_cart",
    "move",
    "page",
    "postpone",
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

_CARTS = cast(Table, Cart.__table__)
_NEW_CART = {
    dialect: insert_ignoring_conflicts(_CARTS, dialect, lock=True)
    for dialect in ("postgresql", "sqlite", "mysql")
}
_LOCK_CART = (
    select(_CARTS.c.user_id).where(_CARTS.c.user_id == bindparam("user_id")).with_for_update()
)


async def lock_cart(session: AsyncSession, user_id: str) -> None:
    """Lock a user's cart (creating its owner row) until the transaction ends.

    Checks on the lines (how many there are, their currency) followed by a write
    would otherwise let concurrent requests each pass them against the lines as they
    were: on PostgreSQL a count does not see another transaction's uncommitted
    lines. With the owner row locked, the second request waits for the first to
    commit and then reads its lines. SQLite, whose writes take turns anyway,
    has no row locks: the transaction (`begin_write`'s `BEGIN IMMEDIATE`) holds the
    whole database's write lock already, so the owner row is only created there.
    """
    dialect = session.get_bind().dialect.name
    statement = _NEW_CART.get(dialect)
    if statement is None:
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    await session.execute(statement, {"user_id": user_id})
    if dialect != "sqlite":
        await session.execute(_LOCK_CART, {"user_id": user_id})


async def cart_lines(session: AsyncSession, user_id: str) -> Sequence[CartLine]:
    """The lines of a user's cart, oldest first."""
    statement = (
        select(CartLine)
        .where(CartLine.user_id == user_id)
        .order_by(CartLine.added_at, CartLine.product_id)
    )
    return (await session.scalars(statement)).all()


def put_line(
    session: AsyncSession,
    lines: Sequence[CartLine],
    *,
    user_id: str,
    product_id: str,
    quantity: int,
    now: datetime,
) -> list[CartLine]:
    """Set the quantity of a product in the cart, adding the line if absent.

    `lines` are the cart's lines as just read in this transaction (`cart_lines`), so
    that the line is found among them rather than read again; the cart's lines after
    the change come back, oldest first (a new line is the newest).
    """
    for line in lines:
        if line.product_id == product_id:
            line.quantity = quantity
            line.updated_at = now
            return list(lines)
    added = CartLine(
        user_id=user_id, product_id=product_id, quantity=quantity, added_at=now, updated_at=now
    )
    session.add(added)
    return [*lines, added]


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

# The order and saga statements are built once and take their values as parameters:
# built per call, each was coerced and hashed into a cache key every time. The
# updates are Core statements on the table: a parameter named after a column sets
# it, and the `w_` parameters (no column has such a name) fill the WHERE clause.
_ORDERS = cast(Table, Order.__table__)
_ORDER = (
    select(Order).where(Order.id == bindparam("order_id")).execution_options(populate_existing=True)
)
_ADD_HISTORY = insert(cast(Table, OrderHistory.__table__))
_LEASES = Leases(_ORDERS)


async def get_order(session: AsyncSession, order_id: str) -> Order | None:
    """The order `order_id`, read fresh from the database, or None."""
    return (await session.scalars(_ORDER, {"order_id": order_id})).first()


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
    session: AsyncSession,
    *,
    order_id: str,
    statuses: Sequence[Status],
    reason: str | None,
    at: datetime,
) -> None:
    """Record that an order entered each of `statuses`, in turn (one statement)."""
    rows = [
        {"order_id": order_id, "status": status.value, "reason": reason, "at": at}
        for status in statuses
    ]
    await session.execute(_ADD_HISTORY, rows if len(rows) > 1 else rows[0])


_NEWEST = TimeKeyset(Order.created_at, Order.id)


async def page(
    session: AsyncSession,
    *,
    user_id: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
    status: Status | None = None,
) -> Page[Order]:
    """Up to `limit` orders of a user (None: everyone's), newest first, after `after`."""
    statement = select(Order)
    if user_id is not None:
        statement = statement.where(Order.user_id == user_id)
    if status is not None:
        statement = statement.where(Order.status == status.value)
    return await keyset_page(session, statement, _NEWEST, limit=limit, after=after)


# -- the saga's lock and moves -------------------------------------------------


async def take_lease(
    session: AsyncSession, *, order_id: str, owner: str, now: datetime, until: datetime
) -> bool:
    """Claim an order for `owner` unless another worker holds a live lease."""
    return await _LEASES.take(session, order_id, owner=owner, now=now, until=until)


async def release_lease(session: AsyncSession, *, order_id: str, owner: str) -> None:
    """Give up `owner`'s lease on an order (nothing happens if it is not theirs)."""
    await _LEASES.release(session, order_id, owner=owner)


async def move(
    session: AsyncSession,
    *,
    order_id: str,
    owner: str,
    expected: Status,
    new: Status,
    now: datetime,
    lease_until: datetime | None,
    reason: str | None = None,
    passed: Sequence[Status] = (),
    **fields: Any,
) -> dict[str, Any] | None:
    """Compare-and-set `expected` -> `new` for the lease owner, with history.

    `passed` are states the order goes through on the way to `new` in this same
    transaction (each gets its history entry, `reason` the first one). A new state
    starts with no failed attempt and no retry pending. The columns it set, or None
    when the order was not in `expected` under `owner`.
    """
    values: dict[str, Any] = {
        "status": new.value,
        "updated_at": now,
        "lease_until": lease_until,
        "attempts": 0,
        "retry_at": None,
        **fields,
    }
    if reason is not None:
        values["reason"] = reason
    if not await _LEASES.move(
        session, order_id, owner=owner, expected=expected.value, values=values
    ):
        return None
    rows = [
        {"order_id": order_id, "status": status.value, "reason": None, "at": now}
        for status in (*passed, new)
    ]
    rows[0]["reason"] = reason
    await session.execute(_ADD_HISTORY, rows if len(rows) > 1 else rows[0])
    return values


async def postpone(
    session: AsyncSession, *, order_id: str, owner: str, now: datetime, retry_at: datetime
) -> bool:
    """Count a failed attempt at an order the caller holds, to be tried again at `retry_at`."""
    return await _LEASES.postpone(session, order_id, owner=owner, now=now, retry_at=retry_at)


async def touch(
    session: AsyncSession, *, order_id: str, owner: str, now: datetime, **fields: Any
) -> bool:
    """Set fields (plain values) of an order the caller holds the lease of (no state change)."""
    return await _LEASES.touch(session, order_id, owner=owner, values={"updated_at": now, **fields})


async def resumable(
    session: AsyncSession, *, now: datetime, stale_before: datetime, limit: int
) -> Sequence[str]:
    """Ids of orders the sweeper should drive, whose retry (if any) is due.

    Unfinished orders, and settled ones whose charge outcome is still unknown (left
    so by versions before 0002); never one that needs an operator.
    """
    unleashed = or_(Order.lease_owner.is_(None), Order.lease_until < now)
    pending_work = or_(
        Order.status.in_([status.value for status in ACTIVE]),
        and_(
            Order.charge_unresolved.is_(True),
            Order.status.in_([status.value for status in TERMINAL]),
        ),
    )
    due = or_(Order.retry_at.is_(None), Order.retry_at <= now)
    statement = (
        select(Order.id)
        .where(pending_work, unleashed, due, Order.updated_at < stale_before)
        .order_by(Order.updated_at)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


async def count_status(session: AsyncSession, status: Status) -> int:
    """How many orders are in `status`."""
    statement = select(func.count()).select_from(Order).where(Order.status == status.value)
    return int(await session.scalar(statement) or 0)


# Active orders past their deadline (the status index narrows them to the active ones).
_OVERDUE = (
    select(func.count())
    .select_from(Order)
    .where(
        Order.status.in_(sorted(status.value for status in ACTIVE)),
        Order.deadline < bindparam("now"),
    )
)


async def count_overdue(session: AsyncSession, now: datetime) -> int:
    """How many orders are in an active state past their deadline at `now`."""
    return int(await session.scalar(_OVERDUE, {"now": now}) or 0)
