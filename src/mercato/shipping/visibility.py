"""Who sees which shipments and returns: a customer their own, an admin every one.

The same rule for both kinds of row: reading one that is someone else's is a 404
(its existence is not told), and a list is narrowed to the caller's own rows unless
the caller is an admin; either list pages newest first, by order and by status when
asked.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import NotFound
from mercato.chassis.web.paging import Page, decode_time_cursor
from mercato.shipping import store
from mercato.shipping.models import Return, Shipment

__all__ = ["visible", "visible_page"]

Row = TypeVar("Row", Shipment, Return)
_NOUNS = {Shipment: "shipment", Return: "return"}


async def visible(
    session: AsyncSession, principal: Principal, model: type[Row], row_id: str
) -> Row:
    """The row `row_id` if the caller may see it (their own, or any for an admin); 404."""
    row = await session.get(model, row_id)
    if row is None or not (principal.is_admin or row.user_id == principal.subject):
        raise NotFound(f"No {_NOUNS[model]} {row_id}.")
    return row


async def visible_page(
    session: AsyncSession,
    principal: Principal,
    model: type[Row],
    *,
    order_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Row]:
    """The caller's rows (an admin's: everyone's), newest first, by order and status."""
    return await store.page(
        session,
        model,
        user_id=None if principal.is_admin else principal.subject,
        order_id=order_id,
        status=status,
        limit=limit,
        after=decode_time_cursor(cursor),
    )
