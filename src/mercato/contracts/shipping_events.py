"""Versioned schemas of the shipping service's events: shipments and returns.

They follow `events`' rules (a class per (type, version), optional fields only added
within a version) and are part of its `SCHEMAS`; `events.PRODUCERS` names shipping as
their one producer. The subject of a shipment event is the shipment's id, of a return
event the return's id; each carries its `order_id` so that the audit log and the
notifications find them by order.

    order.confirmed ─▶ shipment.created ─▶ (packed) ─▶ shipment.shipped ─▶ shipment.delivered
    return.requested ─▶ return.accepted ─▶ return.received ─▶ (orders) order.returned
                    └─▶ return.rejected
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mercato.contracts.event_base import EventData, Line

__all__ = [
    "ReturnAccepted",
    "ReturnReceived",
    "ReturnRejected",
    "ReturnRequested",
    "ShipmentCreated",
    "ShipmentDelivered",
    "ShipmentShipped",
    "ShippingAddressData",
]


class ShippingAddressData(BaseModel):
    """Where an order goes, as events carry it (the fields of an order's address)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str | None = None
    country: str
    phone: str | None = None


class ShipmentCreated(EventData):
    """`shipment.created` v1, from shipping: a confirmed order's lines wait to be packed.

    An order may be split into several shipments; `items` are this one's lines.
    """

    TYPE = "shipment.created"

    shipment_id: str
    order_id: str
    user_id: str
    items: list[Line]
    method: str


class ShipmentShipped(EventData):
    """`shipment.shipped` v1, from shipping: handed to the carrier, with its tracking."""

    TYPE = "shipment.shipped"

    shipment_id: str
    order_id: str
    user_id: str
    items: list[Line]
    carrier: str
    tracking_number: str
    tracking_url: str | None = None


class ShipmentDelivered(EventData):
    """`shipment.delivered` v1, from shipping: the carrier delivered it."""

    TYPE = "shipment.delivered"

    shipment_id: str
    order_id: str
    user_id: str
    items: list[Line]
    delivered_at: str


class ReturnRequested(EventData):
    """`return.requested` v1, from shipping: a customer asks to send delivered lines back."""

    TYPE = "return.requested"

    return_id: str
    order_id: str
    user_id: str
    items: list[Line]
    reason: str


class ReturnAccepted(EventData):
    """`return.accepted` v1, from shipping: an admin agreed; the customer may send them."""

    TYPE = "return.accepted"

    return_id: str
    order_id: str
    user_id: str
    items: list[Line]


class ReturnRejected(EventData):
    """`return.rejected` v1, from shipping: an admin refused the return, saying why."""

    TYPE = "return.rejected"

    return_id: str
    order_id: str
    user_id: str
    reason: str


class ReturnReceived(EventData):
    """`return.received` v1, from shipping: the lines are back in the warehouse.

    Orders refunds and restocks them (`order.returned`); `whole_order` says every line
    of the order has now come back, so the shipping is refunded too.
    """

    TYPE = "return.received"

    return_id: str
    order_id: str
    user_id: str
    items: list[Line]
    whole_order: bool = False
