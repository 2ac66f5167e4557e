"""Queries of the shipping service: functions taking an AsyncSession, no HTTP."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.shipping.models import Method, Rate, Return, Shipment

__all__ = [
    "due_shipments",
    "get_method",
    "get_rate",
    "get_return",
    "get_shipment",
    "list_methods",
    "list_rates",
    "order_returns",
    "order_shipments",
    "page",
]

Row = TypeVar("Row", Shipment, Return)
_NEWEST = {
    Shipment: TimeKeyset(Shipment.created_at, Shipment.id),
    Return: TimeKeyset(Return.created_at, Return.id),
}


async def list_methods(session: AsyncSession) -> list[Method]:
    """Every method, by code."""
    return list(await session.scalars(select(Method).order_by(Method.code)))


async def get_method(session: AsyncSession, code: str) -> Method | None:
    """The method `code`, or None."""
    return await session.get(Method, code)


async def list_rates(session: AsyncSession, *, method: str | None = None) -> list[Rate]:
    """Every rate (of `method` if given), by method, currency, weight, id."""
    statement = select(Rate).order_by(Rate.method, Rate.currency, Rate.max_weight_grams, Rate.id)
    if method is not None:
        statement = statement.where(Rate.method == method)
    return list(await session.scalars(statement))


async def get_rate(session: AsyncSession, rate_id: str) -> Rate | None:
    """The rate `rate_id`, or None."""
    return await session.get(Rate, rate_id)


async def get_shipment(session: AsyncSession, shipment_id: str) -> Shipment | None:
    """The shipment `shipment_id`, or None."""
    return await session.get(Shipment, shipment_id)


async def order_shipments(
    session: AsyncSession,
    order_id: str,
    *,
    statuses: Collection[str] | None = None,
    for_update: bool = False,
) -> list[Shipment]:
    """The shipments of an order, oldest first, in `statuses` if given.

    `for_update` locks them (PostgreSQL, MariaDB) so that two returns of one order
    are checked against the delivered quantities one after the other.
    """
    statement = (
        select(Shipment)
        .where(Shipment.order_id == order_id)
        .order_by(Shipment.created_at, Shipment.id)
    )
    if statuses is not None:
        statement = statement.where(Shipment.status.in_(list(statuses)))
    if for_update:
        statement = statement.with_for_update()
    return list(await session.scalars(statement))


async def order_returns(session: AsyncSession, order_id: str) -> list[Return]:
    """The returns of an order, oldest first."""
    statement = (
        select(Return).where(Return.order_id == order_id).order_by(Return.created_at, Return.id)
    )
    return list(await session.scalars(statement))


async def get_return(session: AsyncSession, return_id: str) -> Return | None:
    """The return `return_id`, or None."""
    return await session.get(Return, return_id)


async def page(
    session: AsyncSession,
    model: type[Row],
    *,
    user_id: str | None,
    order_id: str | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Page[Row]:
    """`model`'s rows (shipments or returns) newest first, narrowed by what is given."""
    statement = _narrowed(model, user_id=user_id, order_id=order_id, status=status)
    return await keyset_page(session, statement, _NEWEST[model], limit=limit, after=after)


def _narrowed(
    model: type[Row], *, user_id: str | None, order_id: str | None, status: str | None
) -> Select[Row]:
    """`model`'s rows, narrowed by each filter that is given."""
    statement = select(model)
    for column, value in (
        (model.user_id, user_id),
        (model.order_id, order_id),
        (model.status, status),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return statement


async def due_shipments(
    session: AsyncSession, *, statuses: Collection[str], before: datetime, limit: int
) -> list[Shipment]:
    """Shipments in `statuses` that last moved before `before`, oldest move first."""
    statement = (
        select(Shipment)
        .where(Shipment.status.in_(list(statuses)), Shipment.updated_at <= before)
        .order_by(Shipment.updated_at, Shipment.id)
        .limit(limit)
    )
    return list(await session.scalars(statement))
