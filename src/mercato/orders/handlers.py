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

__all__ = ["HANDLERS", "on_return_received", "on_shipment_event"]

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


ShipmentEvent = ShipmentCreated | ShipmentShipped | ShipmentDelivered


def _checked(data: ShipmentEvent, event: Event) -> ShipmentEvent:
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


# Each shipment event: the contract it is read with, the status it records, and what
# else of it the order's shipment keeps.
_SHIPMENT_EVENTS: dict[str, tuple[type[ShipmentEvent], str, tuple[str, ...]]] = {
    "shipment.created": (ShipmentCreated, CREATED, ("method",)),
    "shipment.shipped": (ShipmentShipped, SHIPPED, ("carrier", "tracking_number", "tracking_url")),
    "shipment.delivered": (ShipmentDelivered, DELIVERED, ("delivered_at",)),
}


async def on_shipment_event(session: AsyncSession, event: Event) -> None:
    """A shipment of an order was made, left with its carrier, or was delivered."""
    contract, status, kept = _SHIPMENT_EVENTS[event.type]
    data = _checked(_parsed(contract, event), event)
    await record(
        session,
        shipment_id=data.shipment_id,
        order_id=data.order_id,
        status=status,
        items=[line.model_dump(mode="json") for line in data.items],
        now=_now(),
        **{name: getattr(data, name) for name in kept},
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
    **dict.fromkeys(_SHIPMENT_EVENTS, on_shipment_event),
    "return.received": on_return_received,
}
