"""Versioned schemas of every domain event's `data`, keyed by (type, version).

Each schema is a class that declares the event it is the data of (`TYPE`, and
`VERSION`, 1 unless it says otherwise): a producer hands the outbox the data itself
(`outbox.add(session, OrderPlaced(...), subject=...)`), so a type can never be
written with another type's fields. `SCHEMAS` is read off the classes of this
module and of `shipping_events`, so there is no second list to keep in step.

Rules for changing a schema: adding an optional field is compatible and keeps the
version; renaming, removing or retyping a field, or adding a required one, needs a
new version: a class of its own beside the old one until every consumer has moved.

`PRODUCERS` names the one service allowed to publish each event type. The broker
credentials grant each service the right to publish only its own types, a consumer
refuses an event whose `source` is not its type's producer, and an outbox refuses to
write another service's type; a new event type is a class here and an entry of
`PRODUCERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mercato.contracts import shipping_events
from mercato.contracts.event_base import EventData, Line, Money, added
from mercato.contracts.shipping_events import ShippingAddressData

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
    "OrderReturned",
    "PaymentFailed",
    "PaymentRefunded",
    "PaymentSucceeded",
    "PriceChanged",
    "ProductChanged",
    "ProductCreated",
    "ProductDeleted",
    "ProductUpdated",
    "ProfileUpdated",
    "StockChanged",
    "TokenRevoked",
    "UserRegistered",
    "UserRolesChanged",
    "producer_of",
    "published_by",
    "validate",
]


class UserRegistered(EventData):
    """`user.registered` v1, from auth: a new account exists."""

    TYPE = "user.registered"

    user_id: str
    email: str
    name: str
    roles: list[str]


class UserRolesChanged(EventData):
    """`user.roles_changed` v1, from auth."""

    TYPE = "user.roles_changed"

    user_id: str
    roles: list[str]


class ProfileUpdated(EventData):
    """`user.profile_updated` v1, from users: these profile fields changed."""

    TYPE = "user.profile_updated"

    user_id: str
    changed: list[str]


class TokenRevoked(EventData):
    """`auth.token_revoked` v1, from auth: refuse this access token until it expires."""

    TYPE = "auth.token_revoked"

    jti: str
    user_id: str
    expires_at: float
    reason: str = "logout"


class ProductChanged(EventData):
    """The data of `product.created` and `product.updated`, from catalog."""

    product_id: str
    sku: str
    title: str
    price: Money
    stock: int
    category: str | None = None


class ProductCreated(ProductChanged):
    """`product.created` v1, from catalog: a new product."""

    TYPE = "product.created"


class ProductUpdated(ProductChanged):
    """`product.updated` v1, from catalog: a product was edited."""

    TYPE = "product.updated"


class ProductDeleted(EventData):
    """`product.deleted` v1, from catalog."""

    TYPE = "product.deleted"

    product_id: str
    sku: str


class StockChanged(EventData):
    """`product.stock_changed` v1, from catalog: on_hand = available + reserved."""

    TYPE = "product.stock_changed"

    product_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int


class PriceChanged(EventData):
    """`product.price_changed` v1, from catalog."""

    TYPE = "product.price_changed"

    product_id: str
    sku: str
    old_price: Money
    new_price: Money


class InventoryReserved(EventData):
    """`inventory.reserved` v1, from catalog: stock held for an order until it expires."""

    TYPE = "inventory.reserved"

    order_id: str
    items: list[Line]
    expires_at: str


class InventoryReleased(EventData):
    """`inventory.released` v1, from catalog: a reservation given back (or expired)."""

    TYPE = "inventory.released"

    order_id: str
    reason: str


class InventoryCommitted(EventData):
    """`inventory.committed` v1, from catalog: reserved stock has left the shelf."""

    TYPE = "inventory.committed"

    order_id: str


class PaymentSucceeded(EventData):
    """`payment.succeeded` v1, from payments."""

    TYPE = "payment.succeeded"

    payment_id: str
    order_id: str
    user_id: str
    amount: Money
    method_id: str


class PaymentFailed(EventData):
    """`payment.failed` v1, from payments."""

    TYPE = "payment.failed"

    payment_id: str
    order_id: str
    user_id: str
    amount: Money
    reason: str


class PaymentRefunded(EventData):
    """`payment.refunded` v1, from payments."""

    TYPE = "payment.refunded"

    payment_id: str
    refund_id: str
    order_id: str
    user_id: str
    amount: Money
    reason: str


class OrderPlaced(EventData):
    """`order.placed` v1, from orders: the checkout saga has started."""

    TYPE = "order.placed"

    order_id: str
    user_id: str
    items: list[Line]
    total: Money
    # Added with shipping and discounts (optional, so v1 still): total = items + shipping
    # - discount, each priced once by orders.
    shipping: Money | None = added()
    shipping_method: str | None = added()
    discount: Money | None = added()
    discount_code: str | None = added()


class OrderConfirmed(EventData):
    """`order.confirmed` v1, from orders: paid and stock committed."""

    TYPE = "order.confirmed"

    order_id: str
    user_id: str
    total: Money
    payment_id: str
    # Added for fulfilment (optional, so v1 still): what shipping needs to make the
    # shipment without calling orders.
    items: list[Line] | None = added()
    shipping_address: ShippingAddressData | None = added()
    shipping_method: str | None = added()


class OrderCancelled(EventData):
    """`order.cancelled` v1, from orders: stock released, payment refunded if any."""

    TYPE = "order.cancelled"

    order_id: str
    user_id: str
    reason: str


class OrderFailed(EventData):
    """`order.failed` v1, from orders: ended `payment_failed`, `out_of_stock` or `rejected`."""

    TYPE = "order.failed"

    order_id: str
    user_id: str
    status: str
    reason: str


class OrderReturned(EventData):
    """`order.returned` v1, from orders: a received return's lines restocked and refunded.

    `refund` is what was paid back for `items` (their share of any discount taken off,
    the shipping added when the whole order came back).
    """

    TYPE = "order.returned"

    order_id: str
    user_id: str
    return_id: str
    items: list[Line]
    refund: Money
    payment_id: str | None = None
    whole_order: bool = False


def _schemas(namespace: Mapping[str, object]) -> dict[tuple[str, int], type[EventData]]:
    """The event classes among `namespace`'s values by (type, version); one per pair."""
    schemas: dict[tuple[str, int], type[EventData]] = {}
    for value in namespace.values():
        if isinstance(value, type) and issubclass(value, EventData) and hasattr(value, "TYPE"):
            key = (value.TYPE, value.VERSION)
            if key in schemas:
                raise TypeError(f"{value.__name__} and {schemas[key].__name__} both claim {key}")
            schemas[key] = value
    return schemas


SCHEMAS: Mapping[tuple[str, int], type[EventData]] = _schemas(globals()) | _schemas(
    vars(shipping_events)
)


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
    "order.returned": "orders",
    "shipment.created": "shipping",
    "shipment.shipped": "shipping",
    "shipment.delivered": "shipping",
    "return.requested": "shipping",
    "return.accepted": "shipping",
    "return.rejected": "shipping",
    "return.received": "shipping",
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
