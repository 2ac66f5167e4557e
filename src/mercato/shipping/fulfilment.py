"""Shipments: made from confirmed orders, moved on by admins (or the simulated carrier).

`create_for_order` and `cancel_for_order` run inside the event consumer's transaction
(with its inbox row); the admin's moves and splits commit themselves. Every move is
checked against `states` (409 otherwise) and against the row's version, so two
admins (or an admin and the carrier) moving one shipment at once cannot both win.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import Conflict, NotFound, Unprocessable, field_error
from mercato.contracts.event_base import Line
from mercato.contracts.events import OrderConfirmed
from mercato.contracts.shipping_events import ShipmentCreated, ShipmentDelivered, ShipmentShipped
from mercato.shipping import store
from mercato.shipping.models import CancelledOrder, Shipment
from mercato.shipping.schemas import LineIn, ShipIn
from mercato.shipping.states import (
    SPLITTABLE,
    UNSHIPPED,
    InvalidTransition,
    ShipmentStatus,
    check_shipment_move,
)

__all__ = [
    "DEFAULT_METHOD",
    "advance",
    "cancel_for_order",
    "create_for_order",
    "lines_of",
    "move",
    "split",
]

log = logging.getLogger("mercato.shipping")
DEFAULT_METHOD = "standard"  # an order confirmed without a method (before checkout chose one)


def _now() -> datetime:
    return datetime.now(UTC)


def lines_of(items: list[dict[str, Any]]) -> list[Line]:
    """Stored lines as the events' `Line`s."""
    return [Line.model_validate(item) for item in items]


async def create_for_order(
    session: AsyncSession, outbox: Outbox, data: OrderConfirmed
) -> Shipment | None:
    """The order's first shipment, `pending`, with all its lines; `shipment.created`.

    None, and nothing written, when the order has a shipment already (a second
    confirmation), was cancelled already (its confirmation redelivered after the
    cancellation), or names no lines: an order confirmed before orders sent its lines
    cannot be packed from the event, and guessing them would ship the wrong thing.
    """
    if not data.items:
        log.warning("order.confirmed of order %s has no items: no shipment made", data.order_id)
        return None
    if await store.order_shipments(session, data.order_id):
        return None
    if await session.get(CancelledOrder, data.order_id) is not None:
        log.warning("order %s was cancelled before its confirmation arrived", data.order_id)
        return None
    now = _now()
    address = data.shipping_address.model_dump() if data.shipping_address else None
    shipment = Shipment(
        id=uuid.uuid4().hex,
        order_id=data.order_id,
        user_id=data.user_id,
        status=ShipmentStatus.PENDING,
        method=data.shipping_method or DEFAULT_METHOD,
        items=[line.model_dump(mode="json", exclude_none=True) for line in data.items],
        address=address,
        created_at=now,
        updated_at=now,
    )
    session.add(shipment)
    await _created(session, outbox, shipment)
    return shipment


async def _created(session: AsyncSession, outbox: Outbox, shipment: Shipment) -> None:
    await session.flush()
    event = ShipmentCreated(
        shipment_id=shipment.id,
        order_id=shipment.order_id,
        user_id=shipment.user_id,
        items=lines_of(shipment.items),
        method=shipment.method,
    )
    await outbox.add(session, event, subject=shipment.id)


async def cancel_for_order(session: AsyncSession, order_id: str) -> int:
    """Cancel the order's shipments that have not shipped; how many. Shipped ones stay.

    The order is remembered as cancelled, so that its confirmation, should it arrive
    after this (a redelivery), makes no shipment.
    """
    now = _now()
    if await session.get(CancelledOrder, order_id) is None:
        session.add(CancelledOrder(order_id=order_id, cancelled_at=now))
    unshipped = await store.order_shipments(session, order_id, statuses=UNSHIPPED)
    for shipment in unshipped:
        shipment.status = ShipmentStatus.CANCELLED
        shipment.updated_at = now
    return len(unshipped)


