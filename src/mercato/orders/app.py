"""Wiring of the orders service: its spec and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis import app as chassis_app
from mercato.chassis.runtime import ServiceSpec
from mercato.orders import lifecycle
from mercato.orders.metrics import SagaMetrics
from mercato.orders.models import EVENTS, OrdersBase
from mercato.orders.routes import router
from mercato.orders.settings import OrdersSettings, load_settings

__all__ = ["SPEC", "create_app"]

SPEC = ServiceSpec(
    name="orders",
    title="Mercato orders",
    description="Carts, orders and the checkout saga.",
    metadata=OrdersBase.metadata,
    event_tables=EVENTS,
    migrations=Path(__file__).parent / "migrations",
    on_startup=[lifecycle.start],
    on_shutdown=[lifecycle.stop],
)


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    """Build the orders service's ASGI app, its saga's metrics beside the HTTP ones."""
    app = chassis_app.create_app(SPEC, settings or load_settings(), [router])
    metrics = SagaMetrics(app.state.metrics.registry)
    app.state.runtime.state[lifecycle.METRICS_KEY] = metrics
    return app
