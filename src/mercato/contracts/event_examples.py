"""One example of every event, by (type, version): what the event documents show.

Each example is the data class itself, so it is checked against its schema as it
is built, with the `subject` its producer gives such an event (the aggregate's id).
The AsyncAPI document (`mercato.chassis.events.asyncapi`) shows them as its
messages' examples, and its tests check that every schema has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from mercato.contracts.events import (
    EventData,
    InventoryCommitted,
    InventoryReleased,
    InventoryReserved,
    Line,
    Money,
    OrderCancelled,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    OrderReturned,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    PriceChanged,
    ProductCreated,
    ProductDeleted,
    ProductUpdated,
    ProfileUpdated,
    StockChanged,
    TokenRevoked,
    UserRegistered,
    UserRolesChanged,
)
from mercato.contracts.shipping_events import (
    ReturnAccepted,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentShipped,
    ShippingAddressData,
)

__all__ = ["EXAMPLES", "Example"]

USER = "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51"
PRODUCT = "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f"
ORDER = "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d"
PAYMENT = "c7a1e3b5-9d2f-4a6c-8e0b-1f3d5a7c9e2b"
PRICE = Money(amount=4500, currency="USD")
LINES = [Line(product_id=PRODUCT, quantity=2, unit_price=PRICE)]
TOTAL = Money(amount=9000, currency="USD")
SHIPMENT = "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5f7a"
RETURN = "9e7c5a3b-1f2d-4b6a-8c0e-4a6c8e0b2d4f"
ADDRESS = ShippingAddressData(
    name="Ada Lovelace", line1="12 St James's Square", city="London", country="GB"
)
TRACKING = "1Z999AA10123456784"


class Example(NamedTuple):
    """An event's data and the subject its producer gives it."""

    subject: str
    data: EventData


def _examples(*examples: Example) -> dict[tuple[str, int], Example]:
    return {(type(e.data).TYPE, type(e.data).VERSION): e for e in examples}


EXAMPLES: Mapping[tuple[str, int], Example] = _examples(
    Example(
        USER,
        UserRegistered(
            user_id=USER, email="ada@example.com", name="Ada Lovelace", roles=["customer"]
        ),
    ),
    Example(USER, UserRolesChanged(user_id=USER, roles=["customer", "admin"])),
    Example(USER, ProfileUpdated(user_id=USER, changed=["name", "addresses"])),
    Example(
        USER,
        TokenRevoked(jti="b3f0c2d4e6a8", user_id=USER, expires_at=1767225600.0, reason="logout"),
    ),
    Example(
        PRODUCT,
        ProductCreated(
            product_id=PRODUCT,
            sku="TEA-001",
            title="Green tea, 100 g",
            price=PRICE,
            stock=25,
            category="groceries",
        ),
    ),
    Example(
        PRODUCT,
        ProductUpdated(
            product_id=PRODUCT,
            sku="TEA-001",
            title="Green tea, 250 g",
            price=PRICE,
            stock=25,
            category="groceries",
        ),
    ),
    Example(PRODUCT, ProductDeleted(product_id=PRODUCT, sku="TEA-001")),
    Example(
        PRODUCT,
        StockChanged(product_id=PRODUCT, sku="TEA-001", on_hand=25, reserved=2, available=23),
    ),
    Example(
        PRODUCT,
        PriceChanged(
            product_id=PRODUCT,
            sku="TEA-001",
            old_price=PRICE,
            new_price=Money(amount=3900, currency="USD"),
        ),
    ),
    Example(
        ORDER,
        InventoryReserved(order_id=ORDER, items=LINES, expires_at="2026-01-01T12:15:00Z"),
    ),
    Example(ORDER, InventoryReleased(order_id=ORDER, reason="payment_failed")),
    Example(ORDER, InventoryCommitted(order_id=ORDER)),
    Example(
        PAYMENT,
        PaymentSucceeded(
            payment_id=PAYMENT,
            order_id=ORDER,
            user_id=USER,
            amount=TOTAL,
            method_id="pm_4242",
        ),
    ),
    Example(
        PAYMENT,
        PaymentFailed(
            payment_id=PAYMENT, order_id=ORDER, user_id=USER, amount=TOTAL, reason="declined"
        ),
    ),
    Example(
        PAYMENT,
        PaymentRefunded(
            payment_id=PAYMENT,
            refund_id="r1a2b3c4",
            order_id=ORDER,
            user_id=USER,
            amount=TOTAL,
            reason="cancelled",
        ),
    ),
    Example(ORDER, OrderPlaced(order_id=ORDER, user_id=USER, items=LINES, total=TOTAL)),
    Example(
        ORDER,
        OrderConfirmed(
            order_id=ORDER,
            user_id=USER,
            total=TOTAL,
            payment_id=PAYMENT,
            items=LINES,
            shipping_address=ADDRESS,
            shipping_method="standard",
        ),
    ),
    Example(ORDER, OrderCancelled(order_id=ORDER, user_id=USER, reason="customer_request")),
    Example(
        ORDER,
        OrderFailed(order_id=ORDER, user_id=USER, status="payment_failed", reason="declined"),
    ),
    Example(
        ORDER,
        OrderReturned(
            order_id=ORDER,
            user_id=USER,
            return_id=RETURN,
            items=LINES,
            refund=TOTAL,
            payment_id=PAYMENT,
            whole_order=False,
        ),
    ),
    Example(
        SHIPMENT,
        ShipmentCreated(
            shipment_id=SHIPMENT, order_id=ORDER, user_id=USER, items=LINES, method="standard"
        ),
    ),
    Example(
        SHIPMENT,
        ShipmentShipped(
            shipment_id=SHIPMENT,
            order_id=ORDER,
            user_id=USER,
            items=LINES,
            carrier="Mercato Post",
            tracking_number=TRACKING,
        ),
    ),
    Example(
        SHIPMENT,
        ShipmentDelivered(
            shipment_id=SHIPMENT,
            order_id=ORDER,
            user_id=USER,
            items=LINES,
            delivered_at="2026-01-03T10:30:00Z",
        ),
    ),
    Example(
        RETURN,
        ReturnRequested(
            return_id=RETURN, order_id=ORDER, user_id=USER, items=LINES, reason="too small"
        ),
    ),
    Example(RETURN, ReturnAccepted(return_id=RETURN, order_id=ORDER, user_id=USER, items=LINES)),
    Example(
        RETURN,
        ReturnRejected(
            return_id=RETURN, order_id=ORDER, user_id=USER, reason="past the return window"
        ),
    ),
    Example(
        RETURN,
        ReturnReceived(
            return_id=RETURN, order_id=ORDER, user_id=USER, items=LINES, whole_order=False
        ),
    ),
)
