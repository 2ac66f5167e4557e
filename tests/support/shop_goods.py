"""An order's goods in the shop pages' tests: its events carried between the services.

There is no broker in these tests, so `ShopGoods` carries the real events by hand,
each through the receiving service's own handlers: orders' `order.confirmed` (read
from orders' outbox, as its relay would publish it) to shipping, which makes the
shipment; the administrator moves it on through shipping's API (pack, ship, deliver);
shipping's `shipment.*` events (read from its outbox) to orders' idempotent consumer,
so the order's answer gains its shipments and fulfilment.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mercato.chassis.events import Event, IdempotentConsumer
from mercato.chassis.runtime import Runtime
from mercato.orders.models import EVENTS as ORDERS_EVENTS
from mercato.shipping.handlers import HANDLERS as SHIPPING_HANDLERS
from mercato.shipping.models import EVENTS as SHIPPING_EVENTS
from tests.support.shop_pages import ShopPages

__all__ = ["TRACKING_URL", "ShopGoods"]

TRACKING_URL = "https://track.example.com/JD014600"


async def _outbox(runtime: Runtime[Any, Any], table: Any, prefix: str) -> list[Event]:
    query = (
        select(table.c.payload).where(table.c.type.startswith(prefix)).order_by(table.c.created_at)
    )
    async with runtime.database.session() as session:
        return [Event.from_bytes(p) for (p,) in await session.execute(query)]


class ShopGoods:
    """Carries an order's events between orders and shipping in a shop's tests."""

    def __init__(self, shop: ShopPages) -> None:
        assert shop.orders is not None and shop.shipping is not None
        self.shop = shop
        self.orders: Runtime[Any, Any] = shop.orders.app.state.runtime
        self.shipping: Runtime[Any, Any] = shop.shipping.app.state.runtime
        self.to_orders = IdempotentConsumer(
            self.orders.database, self.orders.spec.event_tables, "orders", self.orders.spec.handlers
        )

    async def confirmed(self, order_id: str) -> Event:
        """Orders' `order.confirmed` of the order."""
        events = await _outbox(self.orders, ORDERS_EVENTS.outbox, "order.confirmed")
        [event] = [e for e in events if e.data["order_id"] == order_id]
        return event

    async def ship(self, order_id: str) -> str:
        """Hand the order's confirmation to shipping; the shipment's id."""
        event = await self.confirmed(order_id)
        async with self.shipping.database.transaction() as session:
            await SHIPPING_HANDLERS[event.type](session, event)
        listed = await self.shop.api(
            self.shop.shipping, "GET", "/api/shipping/shipments", params={"order_id": order_id}
        )
        [shipment] = listed["items"]
        return str(shipment["id"])

    async def move(self, shipment_id: str, *moves: str, tracking_url: str = TRACKING_URL) -> None:
        """Move a shipment on as the administrator (`pack`, `ship`, `deliver`)."""
        ship = {"carrier": "DHL", "tracking_number": "JD014600", "tracking_url": tracking_url}
        for move in moves:
            await self.shop.api(
                self.shop.shipping,
                "POST",
                f"/api/shipping/shipments/{shipment_id}/{move}",
                json=ship if move == "ship" else None,
            )

    async def relay(self) -> None:
        """Every shipment event shipping has published, to orders (again: no effect)."""
        for event in await _outbox(self.shipping, SHIPPING_EVENTS.outbox, "shipment."):
            await self.to_orders.handle(event)

    async def delivered(self, order_id: str, *, tracking_url: str = TRACKING_URL) -> str:
        """The order shipped and delivered, and orders told; the shipment's id."""
        shipment = await self.ship(order_id)
        await self.move(shipment, "pack", "ship", "deliver", tracking_url=tracking_url)
        await self.relay()
        return shipment
