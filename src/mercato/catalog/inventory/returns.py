"""Returned lines put back on hand, once per return (`POST /api/catalog/returns/{id}`).

The orders service calls this when a return's goods are back in the warehouse. The
return's id is the key: its restock is one `return_restocks` row, inserted first in
the write transaction that adds the units on hand, so a retried or concurrent call
with the same id finds it (or waits for it, then finds it) and answers the same
restock again without adding anything; the same id with other lines is refused
(422). A product that left the catalog since it was sold has no stock to add to: its
line is answered with `restocked: false` and the others go back all the same. A line
that would push a product past the largest stock is refused (422), nothing written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import store as products
from mercato.catalog.inventory import store
from mercato.catalog.inventory.rules import (
    StockLevel,
    locking_order,
    merge_lines,
    stock_changed_event,
)
from mercato.catalog.models import ReturnRestock
from mercato.chassis.data.database import begin_write
from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import Unprocessable, field_error
from mercato.chassis.web.idempotency import fingerprint
from mercato.contracts.quantities import MAX_STOCK
from mercato.contracts.restocks import ReturnRestockIn

__all__ = ["restock_return"]


def _body(row: ReturnRestock) -> dict[str, Any]:
    """The JSON object of a restock (the `ReturnRestockOut` shape)."""
    return {
        "return_id": row.return_id,
        "order_id": row.order_id,
        "items": row.items,
        "created_at": row.created_at,
    }


async def _existing(session: AsyncSession, return_id: str, digest: str) -> dict[str, Any] | None:
    """The restock of `return_id` if there is one (422 when it had other lines)."""
    statement = (
        select(ReturnRestock)
        .where(ReturnRestock.return_id == return_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = (await session.scalars(statement)).first()
    if row is None:
        return None
    if row.fingerprint != digest:
        raise Unprocessable(
            f"Return {return_id} was restocked with other lines.",
            errors=[field_error("items", "not the lines this return was restocked with")],
        )
    return _body(row)


async def restock_return(
    session: AsyncSession,
    *,
    outbox: Outbox,
    return_id: str,
    restock_in: ReturnRestockIn,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Put a return's lines back on hand once; the restock and whether it was made now."""
    now = now or datetime.now(UTC)
    digest = fingerprint(restock_in.model_dump(mode="json"))
    await begin_write(session)
    existing = await _existing(session, return_id, digest)
    if existing is not None:
        await session.commit()
        return existing, False
    row = ReturnRestock(
        return_id=return_id,
        order_id=restock_in.order_id,
        fingerprint=digest,
        items=[],
        created_at=now,
    )
    session.add(row)
    try:
        await session.flush()  # a concurrent restock of the same return waits here
    except IntegrityError:
        await session.rollback()
        await begin_write(session)
        again = await _existing(session, return_id, digest)
        await session.commit()
        if again is None:  # pragma: no cover - the conflicting row was rolled back
            raise
        return again, False
    lines = merge_lines(restock_in.items)
    levels: list[StockLevel] = []
    restocked: dict[str, bool] = {}
    for line in locking_order(lines):
        level = None
        if line.quantity <= MAX_STOCK:
            level = await store.adjust_on_hand(
                session, line.product_id, delta=line.quantity, now=now
            )
        if level is None and await products.get_product(session, line.product_id) is not None:
            raise Unprocessable(
                "Putting the returned units back would exceed the largest stock.",
                errors=[field_error(f"items.{line.index}.quantity", "beyond the largest stock")],
            )
        restocked[line.product_id] = level is not None
        if level is not None:
            levels.append(level)
    row.items = [
        {
            "product_id": line.product_id,
            "quantity": line.quantity,
            "restocked": restocked[line.product_id],
        }
        for line in lines
    ]
    for level in levels:
        await outbox.add(session, stock_changed_event(level), subject=level.product_id)
    body = _body(row)
    await session.commit()
    return body, True
