"""Wiring of the catalog service: its spec and its app factory."""

from __future__ import annotations

from fastapi import FastAPI

from mercato.catalog.context import CatalogContext, open_context
from mercato.catalog.handlers import HANDLERS
from mercato.catalog.images.routes import UPLOAD_ROUTES
from mercato.catalog.images.routes import router as image_router
from mercato.catalog.import_routes import router as import_router
from mercato.catalog.inventory.sweeper import SWEEPER
from mercato.catalog.loading import load_demo_data
from mercato.catalog.models import EVENTS, MIGRATIONS, CatalogBase
from mercato.catalog.return_routes import router as return_router
from mercato.catalog.routes import router
from mercato.catalog.settings import CatalogSettings, load_settings
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web.app import create_app as create_service_app

__all__ = ["SPEC", "create_app"]

SPEC: ServiceSpec[CatalogSettings, CatalogContext] = ServiceSpec(
    name="catalog",
    title="Mercato catalog",
    description=(
        "Products and categories: search, filters, cursor paging, admin edits; "
        "product images; stock reservations for checkout."
    ),
    metadata=CatalogBase.metadata,
    event_tables=EVENTS,
    migrations=MIGRATIONS,
    handlers=HANDLERS,
    context=open_context,
    on_start=(load_demo_data,),
    tasks=(SWEEPER,),
    upload_routes=UPLOAD_ROUTES,
)


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    """The catalog's ASGI app (settings from the environment by default)."""
    return create_service_app(
        SPEC, settings or load_settings(), [router, image_router, import_router, return_router]
    )
