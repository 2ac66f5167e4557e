"""What an order's answer shows of its goods: shipments, returns, and where they are.

`fulfilments` reads the shipments and returns of some orders (two queries for any
number of orders) and makes each order's `Fulfilment`: the `shipments` and `returns`
fields of its API answer and its `fulfilment` status (`shipments.fulfilment`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.orders import returns_store
from mercato.orders.models import Order, OrderReturn, Shipment
from mercato.orders.return_saga import RETURNED
from mercato.orders.shipments import fulfilment, quantities, shipments_of

__all__ = [
    "FULFILMENT",
    "Fulfilment",
    "RefundedOut",
    "ReturnOut",
    "ReturnedLineOut",
    "ShipmentLineOut",
    "ShipmentOut",
    "fulfilments",
    "of_order",
    "return_body",
]

FULFILMENT = (
    "Where the goods are: unfulfilled (no shipment yet), awaiting_shipment, "
    "partially_shipped, shipped, partially_delivered, delivered; once lines come back, "
    "partially_returned or returned."
)


class ShipmentLineOut(BaseModel):
    """A product in a shipment."""

    product_id: str = Field(description="A catalog product's id.")
    quantity: int = Field(description="How many units it carries.")


class ShipmentOut(BaseModel):
    """One shipment of the order, as shipping reported it."""

    id: str = Field(description="The shipment's id (at shipping).")
    status: str = Field(description="created (waits to be packed), shipped or delivered.")
    items: list[ShipmentLineOut] = Field(description="The lines it carries.")
    method: str | None = Field(description="The shipping method, once known.")
    carrier: str | None = Field(description="Who carries it, once shipped.")
    tracking_number: str | None = Field(description="The carrier's tracking number.")
    tracking_url: str | None = Field(description="Where to follow it, if the carrier has one.")
    delivered_at: str | None = Field(description="When it was delivered.")
    updated_at: datetime = Field(description="When orders last heard of it.")


class ReturnedLineOut(BaseModel):
    """A product that came back."""

    product_id: str = Field(description="A catalog product's id.")
    quantity: int = Field(description="How many units came back.")


class RefundedOut(BaseModel):
    """An amount refunded, in minor units of an ISO 4217 currency."""

    amount: int = Field(description="Minor units, e.g. cents.")
    currency: str = Field(description="ISO 4217 code, e.g. USD.")


class ReturnOut(BaseModel):
    """A received return of some of the order's lines, and its refund."""

    id: str = Field(description="The return's id (at shipping).")
    status: str = Field(
        description="received, restocking, refunding, returned (restocked and refunded), "
        "or needs_attention (waits for an operator: `reason`)."
    )
    items: list[ReturnedLineOut] = Field(description="The lines that came back.")
    refund: RefundedOut | None = Field(
        description="What is refunded for it, once the return is checked against the order."
    )
    whole_order: bool = Field(description="Whether it completes the order (shipping refunded).")
    reason: str | None = Field(description="Why it waits, when it does.")
    created_at: datetime = Field(description="When it was received.")
    updated_at: datetime = Field(description="When it last changed.")


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """An order's shipments and returns and where its goods are (its answer's fields)."""

    fulfilment: str
    shipments: list[ShipmentOut]
    returns: list[ReturnOut]


def _lines(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"product_id": i["product_id"], "quantity": i["quantity"]} for i in items]


def _shipment(row: Shipment) -> ShipmentOut:
    return ShipmentOut.model_validate(
        {
            "id": row.id,
            "status": row.status,
            "items": _lines(row.items),
            "method": row.method,
            "carrier": row.carrier,
            "tracking_number": row.tracking_number,
            "tracking_url": row.tracking_url,
            "delivered_at": row.delivered_at,
            "updated_at": row.updated_at,
        }
    )


def return_body(row: OrderReturn) -> ReturnOut:
    """The API shape of a stored return."""
    refund = None
    if row.refund_amount is not None:
        refund = {"amount": row.refund_amount, "currency": row.currency}
    return ReturnOut.model_validate(
        {
            "id": row.id,
            "status": row.status,
            "items": _lines(row.items),
            "refund": refund,
            "whole_order": row.whole_order,
            "reason": row.reason,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def of_order(
    order: Order, shipments: Sequence[Shipment], returns: Sequence[OrderReturn]
) -> Fulfilment:
    """An order's fulfilment from its shipments and returns."""
    returned: Counter[str] = Counter()
    for row in returns:
        if row.status == RETURNED:
            returned.update(quantities(row.items))
    status = fulfilment(
        ordered=quantities(order.items),
        shipments=[(row.status, quantities(row.items)) for row in shipments],
        returned=returned,
    )
    return Fulfilment(
        fulfilment=status,
        shipments=[_shipment(row) for row in shipments],
        returns=[return_body(row) for row in returns],
    )


async def fulfilments(session: AsyncSession, orders: Sequence[Order]) -> dict[str, Fulfilment]:
    """The fulfilment of each of `orders`, by order id."""
    ids = [order.id for order in orders]
    shipped = await shipments_of(session, ids)
    returned = await returns_store.of_orders(session, ids)
    return {order.id: of_order(order, shipped[order.id], returned[order.id]) for order in orders}
