"""Wiring of the shipping service: its spec and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.shipping import return_routes, routes, shipment_routes
from mercato.shipping.carrier import CARRIER
from mercato.shipping.handlers import HANDLERS
from mercato.shipping.models import EVENTS, ShippingBase
from mercato.shipping.settings import ShippingSettings, load_settings

__all__ = ["SPEC", "create_app"]

SPEC: ServiceSpec[ShippingSettings, None] = ServiceSpec(
    name="shipping",
    title="Mercato shipping",
    description="Shipping methods, rates and quotes; shipments of confirmed orders; returns.",
    metadata=ShippingBase.metadata,
    event_tables=EVENTS,
    migrations=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    tasks=(CARRIER,),
)


def create_app(settings: ShippingSettings | None = None) -> FastAPI:
    """Build the shipping service's ASGI app."""
    return chassis_app.create_app(
        SPEC,
        settings or load_settings(),
        [routes.router, shipment_routes.router, return_routes.router],
    )
