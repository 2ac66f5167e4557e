"""An order's shipments as shipping's events tell them, and what they make of the order.

Each `shipment.created`, `.shipped` and `.delivered` event upserts the shipment's row
(`record`): events may come twice (the inbox drops a redelivery) or out of order (a
`shipped` before its `created`), so every event carries the lines and a shipment's
status only ever moves forward (created < shipped < delivered). Each locks its order's
row first, as a cancellation does when it moves the order, so that "refuse to cancel
once shipped" (`refuse_if_shipped`, run inside the cancellation's move) and a
shipment shipped at the same moment are taken one after the other, never both.

`fulfilment` says where an order's goods are: `unfulfilled` (no shipment yet),
`awaiting_shipment`, `partially_shipped`, `shipped`, `partially_delivered`,
`delivered`, and once lines come back `partially_returned` or `returned`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.web.errors import Conflict
from mercato.orders.models import Order, Shipment

__all__ = [
    "CREATED",
    "DELIVERED",
    "SHIPPED",
    "fulfilment",
    "lock_order",
    "quantities",
    "record",
    "refuse_if_shipped",
    "shipments_of",
]

log = logging.getLogger("mercato.orders.shipments")

CREATED, SHIPPED, DELIVERED = "created", "shipped", "delivered"
RANK = {CREATED: 0, SHIPPED: 1, DELIVERED: 2}
GONE = frozenset({SHIPPED, DELIVERED})  # handed to the carrier: the order cannot be cancelled


def quantities(items: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Units per product id in a list of lines."""
    counted: Counter[str] = Counter()
    for item in items:
        counted[str(item["product_id"])] += int(item["quantity"])
    return counted


async def lock_order(session: AsyncSession, order_id: str) -> Order | None:
    """The order, its row locked until the transaction ends (PostgreSQL, MariaDB)."""
    statement = (
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).first()


async def record(
    session: AsyncSession,
    *,
    shipment_id: str,
    order_id: str,
    status: str,
    items: list[dict[str, Any]],
    now: datetime,
    **fields: str | None,
) -> None:
    """Upsert a shipment from one of its events; its status never moves back."""
    order = await lock_order(session, order_id)
    if order is None:
        log.warning("shipment %s names an order orders does not know: %s", shipment_id, order_id)
    elif status in GONE and order.status in ("cancelling", "cancelled"):
        log.error(
            "shipment %s of order %s was %s after the order was cancelled",
            shipment_id,
            order_id,
            status,
        )
    known = {name: value for name, value in fields.items() if value is not None}
    shipment = await session.get(Shipment, shipment_id, with_for_update=True)
    if shipment is None:
        session.add(
            Shipment(
                id=shipment_id,
                order_id=order_id,
                status=status,
                items=items,
                created_at=now,
                updated_at=now,
                **known,
            )
        )
        return
    for name, value in known.items():
        setattr(shipment, name, value)
    if RANK[status] > RANK.get(shipment.status, 0):
        shipment.status = status
    shipment.items = items or shipment.items
    shipment.updated_at = now


async def shipments_of(
    session: AsyncSession, order_ids: Sequence[str]
) -> dict[str, list[Shipment]]:
    """The shipments of several orders, oldest first, by order id (every id present)."""
    found: dict[str, list[Shipment]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        statement = (
            select(Shipment)
            .where(Shipment.order_id.in_(order_ids))
            .order_by(Shipment.created_at, Shipment.id)
        )
        for shipment in await session.scalars(statement):
            found[shipment.order_id].append(shipment)
    return found


async def refuse_if_shipped(session: AsyncSession, order_id: str) -> None:
    """409 when a shipment of the order has left (run in the cancellation's transaction)."""
    statement = select(Shipment.id).where(
        Shipment.order_id == order_id, Shipment.status.in_(sorted(GONE))
    )
    shipped = (await session.scalars(statement.limit(1))).first()
    if shipped is not None:
        raise Conflict(
            f"The order has shipped (shipment {shipped}) and can no longer be cancelled; "
            "return its lines once they are delivered instead."
        )


def _covers(done: Counter[str], ordered: Counter[str]) -> bool:
    return all(done[product_id] >= quantity for product_id, quantity in ordered.items())


def fulfilment(
    *,
    ordered: Counter[str],
    shipments: Sequence[tuple[str, Counter[str]]],
    returned: Counter[str],
) -> str:
    """Where an order's goods are, from its shipments (status, units) and units returned."""
    if returned:
        return "returned" if _covers(returned, ordered) else "partially_returned"
    if not shipments:
        return "unfulfilled"
    delivered: Counter[str] = Counter()
    gone: Counter[str] = Counter()
    for status, units in shipments:
        if status == DELIVERED:
            delivered.update(units)
        if status in GONE:
            gone.update(units)
    if delivered:
        return "delivered" if _covers(delivered, ordered) else "partially_delivered"
    if gone:
        return "shipped" if _covers(gone, ordered) else "partially_shipped"
    return "awaiting_shipment"
