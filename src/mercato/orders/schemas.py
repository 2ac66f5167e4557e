"""API shapes of the orders service (never ORM classes), and the body of a stored order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.chassis.web.json_body import WholeNumber
from mercato.chassis.web.paging import Page
from mercato.contracts.quantities import MAX_STOCK
from mercato.orders.models import Order, OrderHistory
from mercato.orders.pricing import item_total

__all__ = [
    "CartItemOut",
    "CartOut",
    "CheckoutIn",
    "HistoryOut",
    "MoneyOut",
    "OrderItemOut",
    "OrderOut",
    "OrderPage",
    "QuantityIn",
    "ShippingAddress",
    "order_body",
]

Required200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Optional200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Required100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class MoneyOut(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    amount: int
    currency: str


class QuantityIn(BaseModel):
    """How many of a product the cart should hold."""

    model_config = ConfigDict(extra="forbid")

    # `cart.set_quantity` refuses 0 with a 422 naming the item (and says to remove it);
    # the document states the minimum all the same. No stock count exceeds MAX_STOCK.
    quantity: WholeNumber = Field(
        le=MAX_STOCK,
        description="At least 1 and at most the stock.",
        json_schema_extra={"minimum": 1},
    )


class CartItemOut(BaseModel):
    """One cart line, priced at the catalog's current price."""

    product_id: str
    title: str | None
    quantity: int
    unit_price: MoneyOut | None
    line_total: MoneyOut | None
    available: bool = Field(description="False when the product left the catalog.")
    currency_mismatch: bool = Field(
        default=False,
        description="True when the product is now priced in another currency than the cart "
        "(a cart holds one currency): the line is left out of the total, and checkout refuses "
        "the cart until it is removed.",
    )


class CartOut(BaseModel):
    """A customer's cart with current prices, all in one currency."""

    items: list[CartItemOut]
    total: MoneyOut = Field(description="The lines in the cart's currency, summed.")


class ShippingAddress(BaseModel):
    """Where an order goes."""

    model_config = ConfigDict(extra="forbid")

    name: Required200
    line1: Required200
    line2: Optional200 | None = None
    city: Required100
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = (
        None
    )
    country: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{2}$")]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None


class CheckoutIn(BaseModel):
    """What `POST /api/orders` needs besides the cart: how to pay and where to ship."""

    model_config = ConfigDict(extra="forbid")

    payment_method_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    shipping_address: ShippingAddress


class OrderItemOut(BaseModel):
    """One line of an order, at the price it was ordered for."""

    product_id: str
    title: str | None
    quantity: int
    unit_price: MoneyOut
    line_total: MoneyOut


class HistoryOut(BaseModel):
    """A state the order entered, when and why."""

    status: str
    at: datetime
    reason: str | None


class OrderOut(BaseModel):
    """An order and where its checkout stands."""

    id: str
    status: str = Field(
        description="pending, reserving, reserved, charging, paid, confirmed, cancelling; "
        "settled: payment_failed, out_of_stock, rejected (the catalog refused the lines for "
        "another reason than stock, e.g. a price now in another currency), cancelled; "
        "needs_attention: the saga stopped and waits for an operator (why: `reason`)."
    )
    items: list[OrderItemOut]
    total: MoneyOut
    payment_method_id: str
    payment_id: str | None
    shipping_address: ShippingAddress
    reason: str | None
    history: list[HistoryOut]
    created_at: datetime
    updated_at: datetime
    deadline: datetime | None = Field(
        default=None,
        description="When the order must have left its current state; past it the saga "
        "leaves it for an operator. Null once settled or waiting for an operator.",
    )


class OrderPage(Page[OrderOut]):
    """One page of orders, newest first; pass `next_cursor` back as `cursor`."""


def order_body(order: Order, history: Sequence[OrderHistory]) -> OrderOut:
    """The API shape of a stored order and its history."""
    items: list[dict[str, Any]] = order.items
    return OrderOut(
        id=order.id,
        status=order.status,
        items=[
            OrderItemOut(
                product_id=item["product_id"],
                title=item.get("title"),
                quantity=item["quantity"],
                unit_price=MoneyOut.model_validate(item["unit_price"]),
                line_total=MoneyOut(
                    amount=item_total(item), currency=item["unit_price"]["currency"]
                ),
            )
            for item in items
        ],
        total=MoneyOut(amount=order.total_amount, currency=order.currency),
        payment_method_id=order.payment_method_id,
        payment_id=order.payment_id,
        shipping_address=ShippingAddress.model_validate(order.shipping_address),
        reason=order.reason,
        history=[HistoryOut(status=h.status, at=h.at, reason=h.reason) for h in history],
        created_at=order.created_at,
        updated_at=order.updated_at,
        deadline=order.deadline,
    )
