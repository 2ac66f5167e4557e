"""Shipping's events handed to the orders service, as its consumer takes them.

`Deliveries` runs the orders app's own handlers (its spec's) through the chassis's
`IdempotentConsumer` on the app's database, so each event is checked against its
contract, recorded in the inbox and handled in one transaction, exactly as from the
broker: a redelivery of the same event has no second effect. The events are built
as shipping publishes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mercato.chassis.events import Event, IdempotentConsumer
from tests.support.orders import Shop


@dataclass(frozen=True)
class Bought:
    """A confirmed order: its customer, its body, and each product's id by name."""

    user: dict[str, str]
    order: dict[str, Any]
    products: dict[str, str]


class Deliveries:
    """Hands events to the orders app's handlers through an idempotent consumer."""

    def __init__(self, shop: Shop) -> None:
        runtime = shop.orders_app.state.runtime
        self.consumer = IdempotentConsumer(
            runtime.database, runtime.spec.event_tables, "orders", runtime.spec.handlers
        )

    async def deliver(self, event: Event) -> None:
        """One delivery of `event` (again for a redelivery)."""
        await self.consumer.handle(event)


def lines(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    """Event lines of (product id, quantity)."""
    return [{"product_id": product_id, "quantity": quantity} for product_id, quantity in pairs]


def shipment_event(
    kind: str, order: dict[str, Any], shipment_id: str, items: Sequence[dict[str, Any]]
) -> Event:
    """`shipment.<kind>` (created, shipped, delivered) of an order, as shipping sends it."""
    data: dict[str, Any] = {
        "shipment_id": shipment_id,
        "order_id": order["id"],
        "user_id": order["user_id"],
        "items": list(items),
    }
    if kind == "created":
        data["method"] = "standard"
    elif kind == "shipped":
        data |= {"carrier": "DHL", "tracking_number": "JD0142", "tracking_url": None}
    else:
        data["delivered_at"] = "2026-12-06T12:00:00Z"
    return Event.new(f"shipment.{kind}", subject=shipment_id, data=data, source="shipping")


def return_received(
    order: dict[str, Any],
    items: Sequence[dict[str, Any]],
    *,
    whole_order: bool = False,
    return_id: str | None = None,
    user_id: str | None = None,
) -> Event:
    """`return.received` of some of an order's lines, as shipping sends it."""
    return_id = return_id or str(uuid.uuid4())
    data = {
        "return_id": return_id,
        "order_id": order["id"],
        "user_id": user_id or order["user_id"],
        "items": list(items),
        "whole_order": whole_order,
    }
    return Event.new("return.received", subject=return_id, data=data, source="shipping")


async def buy(shop: Shop, **quantities: int) -> Bought:
    """A new customer's confirmed order of `quantities` of new products (10 in stock each,
    priced 1000, 2000, ... minor units in the order named)."""
    user_id = str(uuid.uuid4())
    user = shop.tokens.headers(user_id, ["customer"])
    products: dict[str, str] = {}
    for rank, (name, quantity) in enumerate(quantities.items(), start=1):
        products[name] = await shop.product(stock=10, amount=1000 * rank, title=name)
        await shop.fill_cart(user, products[name], quantity)
    response = await shop.checkout(user, await shop.card(user))
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "confirmed", order
    return Bought(user, {**order, "user_id": user_id}, products)
