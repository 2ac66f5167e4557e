"""Calls to orders: the cart (the header's badge, the cart page), checkout and the orders.

Every call is the signed-in shopper's own (`Caller` with their token): a cart, an
order and its history are personal, never cached. `place_order` sends the checkout's
`Idempotency-Key`, so the same key and body answer the first order again (a double
click, a reload) and the service client may retry it safely.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller
from mercato.web.money import Money

__all__ = [
    "Cart",
    "CartItem",
    "CartLine",
    "CartShipping",
    "CartSummary",
    "HistoryEntry",
    "Order",
    "OrderItem",
    "OrderList",
    "Quote",
    "Shipment",
    "ShippingAddress",
    "apply_code",
    "cancel",
    "cart",
    "full_cart",
    "order",
    "orders",
    "place_order",
    "remove_code",
    "remove_item",
    "set_quantity",
    "shipping",
]


class CartLine(BaseModel):
    """One line of the cart: a product and how many."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    quantity: int


class CartSummary(BaseModel):
    """The shopper's cart, as far as the badge needs it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[CartLine, ...] = ()

    @property
    def count(self) -> int:
        """How many items are in the cart, all lines together."""
        return sum(line.quantity for line in self.items)


async def cart(caller: Caller) -> CartSummary:
    """The signed-in shopper's cart."""
    return CartSummary.model_validate(await caller.call("orders", "GET", "/api/orders/cart"))


class CartItem(BaseModel):
    """A line of the cart at the catalog's current price (None: the product is gone)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    title: str | None = None
    quantity: int
    unit_price: Money | None = None
    line_total: Money | None = None
    available: bool = True
    currency_mismatch: bool = False


class Cart(BaseModel):
    """The shopper's cart, priced now."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[CartItem, ...] = ()
    total: Money  # after the discount
    subtotal: Money | None = None  # before it
    discount: Money | None = None
    discount_code: str | None = None
    discount_problem: str | None = None  # why the code takes nothing off now

    @property
    def count(self) -> int:
        """How many items are in the cart, all lines together."""
        return sum(line.quantity for line in self.items)


class ShippingAddress(BaseModel):
    """Where an order goes (the orders API's shape)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str | None = None
    country: str
    phone: str | None = None


class OrderItem(BaseModel):
    """A line of an order, at the price it was ordered for."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    title: str | None = None
    quantity: int
    unit_price: Money
    line_total: Money


class HistoryEntry(BaseModel):
    """A state the order entered, when and why."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: str
    at: datetime
    reason: str | None = None


class ShipmentLine(BaseModel):
    """A product in a shipment, and how many units."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    quantity: int


class Shipment(BaseModel):
    """A shipment of the order, as orders heard of it from shipping."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: str  # created, shipped, delivered
    items: tuple[ShipmentLine, ...] = ()
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None


class Order(BaseModel):
    """An order and where its checkout stands."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: str
    items: tuple[OrderItem, ...] = ()
    total: Money
    subtotal: Money | None = None
    shipping: Money | None = None
    shipping_method: str | None = None
    discount: Money | None = None
    discount_code: str | None = None
    shipping_address: ShippingAddress
    reason: str | None = None
    history: tuple[HistoryEntry, ...] = ()
    fulfilment: str = "unfulfilled"  # where the goods are
    shipments: tuple[Shipment, ...] = ()
    created_at: datetime
    updated_at: datetime


class Quote(BaseModel):
    """A way to ship the cart and what it costs."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    method: str
    name: str
    price: Money
    min_days: int
    max_days: int


class CartShipping(BaseModel):
    """The ways to ship the cart to a country, cheapest first.

    `charged` false: the shop charges no shipping (no shipping service behind orders),
    and there is nothing to choose.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Quote, ...] = ()
    charged: bool = False


class OrderList(BaseModel):
    """One page of the shopper's orders, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Order, ...] = ()
    next_cursor: str | None = None


def _item_path(product_id: str) -> str:
    return f"/api/orders/cart/items/{quote(product_id, safe='')}"


def _order_path(order_id: str) -> str:
    return f"/api/orders/{quote(order_id, safe='')}"


async def full_cart(caller: Caller) -> Cart:
    """The signed-in shopper's cart with its lines priced."""
    return Cart.model_validate(await caller.call("orders", "GET", "/api/orders/cart"))


async def set_quantity(caller: Caller, product_id: str, quantity: int) -> Cart:
    """Put `quantity` of a product in the cart (422: `errors` say why, e.g. the stock)."""
    body = await caller.call("orders", "PUT", _item_path(product_id), json={"quantity": quantity})
    return Cart.model_validate(body)


async def remove_item(caller: Caller, product_id: str) -> Cart:
    """Take a product out of the cart (one not in it is no change)."""
    return Cart.model_validate(await caller.call("orders", "DELETE", _item_path(product_id)))


async def apply_code(caller: Caller, code: str) -> Cart:
    """Put a discount code on the cart (422: `errors` name `code`, the detail says why)."""
    body = await caller.call("orders", "PUT", "/api/orders/cart/discount", json={"code": code})
    return Cart.model_validate(body)


async def remove_code(caller: Caller) -> Cart:
    """Take the discount code off the cart (none on it is no change)."""
    return Cart.model_validate(await caller.call("orders", "DELETE", "/api/orders/cart/discount"))


async def shipping(caller: Caller, country: str) -> CartShipping:
    """How the cart can be shipped to `country` (an ISO code), cheapest first."""
    params = {"country": country}
    body = await caller.call("orders", "GET", "/api/orders/cart/shipping", params=params)
    return CartShipping.model_validate(body)


async def place_order(
    caller: Caller,
    *,
    key: str,
    payment_method_id: str,
    shipping_address: dict[str, Any],
    shipping_method: str | None = None,
    timeout: float | None = None,
) -> Order:
    """Check the cart out under the idempotency `key` (the same key and body: the same order).

    422: an empty cart, products no longer sold, a key used with another body; 409: the
    first request under the key is still running, or the cart changed meanwhile. Orders
    waits a few seconds for a quick saga before it answers: `timeout` allows for that.
    """
    body: dict[str, Any] = {
        "payment_method_id": payment_method_id,
        "shipping_address": shipping_address,
    }
    if shipping_method:
        body["shipping_method"] = shipping_method
    answer = await caller.call(
        "orders", "POST", "/api/orders", json=body, idempotency_key=key, timeout=timeout
    )
    return Order.model_validate(answer)


async def orders(caller: Caller, *, limit: int = 20, cursor: str | None = None) -> OrderList:
    """The shopper's orders, newest first, one page at a time (422: a bad cursor)."""
    params: dict[str, str | int] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    return OrderList.model_validate(
        await caller.call("orders", "GET", "/api/orders", params=params)
    )


async def order(caller: Caller, order_id: str) -> Order:
    """One of the shopper's orders with its history (404: none, or another's)."""
    return Order.model_validate(await caller.call("orders", "GET", _order_path(order_id)))


async def cancel(caller: Caller, order_id: str) -> Order:
    """Cancel an order (409: it failed, or its checkout is still running)."""
    path = f"{_order_path(order_id)}/cancel"
    return Order.model_validate(await caller.call("orders", "POST", path))
