"""API shapes of the orders service (never ORM classes), and the body of a stored order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.chassis.web.json_body import WholeNumber
from mercato.chassis.web.paging import Page
from mercato.contracts.quantities import MAX_STOCK
from mercato.orders.fulfilment import FULFILMENT, Fulfilment, ReturnOut, ShipmentOut
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
MethodCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
]
Required100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

PRODUCT = "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f"
PRODUCT_ID = "A catalog product's id."
TITLE = "The product's title (null if the catalog no longer knows it)."
UNIT: dict[str, Any] = {"amount": 450, "currency": "USD"}
LINE: dict[str, Any] = {"amount": 900, "currency": "USD"}
ADDRESS: dict[str, Any] = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": None,
    "city": "London",
    "region": None,
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7946 0958",
}
CART_EXAMPLE: dict[str, Any] = {
    "items": [
        {
            "product_id": PRODUCT,
            "title": "Green tea, 100 g",
            "quantity": 2,
            "unit_price": UNIT,
            "line_total": LINE,
            "available": True,
            "currency_mismatch": False,
        }
    ],
    "total": LINE,
}
ORDER_EXAMPLE: dict[str, Any] = {
    "id": "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d",
    "status": "confirmed",
    "items": [
        {
            "product_id": PRODUCT,
            "title": "Green tea, 100 g",
            "quantity": 2,
            "unit_price": UNIT,
            "line_total": LINE,
        }
    ],
    "total": LINE,
    "payment_method_id": "e4b2a1c9-7d3f-4e8a-b6c5-2a1f9e8d7c6b",
    "payment_id": "c7a1e3b5-9d2f-4a6c-8e0b-1f3d5a7c9e2b",
    "shipping_address": ADDRESS,
    "reason": None,
    "history": [
        {"status": "pending", "at": "2026-01-01T12:00:00Z", "reason": None},
        {"status": "confirmed", "at": "2026-01-01T12:00:02Z", "reason": None},
    ],
    "created_at": "2026-01-01T12:00:00Z",
    "updated_at": "2026-01-01T12:00:02Z",
    "deadline": None,
    "fulfilment": "unfulfilled",
    "shipments": [],
    "returns": [],
    "subtotal": LINE,
    "shipping": {"amount": 0, "currency": "USD"},
    "shipping_method": None,
    "discount": {"amount": 0, "currency": "USD"},
    "discount_code": None,
}


class MoneyOut(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    amount: int = Field(description="Minor units, e.g. cents.")
    currency: str = Field(description="ISO 4217 code, e.g. USD.")


class QuantityIn(BaseModel):
    """How many of a product the cart should hold."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"quantity": 2}]})

    # `cart.set_quantity` refuses 0 with a 422 naming the item (and says to remove it);
    # the document states the minimum all the same. No stock count exceeds MAX_STOCK.
    quantity: WholeNumber = Field(
        le=MAX_STOCK,
        description="At least 1 and at most the stock.",
        json_schema_extra={"minimum": 1},
    )


class CartItemOut(BaseModel):
    """One cart line, priced at the catalog's current price."""

    product_id: str = Field(description=PRODUCT_ID)
    title: str | None = Field(description=TITLE)
    quantity: int = Field(description="How many the cart holds.")
    unit_price: MoneyOut | None = Field(description="The catalog's price now (null if gone).")
    line_total: MoneyOut | None = Field(description="Unit price times quantity (null if gone).")
    available: bool = Field(description="False when the product left the catalog.")
    currency_mismatch: bool = Field(
        default=False,
        description="True when the product is now priced in another currency than the cart "
        "(a cart holds one currency): the line is left out of the total, and checkout refuses "
        "the cart until it is removed.",
    )


class CartOut(BaseModel):
    """A customer's cart with current prices, all in one currency."""

    model_config = ConfigDict(json_schema_extra={"examples": [CART_EXAMPLE]})

    items: list[CartItemOut] = Field(description="The lines, in the order they were added.")
    total: MoneyOut = Field(
        description="The lines in the cart's currency, summed, less the discount (if any)."
    )
    # Added with discount codes: the total before the discount, and the code's part.
    subtotal: MoneyOut | None = Field(
        default=None, description="The lines in the cart's currency, summed."
    )
    discount: MoneyOut | None = Field(
        default=None, description="What the cart's code takes off (null: no code)."
    )
    discount_code: str | None = Field(default=None, description="The code on the cart, if any.")
    discount_problem: str | None = Field(
        default=None,
        description="Why the cart's code takes nothing off now (expired, below its minimum...); "
        "checkout refuses it until it is removed or the cart fits it.",
    )


