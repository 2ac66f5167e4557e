"""The orders service's tables: cart lines, orders with their saga state, history.

An order row is the saga's state: `status` is the step reached, every step's
result is committed with it, and `lease_owner`/`lease_until` is the per-order lock
that one worker takes by compare-and-set before driving the saga, so two workers
never drive the same order at once. `charge_unresolved` marks an order whose
charge outcome is unknown while it is being cancelled (or, before version 0002, had
failed): the compensation asks payments again with the same idempotency key and
refunds a charge that went through. `deadline` is when the order must have left its
current state (null once it is settled or waits for an operator), `attempts` counts
failed attempts at the current step and `retry_at` is when the next may start.

Fulfilment (0004, shipments and returns): `Shipment` is what orders knows of each
shipment of an order from shipping's events; `OrderReturn` is a received return and
the state of its refund saga (`return_saga`), leased like an order.

An order's total is `subtotal_amount` (its items) + `shipping_amount` -
`discount_amount`, all in its currency (`discount_rules`). Discount codes are
`Discount` rows; a use of one is a `DiscountRedemption`, written in the transaction
that inserts the order, and given back (`released_at`) when the order fails or is
cancelled. `CartDiscount` is the code a customer put on their cart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime
from mercato.chassis.events import event_tables
from mercato.chassis.web.idempotency import MAX_KEY_LENGTH

__all__ = [
    "EVENTS",
    "Cart",
    "CartDiscount",
    "CartLine",
    "Discount",
    "DiscountRedemption",
    "JsonDocument",
    "Order",
    "OrderHistory",
    "OrderReturn",
    "OrdersBase",
    "Shipment",
]

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class OrdersBase(Base):
    """Declarative base of the orders service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class CartLine(OrdersBase):
    """One product in a customer's cart; prices are never stored, always looked up."""

    __tablename__ = "cart_lines"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Order(OrdersBase):
    """An order and the state of its checkout saga."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_method_id: Mapped[str] = mapped_column(String(64))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    payment_id: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    idempotency_key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    charge_unresolved: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Added by 0005 (shipping and discounts): total = subtotal + shipping - discount.
    subtotal_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_method: Mapped[str | None] = mapped_column(String(40), default=None)
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_code: Mapped[str | None] = mapped_column(String(40), default=None)


class Cart(OrdersBase):
    """The owner row of a customer's cart: a change to its lines locks it first."""

    __tablename__ = "carts"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class OrderHistory(OrdersBase):
    """One state an order entered, when, and why."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(36), ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Shipment(OrdersBase):
    """One shipment of an order as shipping's events told it (`shipments`)."""

    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))  # created, shipped, delivered
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    method: Mapped[str | None] = mapped_column(String(64), default=None)
    carrier: Mapped[str | None] = mapped_column(String(64), default=None)
    tracking_number: Mapped[str | None] = mapped_column(String(128), default=None)
    tracking_url: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Discount(OrdersBase):
    """A discount code (stored upper-case, so codes are unique case-insensitively)."""

    __tablename__ = "discounts"
    __table_args__ = (UniqueConstraint("code", name="uq_discounts_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    min_order: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    max_uses: Mapped[int | None] = mapped_column(Integer, default=None)
    max_uses_per_customer: Mapped[int | None] = mapped_column(Integer, default=None)
    categories: Mapped[list[str]] = mapped_column(JsonDocument)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderReturn(OrdersBase):
    """A received return of some of an order's lines and the state of its refund saga.

    `items` are the returned lines at the prices paid (once checked), `refund_amount`
    what the saga refunds (fixed when checked, so every retry asks the same), and the
    lease, `attempts`, `retry_at` and `deadline` work as an order's do.
    """

    __tablename__ = "order_returns"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    whole_order: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    discount_share: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_refund: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    payment_id: Mapped[str | None] = mapped_column(String(64), default=None)
    refund_id: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    stalled_in: Mapped[str | None] = mapped_column(String(20), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DiscountRedemption(OrdersBase):
    """One use of a discount code by an order; `released_at` once given back."""

    __tablename__ = "discount_redemptions"
    __table_args__ = (UniqueConstraint("order_id", name="uq_redemptions_order"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    discount_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("discounts.id", ondelete="CASCADE")
    )
    order_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class CartDiscount(OrdersBase):
    """The discount code a customer put on their cart (checked again at checkout)."""

    __tablename__ = "cart_discounts"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Own orders newest first; the sweeper's scan of unfinished sagas; an order's history.
Index("ix_orders_user_created", Order.user_id, Order.created_at, Order.id)
Index("ix_orders_status_updated", Order.status, Order.updated_at)
Index("ix_order_history_order", OrderHistory.order_id, OrderHistory.id)
# An order's shipments and returns; the return sweeper's scan of unfinished sagas.
Index("ix_shipments_order", Shipment.order_id)
Index("ix_order_returns_order", OrderReturn.order_id)
Index("ix_order_returns_status_updated", OrderReturn.status, OrderReturn.updated_at)
# The admin's list of discounts; a code's live uses, in all and by one customer.
Index("ix_discounts_created", Discount.created_at, Discount.id)
Index("ix_redemptions_discount_user", DiscountRedemption.discount_id, DiscountRedemption.user_id)

EVENTS = event_tables(OrdersBase.metadata)
