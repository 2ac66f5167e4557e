"""Queries of the payments service: functions taking an AsyncSession, no HTTP.

The writes that decide money are single conditional statements, so that they hold
on SQLite and PostgreSQL alike without locks held across a provider call: a
pending row is finished only once, taken over only when its attempt went stale,
and a refund is reserved only while it fits in what is left of the payment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import insert_ignoring_conflicts
from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.payments.models import (
    FAILED,
    PENDING,
    SUCCEEDED,
    UNKNOWN,
    Method,
    MethodCount,
    Payment,
    Refund,
)

__all__ = [
    "claim_key",
    "claim_payment",
    "claim_refund",
    "count_methods",
    "delete_method",
    "finish_payment",
    "finish_refund",
    "get_method",
    "get_payment",
    "methods_of",
    "page_payments",
    "payment_by_key",
    "refund_by_key",
    "refunds_of",
    "release_refund",
    "reopen_refund",
    "reserve_refund",
    "take_method_slot",
    "unknown_payments",
]


# The statements of a charge are built once and take their values as parameters:
# built per call (`session.get` builds one too), each was coerced and hashed into a
# cache key every time. `_FINISH_PAYMENT` is a Core statement on the table: a
# parameter named after a column sets it, and the `w_` ones fill the WHERE clause.
_PAYMENTS = cast(Table, Payment.__table__)
_METHOD = select(Method).where(Method.id == bindparam("method_id"))
_PAYMENT = (
    select(Payment)
    .where(Payment.id == bindparam("payment_id"))
    .execution_options(populate_existing=True)
)
_PAYMENT_BY_KEY = (
    select(Payment)
    .where(Payment.idempotency_key == bindparam("key"))
    .execution_options(populate_existing=True)
)
_FINISH_PAYMENT = update(_PAYMENTS).where(
    _PAYMENTS.c.id == bindparam("w_id"), _PAYMENTS.c.status == bindparam("w_status")
)
_COUNTS = cast(Table, MethodCount.__table__)
_NEW_COUNT = {
    dialect: insert_ignoring_conflicts(_COUNTS, dialect, lock=True)
    for dialect in ("postgresql", "sqlite", "mysql")
}
_TAKE_SLOT = (
    update(_COUNTS)
    .where(_COUNTS.c.user_id == bindparam("w_user"), _COUNTS.c.methods < bindparam("w_limit"))
    .values(methods=_COUNTS.c.methods + 1)
)
_GIVE_SLOT = (
    update(_COUNTS)
    .where(_COUNTS.c.user_id == bindparam("w_user"), _COUNTS.c.methods > 0)
    .values(methods=_COUNTS.c.methods - 1)
)


async def _changed(
    session: AsyncSession, statement: Any, params: dict[str, Any] | None = None
) -> bool:
    """Execute a one-row write; whether it changed that row."""
    result = cast(CursorResult[Any], await session.execute(statement, params))
    return result.rowcount == 1


async def get_method(session: AsyncSession, method_id: str) -> Method | None:
    """The method `method_id`, or None."""
    return (await session.scalars(_METHOD, {"method_id": method_id})).first()


async def methods_of(session: AsyncSession, user_id: str) -> Sequence[Method]:
    """The methods of `user_id`, newest first."""
    statement = (
        select(Method)
        .where(Method.user_id == user_id)
        .order_by(Method.created_at.desc(), Method.id.desc())
    )
    return (await session.scalars(statement)).all()


async def count_methods(session: AsyncSession, user_id: str) -> int:
    """How many methods `user_id` has saved."""
    statement = select(func.count()).select_from(Method).where(Method.user_id == user_id)
    return int(await session.scalar(statement) or 0)


async def take_method_slot(session: AsyncSession, *, user_id: str, limit: int) -> bool:
    """Count one more method of `user_id` if they have fewer than `limit`; whether it was.

    A count followed by an insert lets concurrent saves all see room for one more (on
    PostgreSQL each transaction counts without the others' uncommitted rows). This is
    one conditional update of the user's counter row instead: PostgreSQL makes a
    second update of the row wait for the first to commit and then checks its
    condition again on the new value; SQLite's writes take turns anyway.
    """
    dialect = session.get_bind().dialect.name
    statement = _NEW_COUNT.get(dialect)
    if statement is None:
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    await session.execute(statement, {"user_id": user_id, "methods": 0})
    return await _changed(session, _TAKE_SLOT, {"w_user": user_id, "w_limit": limit})


async def delete_method(session: AsyncSession, *, method_id: str, user_id: str) -> bool:
    """Delete a method of `user_id` and give its slot back; whether there was one."""
    statement = delete(Method).where(Method.id == method_id, Method.user_id == user_id)
    if not await _changed(session, statement):
        return False
    await session.execute(_GIVE_SLOT, {"w_user": user_id})
    return True


async def get_payment(session: AsyncSession, payment_id: str) -> Payment | None:
    """The payment `payment_id` as stored now, or None."""
    return (await session.scalars(_PAYMENT, {"payment_id": payment_id})).first()


Row = TypeVar("Row", Payment, Refund)


async def claim_key(
    session: AsyncSession,
    row: Row,
    first: Callable[[], Awaitable[Row | None]],
    busy: Callable[[], Exception],
) -> tuple[Row, bool]:
    """Commit `row`, which carries an idempotency key: (row, True) if this request
    claimed the key, else (the row of the request that did, False)."""
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:  # the same key, concurrently: the first request owns it
        await session.rollback()
        existing = await first()
        if existing is None:  # pragma: no cover - the conflict proves it exists
            raise busy() from None
        return existing, False
    return row, True


async def payment_by_key(session: AsyncSession, key: str) -> Payment | None:
    """The payment made under idempotency key `key`, or None."""
    return (await session.scalars(_PAYMENT_BY_KEY, {"key": key})).first()


_NEWEST = TimeKeyset(Payment.created_at, Payment.id)


async def page_payments(
    session: AsyncSession, *, user_id: str, limit: int, after: tuple[datetime, str] | None
) -> Page[Payment]:
    """Up to `limit` payments of `user_id`, newest first, after the keyset `after`."""
    statement = select(Payment).where(Payment.user_id == user_id)
    return await keyset_page(session, statement, _NEWEST, limit=limit, after=after)


async def claim_payment(
    session: AsyncSession, *, payment_id: str, status: str, now: datetime, stale_before: datetime
) -> bool:
    """Take over a payment still `status` (`pending`, or `unknown` to reconcile) whose last
    attempt began before `stale_before`; False if it is not (any more), or too recent."""
    statement = (
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.status == status,
            Payment.attempt_at < stale_before,
        )
        .values(attempt_at=now, updated_at=now)
    )
    return await _changed(session, statement)


async def finish_payment(
    session: AsyncSession,
    *,
    payment_id: str,
    status: str,
    reason: str | None,
    charge_id: str | None,
    now: datetime,
    was: str = PENDING,
) -> bool:
    """Record the outcome of a payment that is still `was`; False if it is not any more."""
    values = {"status": status, "reason": reason, "provider_charge_id": charge_id}
    where = {"w_id": payment_id, "w_status": was}
    return await _changed(session, _FINISH_PAYMENT, {**values, "updated_at": now, **where})


async def unknown_payments(
    session: AsyncSession, *, stale_before: datetime, limit: int
) -> Sequence[str]:
    """Ids of `unknown` payments whose last attempt began before `stale_before`, oldest first."""
    statement = (
        select(Payment.id)
        .where(Payment.status == UNKNOWN, Payment.attempt_at < stale_before)
        .order_by(Payment.attempt_at)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


async def reserve_refund(
    session: AsyncSession, *, payment_id: str, amount: int, now: datetime
) -> bool:
    """Count `amount` as refunded if the succeeded payment still has that much left."""
    statement = (
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.status == SUCCEEDED,
            Payment.refunded_amount + amount <= Payment.amount,
        )
        .values(refunded_amount=Payment.refunded_amount + amount, updated_at=now)
    )
    return await _changed(session, statement)


async def release_refund(
    session: AsyncSession, *, payment_id: str, amount: int, now: datetime
) -> None:
    """Give back a reservation made by `reserve_refund` (the refund failed)."""
    await session.execute(
        update(Payment)
        .where(Payment.id == payment_id)
        .values(refunded_amount=Payment.refunded_amount - amount, updated_at=now)
    )


async def refund_by_key(session: AsyncSession, key: str) -> Refund | None:
    """The refund made under idempotency key `key`, or None."""
    statement = select(Refund).where(Refund.idempotency_key == key)
    return (await session.scalars(statement.execution_options(populate_existing=True))).first()


async def refunds_of(session: AsyncSession, payment_id: str) -> Sequence[Refund]:
    """The refunds of a payment, oldest first."""
    statement = (
        select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at, Refund.id)
    )
    return (await session.scalars(statement)).all()


async def claim_refund(
    session: AsyncSession, *, refund_id: str, now: datetime, stale_before: datetime
) -> bool:
    """Take over a pending refund whose attempt started before `stale_before`."""
    statement = (
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == PENDING, Refund.attempt_at < stale_before)
        .values(attempt_at=now, updated_at=now)
    )
    return await _changed(session, statement)


async def reopen_refund(session: AsyncSession, *, refund_id: str, now: datetime) -> bool:
    """Make a failed refund pending again for a new attempt; False if it is not failed."""
    statement = (
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == FAILED)
        .values(status=PENDING, failure_reason=None, attempt_at=now, updated_at=now)
    )
    return await _changed(session, statement)


async def finish_refund(
    session: AsyncSession,
    *,
    refund_id: str,
    status: str,
    failure_reason: str | None,
    provider_refund_id: str | None,
    now: datetime,
) -> bool:
    """Record the outcome of a pending refund; False if it was finished already."""
    statement = (
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == PENDING)
        .values(
            status=status,
            failure_reason=failure_reason,
            provider_refund_id=provider_refund_id,
            updated_at=now,
        )
    )
    return await _changed(session, statement)
