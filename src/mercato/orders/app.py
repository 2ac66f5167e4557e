"""Wiring of the orders service: its spec (context, saga sweeper) and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.background import BackgroundTask
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.orders.context import (
    OrdersContext,
    OrdersRuntime,
    open_context,
    sweep,
    sweep_returns,
)
from mercato.orders.discount_routes import router as discount_router
from mercato.orders.handlers import HANDLERS
from mercato.orders.models import EVENTS, OrdersBase
from mercato.orders.return_routes import router as return_router
from mercato.orders.routes import router
from mercato.orders.settings import OrdersSettings, load_settings

__all__ = ["RETURN_SWEEPER", "SPEC", "SWEEPER", "create_app"]

# Takes the orders whose saga stopped (a crash, a dependency that was down) and whose
# retry is due, and drives them on; its first pass runs at start.
SWEEPER: BackgroundTask[OrdersRuntime] = BackgroundTask(
    "saga-sweeper", sweep, interval=lambda runtime: runtime.settings.sweep_interval_seconds
)
# Takes the returns whose refund saga is due (a new one, or a retry after its backoff).
RETURN_SWEEPER: BackgroundTask[OrdersRuntime] = BackgroundTask(
    "return-sweeper",
    sweep_returns,
    interval=lambda runtime: runtime.settings.sweep_interval_seconds,
)

SPEC: ServiceSpec[OrdersSettings, OrdersContext] = ServiceSpec(
    name="orders",
    title="Mercato orders",
    description="Carts, orders, the checkout saga, shipments and returns' refunds.",
    metadata=OrdersBase.metadata,
    event_tables=EVENTS,
    migrations=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    context=open_context,
    tasks=(SWEEPER, RETURN_SWEEPER),
)


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    """Build the orders service's ASGI app (its saga's metrics beside the HTTP ones)."""
    # The discounts' and returns' routes first: `/api/orders/discounts` is no order id.
    routers = [discount_router, return_router, router]
    return chassis_app.create_app(SPEC, settings or load_settings(), routers)
