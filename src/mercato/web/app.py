"""Wiring of the web service (the storefront): its spec and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.web.assets import static_assets
from mercato.web.checkouts import CHECKOUT_SWEEPER
from mercato.web.context import WebContext, open_context
from mercato.web.edge import WebEdge
from mercato.web.error_pages import install_error_pages
from mercato.web.housekeeping import SESSION_SWEEPER
from mercato.web.models import WebBase
from mercato.web.pages import routers
from mercato.web.rendering import Templates
from mercato.web.settings import WebSettings, load_settings

__all__ = ["SPEC", "create_app"]

SPEC: ServiceSpec[WebSettings, WebContext] = ServiceSpec(
    name="web",
    title="Mercato storefront",
    description="The shop's web pages: a backend-for-frontend over the public API.",
    metadata=WebBase.metadata,
    migrations=Path(__file__).parent / "migrations",
    context=open_context,
    tasks=(SESSION_SWEEPER, CHECKOUT_SWEEPER),
    uses_bus=False,
    documented=False,  # it serves pages, not an API
)


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """Build the storefront's ASGI app."""
    settings = settings or load_settings()
    assets = static_assets()
    templates = Templates(assets, shop_name=settings.shop_name)
    app = chassis_app.create_app(
        SPEC, settings, routers(), edge=lambda _: WebEdge(assets, templates)
    )
    install_error_pages(app)
    return app