class ShippingAddress(BaseModel):
    """Where an order goes."""

    model_config = ConfigDict(extra="forbid")

    name: Required200 = Field(description="Who receives it.")
    line1: Required200 = Field(description="Street and number.")
    line2: Optional200 | None = Field(default=None, description="Flat, floor, building.")
    city: Required100 = Field(description="City or town.")
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = Field(
        default=None, description="State, province or county."
    )
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = (
        Field(default=None, description="Postal code, if any.")
    )
    country: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{2}$")] = (
        Field(description="ISO 3166-1 alpha-2 code, e.g. `GB`.")
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = Field(
        default=None, description="A phone number for the carrier."
    )


class CheckoutIn(BaseModel):
    """What `POST /api/orders` needs besides the cart: how to pay and where to ship."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "payment_method_id": ORDER_EXAMPLE["payment_method_id"],
                    "shipping_address": ADDRESS,
                }
            ]
        },
    )

    payment_method_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ] = Field(description="One of the caller's saved cards (`/api/payments/methods`).")
    shipping_address: ShippingAddress = Field(description="Where the order goes.")
    # Added with shipping and discounts (optional, so earlier clients are unchanged).
    shipping_method: MethodCode | None = Field(
        default=None,
        description="A method of `GET /api/orders/cart/shipping` (absent: the cheapest).",
    )
    discount_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None
    ) = Field(default=None, description="A discount code (absent: the cart's code, if any).")


class OrderItemOut(BaseModel):
    """One line of an order, at the price it was ordered for."""

    product_id: str = Field(description=PRODUCT_ID)
    title: str | None = Field(description="The product's title when it was ordered.")
    quantity: int = Field(description="How many were ordered.")
    unit_price: MoneyOut = Field(description="The price of one unit when it was ordered.")
    line_total: MoneyOut = Field(description="Unit price times quantity.")


class HistoryOut(BaseModel):
    """A state the order entered, when and why."""

    status: str = Field(description="The state it entered (see the order's `status`).")
    at: datetime = Field(description="When.")
    reason: str | None = Field(description="Why, when it says (a decline, who cancelled...).")


class OrderOut(BaseModel):
    """An order and where its checkout stands."""

    model_config = ConfigDict(json_schema_extra={"examples": [ORDER_EXAMPLE]})

    id: str = Field(description="The order's id.")
    status: str = Field(
        description="pending, reserving, reserved, charging, paid, confirmed, cancelling; "
        "settled: payment_failed, out_of_stock, rejected (the catalog refused the lines for "
        "another reason than stock, e.g. a price now in another currency), cancelled; "
        "needs_attention: the saga stopped and waits for an operator (why: `reason`)."
    )
    items: list[OrderItemOut] = Field(description="The lines, at the prices ordered.")
    total: MoneyOut = Field(description="What is charged: subtotal + shipping - discount.")
    payment_method_id: str = Field(description="The saved card it is paid with.")
    payment_id: str | None = Field(description="The payment, once charged.")
    shipping_address: ShippingAddress = Field(description="Where it goes.")
    reason: str | None = Field(description="Why it settled as it did, or waits, if it says.")
    history: list[HistoryOut] = Field(description="Every state it entered, oldest first.")
    created_at: datetime = Field(description="When it was placed.")
    updated_at: datetime = Field(description="When it last changed.")
    deadline: datetime | None = Field(
        default=None,
        description="When the order must have left its current state; past it the saga "
        "leaves it for an operator. Null once settled or waiting for an operator.",
    )
    # Fulfilment (`fulfilment`): from shipping's events, and the returns' refund sagas.
    fulfilment: str = Field(default="unfulfilled", description=FULFILMENT)
    shipments: list[ShipmentOut] = Field(
        default_factory=list, description="Its shipments, oldest first (empty before any)."
    )
    returns: list[ReturnOut] = Field(
        default_factory=list, description="Its received returns and their refunds, oldest first."
    )
    # Added with shipping and discounts: the parts of `total`.
    subtotal: MoneyOut | None = Field(default=None, description="The lines summed.")
    shipping: MoneyOut | None = Field(default=None, description="The shipping charged.")
    shipping_method: str | None = Field(default=None, description="How it ships, if charged.")
    discount: MoneyOut | None = Field(default=None, description="What its code took off.")
    discount_code: str | None = Field(default=None, description="The code used, if any.")


class OrderPage(Page[OrderOut]):
    """One page of orders, newest first; pass `next_cursor` back as `cursor`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [ORDER_EXAMPLE], "next_cursor": "WyIyMDI2"}]}
    )


def order_body(
    order: Order, history: Sequence[OrderHistory], goods: Fulfilment | None = None
) -> OrderOut:
    """The API shape of a stored order, its history and its shipments and returns."""
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
        **(
            {"fulfilment": goods.fulfilment, "shipments": goods.shipments, "returns": goods.returns}
            if goods is not None
            else {}
        ),
        subtotal=MoneyOut(amount=order.subtotal_amount, currency=order.currency),
        shipping=MoneyOut(amount=order.shipping_amount, currency=order.currency),
        shipping_method=order.shipping_method,
        discount=MoneyOut(amount=order.discount_amount, currency=order.currency),
        discount_code=order.discount_code,
    )
