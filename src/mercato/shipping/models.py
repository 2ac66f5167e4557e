"""The shipping service's tables: methods, rates, shipments, returns, outbox and inbox.

A shipment's and a return's lines live in a JSON column: they are few, always read
with their row and never queried on their own. Zones are JSON lists of countries
for the same reason (a handful of rates, read all at once for a quote). `version`
is the optimistic-concurrency counter of what admins and the simulated carrier move:
a move whose row changed since it was read fails (409) instead of undoing the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime
from mercato.chassis.events import event_tables

__all__ = [
    "EVENTS",
    "CancelledOrder",
    "JsonDocument",
    "Method",
    "Rate",
    "Return",
    "Shipment",
    "ShippingBase",
]

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class ShippingBase(Base):
    """Declarative base of the shipping service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class Method(ShippingBase):
    """A way to ship (`standard`, `express`): what checkout chooses by its code."""

    __tablename__ = "methods"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    min_days: Mapped[int] = mapped_column(Integer)
    max_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Rate(ShippingBase):
    """The price of a method for parcels up to a weight, to a zone, in a currency.

    `countries` is a list of ISO 3166-1 alpha-2 codes, or `["*"]`: the rest of the world.
    """

    __tablename__ = "rates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    method: Mapped[str] = mapped_column(String(40), index=True)
    countries: Mapped[list[str]] = mapped_column(JsonDocument)
    currency: Mapped[str] = mapped_column(String(3))
    max_weight_grams: Mapped[int] = mapped_column(Integer)
    price: Mapped[int] = mapped_column(BigInteger)
    free_over: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Shipment(ShippingBase):
    """A parcel of an order's lines, from `pending` to `delivered` (or `cancelled`)."""

    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(40))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    address: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, default=None)
    split_from: Mapped[str | None] = mapped_column(String(32), default=None)
    carrier: Mapped[str | None] = mapped_column(String(100), default=None)
    tracking_number: Mapped[str | None] = mapped_column(String(100), default=None)
    tracking_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Return(ShippingBase):
    """A customer's request to send delivered lines back, and where it stands."""

    __tablename__ = "returns"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    reason: Mapped[str] = mapped_column(String(1000))
    rejection_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CancelledOrder(ShippingBase):
    """An order whose `order.cancelled` was handled: a late `order.confirmed` (a
    redelivery after the cancellation) makes no shipment of it."""

    __tablename__ = "cancelled_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cancelled_at: Mapped[datetime] = mapped_column(UtcDateTime)


# An order's shipments and returns; a customer's, newest first; the carrier's sweep.
Index("ix_shipments_order_id", Shipment.order_id)
Index("ix_shipments_user_created", Shipment.user_id, Shipment.created_at, Shipment.id)
Index("ix_shipments_created_at_id", Shipment.created_at, Shipment.id)
Index("ix_shipments_status_updated", Shipment.status, Shipment.updated_at)
Index("ix_shipments_status_created", Shipment.status, Shipment.created_at, Shipment.id)
Index("ix_returns_order_id", Return.order_id)
Index("ix_returns_user_created", Return.user_id, Return.created_at, Return.id)
Index("ix_returns_created_at_id", Return.created_at, Return.id)
Index("ix_returns_status_created", Return.status, Return.created_at, Return.id)

EVENTS = event_tables(ShippingBase.metadata)
