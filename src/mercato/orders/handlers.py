"""Handlers of the events the orders service consumes: shipping's shipments and returns.

Each runs in the consumer's transaction, after the event's inbox row, so a
redelivered event has no second effect. `shipment.*` upserts the order's shipment
(`shipments.record`); `return.received` records the return, `received`, for the return
saga (`return_saga`), which the return sweeper then drives: the handler itself calls
no other service. A return recorded already (the same return sent again under another
event id) is left as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Event, PoisonEvent
from mercato.chassis.runtime import Handler
from mercato.contracts.events import EventData
from mercato.contracts.shipping_events import (
    ReturnReceived,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentShipped,
)
from mercato.orders.models import OrderReturn
from mercato.orders.return_saga import RECEIVED
from mercato.orders.shipments import CREATED, DELIVERED, SHIPPED, record

__all__ = [
    "HANDLERS",
    "on_return_received",
    "on_shipment_created",
    "on_shipment_delivered",
    "on_shipment_shipped",
]

Data = TypeVar("Data", bound=EventData)
MAX_ID, MAX_ORDER_ID = 64, 36  # the columns' sizes (`models.OrderReturn`, `models.Shipment`)
LIMITS = {"method": 64, "carrier": 64, "tracking_number": 128, "delivered_at": 40}


def _parsed(schema: type[Data], event: Event) -> Data:
    """The event's data as its v1 schema; PoisonEvent (dead letters) otherwise."""
    if event.version != 1:
        raise PoisonEvent(f"{event.type} v{event.version} is not understood by orders")
    try:
        return schema.model_validate(event.data)
    except ValidationError as exc:
        raise PoisonEvent(f"{event.type} {event.id} breaks its contract: {exc}") from exc


Shipped = TypeVar("Shipped", ShipmentCreated, ShipmentShipped, ShipmentDelivered)


def _checked(data: Shipped, event: Event) -> Shipped:
    """The shipment event's data, when its ids fit the columns; PoisonEvent otherwise."""
    if len(data.shipment_id) > MAX_ID or len(data.order_id) > MAX_ORDER_ID:
        raise PoisonEvent(f"{event.type} {event.id}: an id longer than orders keeps")
    for name, limit in LIMITS.items():
        value = getattr(data, name, None)
        if isinstance(value, str) and len(value) > limit:
            raise PoisonEvent(f"{event.type} {event.id}: its {name} is longer than {limit}")
    return data


def _now() -> datetime:
    return datetime.now(UTC)


async def on_shipment_created(session: AsyncSession, event: Event) -> None:
    """A shipment of an order waits to be packed."""
    data = _checked(_parsed(ShipmentCreated, event), event)
    await record(
        session,
        shipment_id=data.shipment_id,
        order_id=data.order_id,
        status=CREATED,
        items=[line.model_dump(mode="json") for line in data.items],
        now=_now(),
        method=data.method,
    )


async def on_shipment_shipped(session: AsyncSession, event: Event) -> None:
    """A shipment left with its carrier: its tracking."""
    data = _checked(_parsed(ShipmentShipped, event), event)
    await record(
        session,
        shipment_id=data.shipment_id,
        order_id=data.order_id,
        status=SHIPPED,
        items=[line.model_dump(mode="json") for line in data.items],
        now=_now(),
        carrier=data.carrier,
        tracking_number=data.tracking_number,
        tracking_url=data.tracking_url,
    )


async def on_shipment_delivered(session: AsyncSession, event: Event) -> None:
    """A shipment was delivered."""
    data = _checked(_parsed(ShipmentDelivered, event), event)
    await record(
        session,
        shipment_id=data.shipment_id,
        order_id=data.order_id,
        status=DELIVERED,
        items=[line.model_dump(mode="json") for line in data.items],
        now=_now(),
        delivered_at=data.delivered_at,
    )


async def on_return_received(session: AsyncSession, event: Event) -> None:
    """Record a received return for its refund saga (once per return id)."""
    data = _parsed(ReturnReceived, event)
    if len(data.return_id) > MAX_ID or len(data.order_id) > MAX_ORDER_ID:
        raise PoisonEvent(f"return.received {event.id}: an id longer than orders keeps")
    if await session.get(OrderReturn, data.return_id) is not None:
        return
    now = _now()
    session.add(
        OrderReturn(
            id=data.return_id,
            order_id=data.order_id,
            user_id=data.user_id,
            status=RECEIVED,
            items=[
                {"product_id": line.product_id, "quantity": line.quantity} for line in data.items
            ],
            whole_order=data.whole_order,
            discount_share=0,
            shipping_refund=0,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )


HANDLERS: dict[str, Handler] = {
    "shipment.created": on_shipment_created,
    "shipment.shipped": on_shipment_shipped,
    "shipment.delivered": on_shipment_delivered,
    "return.received": on_return_received,
}
