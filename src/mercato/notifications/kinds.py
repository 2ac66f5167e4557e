"""The kinds of mail the service sends, and the event type each one answers.

`account_created` is always on: it is sent the moment an account exists, before its
owner could have turned anything off, and it is how they learn which address the
shop writes to. Every other kind is on by default and may be turned off.
"""

from __future__ import annotations

from enum import StrEnum

from mercato.contracts.events import (
    OrderConfirmed,
    PaymentFailed,
    PaymentRefunded,
    UserRegistered,
)
from mercato.contracts.shipping_events import ShipmentDelivered, ShipmentShipped

__all__ = ["ALWAYS_ON", "EVENT_KINDS", "Kind"]


class Kind(StrEnum):
    """A kind of mail; its value names its templates (`templates/<kind>.txt`, `.html`)."""

    ACCOUNT_CREATED = "account_created"
    ORDER_CONFIRMED = "order_confirmed"
    PAYMENT_FAILED = "payment_failed"
    SHIPMENT_SHIPPED = "shipment_shipped"
    SHIPMENT_DELIVERED = "shipment_delivered"
    REFUND_ISSUED = "refund_issued"


ALWAYS_ON = frozenset({Kind.ACCOUNT_CREATED})

# The event type each kind answers (one event, one mail).
EVENT_KINDS: dict[str, Kind] = {
    UserRegistered.TYPE: Kind.ACCOUNT_CREATED,
    OrderConfirmed.TYPE: Kind.ORDER_CONFIRMED,
    PaymentFailed.TYPE: Kind.PAYMENT_FAILED,
    ShipmentShipped.TYPE: Kind.SHIPMENT_SHIPPED,
    ShipmentDelivered.TYPE: Kind.SHIPMENT_DELIVERED,
    PaymentRefunded.TYPE: Kind.REFUND_ISSUED,
}
