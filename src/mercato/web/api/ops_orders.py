"""Calls for the operations console's orders page: an order, its payment, its reservation.

Admins read any order (`GET /api/orders/{id}`: another user's order is 404 only to a
customer), any payment (`GET /api/payments/{id}`, a user's with `?user_id=`) and any
order's reservation (`GET /api/catalog/reservations/{order_id}`, admins and services).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import ApiError, Caller
from mercato.web.api.orders import HistoryEntry, OrderItem
from mercato.web.money import Money

__all__ = [
    "Order",
    "Payment",
    "Refund",
    "Reservation",
    "attention",
    "order",
    "payment",
    "payments_of",
    "refunds",
    "reservation",
]


class Order(BaseModel):
    """An order as the orders service answers it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: str
    items: tuple[OrderItem, ...]
    total: Money
    payment_method_id: str
    payment_id: str | None = None
    shipping_address: dict[str, Any]
    reason: str | None = None
    history: tuple[HistoryEntry, ...] = ()
    created_at: datetime
    updated_at: datetime
    deadline: datetime | None = None


class Payment(BaseModel):
    """A payment."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: str
    reason: str | None = None
    order_id: str
    user_id: str
    amount: Money
    refunded_amount: Money
    created_at: datetime


class Refund(BaseModel):
    """A refund of a payment."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: str
    amount: Money
    reason: str
    failure_reason: str | None = None
    created_at: datetime


class ReservationLine(BaseModel):
    """A reserved line."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    quantity: int


class Reservation(BaseModel):
    """The stock held for an order."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: str
    status: str
    items: tuple[ReservationLine, ...]
    total: Money
    expires_at: datetime | None = None
    reason: str | None = None
    updated_at: datetime


async def order(caller: Caller, order_id: str) -> Order:
    """Any order (404: none)."""
    path = f"/api/orders/{quote(order_id, safe='')}"
    return Order.model_validate(await caller.call("orders", "GET", path))


async def attention(caller: Caller, *, limit: int = 20) -> tuple[Order, ...]:
    """Everyone's orders waiting for an operator, newest first."""
    body = await caller.call("orders", "GET", "/api/orders/attention", params={"limit": limit})
    return tuple(Order.model_validate(item) for item in body["items"])


async def payment(caller: Caller, payment_id: str) -> Payment:
    """Any payment (404: none)."""
    path = f"/api/payments/{quote(payment_id, safe='')}"
    return Payment.model_validate(await caller.call("payments", "GET", path))


async def payments_of(caller: Caller, user_id: str, *, limit: int = 100) -> tuple[Payment, ...]:
    """A user's payments, newest first (the first `limit`)."""
    params: dict[str, str | int] = {"user_id": user_id, "limit": limit}
    body = await caller.call("payments", "GET", "/api/payments", params=params)
    return tuple(Payment.model_validate(item) for item in body["items"])


async def refunds(caller: Caller, payment_id: str) -> tuple[Refund, ...]:
    """A payment's refunds, oldest first."""
    path = f"/api/payments/{quote(payment_id, safe='')}/refunds"
    body = await caller.call("payments", "GET", path)
    return tuple(Refund.model_validate(item) for item in body["items"])


async def reservation(caller: Caller, order_id: str) -> Reservation | None:
    """The order's reservation at the catalog (None: there is none)."""
    path = f"/api/catalog/reservations/{quote(order_id, safe='')}"
    try:
        return Reservation.model_validate(await caller.call("catalog", "GET", path))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
