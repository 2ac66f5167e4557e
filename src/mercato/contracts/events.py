"""Versioned schemas of every domain event's `data`, keyed by (type, version).

Rules for changing a schema: adding an optional field is compatible and keeps the
version; renaming, removing or retyping a field, or adding a required one, needs a
new version registered beside the old one until every consumer has moved.

`PRODUCERS` names the one service allowed to publish each event type. The broker
credentials grant each service the right to publish only its own types, a consumer
refuses an event whose `source` is not its type's producer, and an outbox refuses to
write another service's type; a new event type is added here and to `SCHEMAS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "PRODUCERS",
    "SCHEMAS",
    "EventData",
    "InventoryCommitted",
    "InventoryReleased",
    "InventoryReserved",
    "Line",
    "Money",
    "OrderCancelled",
    "OrderConfirmed",
    "OrderFailed",
    "OrderPlaced",
    "PaymentFailed",
    "PaymentRefunded",
    "PaymentSucceeded",
    "PriceChanged",
    "ProductChanged",
    "ProductDeleted",
    "ProfileUpdated",
    "StockChanged",
    "TokenRevoked",
    "UserRegistered",
    "UserRolesChanged",
    "producer_of",
    "published_by",
    "validate",
]


class EventData(BaseModel):
    """Base of event payloads: unknown fields are allowed (producers may add)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class UserRegistered(EventData):
    """`user.registered` v1, from auth: a new account exists."""

    user_id: str
    email: str
    name: str
    roles: list[str]


class UserRolesChanged(EventData):
    """`user.roles_changed` v1, from auth."""

    user_id: str
    roles: list[str]


class ProfileUpdated(EventData):
    """`user.profile_updated` v1, from users: these profile fields changed."""

    user_id: str
    changed: list[str]


class TokenRevoked(EventData):
    """`auth.token_revoked` v1, from auth: refuse this access token until it expires."""

    jti: str
    user_id: str
    expires_at: float
    reason: str = "logout"


class Money(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str


class ProductChanged(EventData):
    """`product.created` / `product.updated` v1, from catalog."""

    product_id: str
    sku: str
    title: str
    price: Money
    stock: int
    category: str | None = None


class ProductDeleted(EventData):
    """`product.deleted` v1, from catalog."""

    product_id: str
    sku: str


class StockChanged(EventData):
    """`product.stock_changed` v1, from catalog: on_hand = available + reserved."""

    product_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int


class PriceChanged(EventData):
    """`product.price_changed` v1, from catalog."""

    product_id: str
    sku: str
    old_price: Money
    new_price: Money


class Line(BaseModel):
    """One product line of a reservation or an order."""

    model_config = ConfigDict(frozen=True, extra="allow")

    product_id: str
    quantity: int
    unit_price: Money | None = None


class InventoryReserved(EventData):
    """`inventory.reserved` v1, from catalog: stock held for an order until it expires."""

    order_id: str
    items: list[Line]
    expires_at: str


class InventoryReleased(EventData):
    """`inventory.released` v1, from catalog: a reservation given back (or expired)."""

    order_id: str
    reason: str


class InventoryCommitted(EventData):
    """`inventory.committed` v1, from catalog: reserved stock has left the shelf."""

    order_id: str


class PaymentSucceeded(EventData):
    """`payment.succeeded` v1, from payments."""

    payment_id: str
    order_id: str
    user_id: str
    amount: Money
    method_id: str


class PaymentFailed(EventData):
    """`payment.failed` v1, from payments."""

    payment_id: str
    order_id: str
    user_id: str
    amount: Money
    reason: str


class PaymentRefunded(EventData):
    """`payment.refunded` v1, from payments."""

    payment_id: str
    refund_id: str
    order_id: str
    user_id: str
    amount: Money
    reason: str


class OrderPlaced(EventData):
    """`order.placed` v1, from orders: the checkout saga has started."""

    order_id: str
    user_id: str
    items: list[Line]
    total: Money


class OrderConfirmed(EventData):
    """`order.confirmed` v1, from orders: paid and stock committed."""

    order_id: str
    user_id: str
    total: Money
    payment_id: str


class OrderCancelled(EventData):
    """`order.cancelled` v1, from orders: stock released, payment refunded if any."""

    order_id: str
    user_id: str
    reason: str


class OrderFailed(EventData):
    """`order.failed` v1, from orders: ended `payment_failed`, `out_of_stock` or `rejected`."""

    order_id: str
    user_id: str
    status: str
    reason: str


SCHEMAS: dict[tuple[str, int], type[EventData]] = {
    ("user.registered", 1): UserRegistered,
    ("user.roles_changed", 1): UserRolesChanged,
    ("user.profile_updated", 1): ProfileUpdated,
    ("auth.token_revoked", 1): TokenRevoked,
    ("product.created", 1): ProductChanged,
    ("product.updated", 1): ProductChanged,
    ("product.deleted", 1): ProductDeleted,
    ("product.stock_changed", 1): StockChanged,
    ("product.price_changed", 1): PriceChanged,
    ("inventory.reserved", 1): InventoryReserved,
    ("inventory.released", 1): InventoryReleased,
    ("inventory.committed", 1): InventoryCommitted,
    ("payment.succeeded", 1): PaymentSucceeded,
    ("payment.failed", 1): PaymentFailed,
    ("payment.refunded", 1): PaymentRefunded,
    ("order.placed", 1): OrderPlaced,
    ("order.confirmed", 1): OrderConfirmed,
    ("order.cancelled", 1): OrderCancelled,
    ("order.failed", 1): OrderFailed,
}


PRODUCERS: Mapping[str, str] = {
    "user.registered": "auth",
    "user.roles_changed": "auth",
    "auth.token_revoked": "auth",
    "user.profile_updated": "users",
    "product.created": "catalog",
    "product.updated": "catalog",
    "product.deleted": "catalog",
    "product.stock_changed": "catalog",
    "product.price_changed": "catalog",
    "inventory.reserved": "catalog",
    "inventory.released": "catalog",
    "inventory.committed": "catalog",
    "payment.succeeded": "payments",
    "payment.failed": "payments",
    "payment.refunded": "payments",
    "order.placed": "orders",
    "order.confirmed": "orders",
    "order.cancelled": "orders",
    "order.failed": "orders",
}


def producer_of(event_type: str) -> str | None:
    """The service allowed to publish `event_type`; None for a type no service owns."""
    return PRODUCERS.get(event_type)


def published_by(service: str) -> list[str]:
    """The event types `service` publishes, sorted."""
    return sorted(t for t, producer in PRODUCERS.items() if producer == service)


def validate(event_type: str, version: int, data: dict[str, Any]) -> EventData | None:
    """Validate `data` against its schema; None when no schema is registered."""
    schema = SCHEMAS.get((event_type, version))
    return None if schema is None else schema.model_validate(data)