async def advance(
    session: AsyncSession,
    outbox: Outbox,
    shipment: Shipment,
    target: ShipmentStatus,
    *,
    ship: ShipIn | None = None,
) -> None:
    """Move `shipment` to `target` and record its event; InvalidTransition otherwise.

    The caller commits; a concurrent move shows as StaleDataError on the flush.
    """
    check_shipment_move(ShipmentStatus(shipment.status), target)
    now = _now()
    shipment.status = target
    shipment.updated_at = now
    if target is ShipmentStatus.SHIPPED:
        if ship is None:
            raise ValueError("shipping needs the carrier and its tracking number")
        shipment.carrier = ship.carrier
        shipment.tracking_number = ship.tracking_number
        shipment.tracking_url = None if ship.tracking_url is None else str(ship.tracking_url)
        shipment.shipped_at = now
    elif target is ShipmentStatus.DELIVERED:
        shipment.delivered_at = now
    await session.flush()
    common: dict[str, Any] = {
        "shipment_id": shipment.id,
        "order_id": shipment.order_id,
        "user_id": shipment.user_id,
        "items": lines_of(shipment.items),
    }
    if target is ShipmentStatus.SHIPPED:
        shipped = ShipmentShipped(
            **common,
            carrier=shipment.carrier or "",
            tracking_number=shipment.tracking_number or "",
            tracking_url=shipment.tracking_url,
        )
        await outbox.add(session, shipped, subject=shipment.id)
    elif target is ShipmentStatus.DELIVERED:
        delivered = ShipmentDelivered(**common, delivered_at=now.isoformat())
        await outbox.add(session, delivered, subject=shipment.id)


async def _shipment(session: AsyncSession, shipment_id: str) -> Shipment:
    shipment = await store.get_shipment(session, shipment_id)
    if shipment is None:
        raise NotFound(f"No shipment {shipment_id}.")
    return shipment


async def move(
    session: AsyncSession,
    outbox: Outbox,
    shipment_id: str,
    target: ShipmentStatus,
    *,
    ship: ShipIn | None = None,
) -> Shipment:
    """An admin's move of a shipment; 404, or 409 when the move is not allowed now."""
    shipment = await _shipment(session, shipment_id)
    try:
        await advance(session, outbox, shipment, target, ship=ship)
        await session.commit()
    except InvalidTransition as exc:
        raise Conflict(f"The shipment is {exc.current}: it cannot become {target}.") from None
    except StaleDataError:
        raise Conflict("The shipment was moved concurrently; read it again.") from None
    return shipment


def _take(items: list[dict[str, Any]], wanted: list[LineIn]) -> list[dict[str, Any]]:
    """What is left of `items` once `wanted` is taken out; 422 naming what is not there."""
    left = {item["product_id"]: dict(item) for item in items}
    errors = []
    for index, line in enumerate(wanted):
        have = left.get(line.product_id)
        if have is None:
            errors.append(field_error(f"items.{index}.product_id", "not in this shipment"))
        elif line.quantity > have["quantity"]:
            errors.append(field_error(f"items.{index}.quantity", "more than the shipment holds"))
        else:
            have["quantity"] -= line.quantity
    if errors:
        raise Unprocessable("The lines are not in the shipment.", errors=errors)
    remaining = [item for item in left.values() if item["quantity"] > 0]
    if not remaining:
        raise Unprocessable(
            "A split must leave at least one line in the shipment.",
            errors=[field_error("items", "takes every line")],
        )
    return remaining


async def split(
    session: AsyncSession, outbox: Outbox, shipment_id: str, wanted: list[LineIn]
) -> Shipment:
    """Move `wanted` out of a pending or packed shipment into a new pending one."""
    source = await _shipment(session, shipment_id)
    if ShipmentStatus(source.status) not in SPLITTABLE:
        raise Conflict(f"The shipment is {source.status}: only an unshipped one can be split.")
    # Before the take: a line moved whole is no longer in the source's items.
    prices = {item["product_id"]: item.get("unit_price") for item in source.items}
    source.items = _take(source.items, wanted)
    now = _now()
    source.updated_at = now
    new = Shipment(
        id=uuid.uuid4().hex,
        order_id=source.order_id,
        user_id=source.user_id,
        status=ShipmentStatus.PENDING,
        method=source.method,
        items=[
            {"product_id": line.product_id, "quantity": line.quantity}
            | ({"unit_price": prices[line.product_id]} if prices.get(line.product_id) else {})
            for line in wanted
        ],
        address=source.address,
        split_from=source.id,
        created_at=now,
        updated_at=now,
    )
    session.add(new)
    try:
        await _created(session, outbox, new)
        await session.commit()
    except StaleDataError:
        raise Conflict("The shipment was moved concurrently; read it again.") from None
    return new
