"""The auth service's ASGI app: its ServiceSpec and app factory."""

from __future__ import annotations

from fastapi import FastAPI

from mercato.auth.context import AuthContext, AuthRuntime
from mercato.auth.housekeeping import housekeep, key_store, open_context
from mercato.auth.models import EVENTS, MIGRATIONS, AuthBase
from mercato.auth.routes import router, well_known
from mercato.auth.settings import AuthSettings, load_settings
from mercato.chassis.background import BackgroundTask
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web.app import create_app as create_service_app

__all__ = ["SPEC", "create_app"]

HOUSEKEEPING: BackgroundTask[AuthRuntime] = BackgroundTask(
    "auth-housekeeping",
    housekeep,
    interval=lambda runtime: runtime.settings.maintenance_interval_seconds,
    at_start=False,  # the context has just done a first round's work
)

SPEC: ServiceSpec[AuthSettings, AuthContext] = ServiceSpec(
    name="auth",
    title="Mercato auth",
    description="Accounts, passwords, access and refresh tokens, signing keys (JWKS).",
    metadata=AuthBase.metadata,
    event_tables=EVENTS,
    migrations=MIGRATIONS,
    context=open_context,
    tasks=(HOUSEKEEPING,),
    key_source=key_store,
)


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    """Build the auth service's app (settings from the environment by default)."""
    return create_service_app(SPEC, settings or load_settings(), [router, well_known])
