"""Wiring of the orders service: its spec (context, saga sweeper) and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.background import BackgroundTask
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.orders.context import OrdersContext, OrdersRuntime, open_context, sweep
from mercato.orders.discount_routes import router as discount_router
from mercato.orders.models import EVENTS, OrdersBase
from mercato.orders.routes import router
from mercato.orders.settings import OrdersSettings, load_settings

__all__ = ["SPEC", "SWEEPER", "create_app"]

# Takes the orders whose saga stopped (a crash, a dependency that was down) and whose
# retry is due, and drives them on; its first pass runs at start.
SWEEPER: BackgroundTask[OrdersRuntime] = BackgroundTask(
    "saga-sweeper", sweep, interval=lambda runtime: runtime.settings.sweep_interval_seconds
)

SPEC: ServiceSpec[OrdersSettings, OrdersContext] = ServiceSpec(
    name="orders",
    title="Mercato orders",
    description="Carts, orders and the checkout saga.",
    metadata=OrdersBase.metadata,
    event_tables=EVENTS,
    migrations=Path(__file__).parent / "migrations",
    context=open_context,
    tasks=(SWEEPER,),
)


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    """Build the orders service's ASGI app (its saga's metrics beside the HTTP ones)."""
    # The discounts' routes first: `/api/orders/discounts` is no order id.
    return chassis_app.create_app(SPEC, settings or load_settings(), [discount_router, router])
