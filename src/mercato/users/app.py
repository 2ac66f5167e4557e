"""Wiring of the users service: its spec and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.users.handlers import on_user_registered
from mercato.users.models import EVENTS, UsersBase
from mercato.users.routes import router
from mercato.users.settings import UsersSettings, load_settings

__all__ = ["SPEC", "create_app"]

SPEC: ServiceSpec[UsersSettings, None] = ServiceSpec(
    name="users",
    title="Mercato users",
    description="Customer profiles, addresses and preferences.",
    metadata=UsersBase.metadata,
    event_tables=EVENTS,
    migrations=Path(__file__).parent / "migrations",
    handlers={"user.registered": on_user_registered},
)


def create_app(settings: UsersSettings | None = None) -> FastAPI:
    """Build the users service's ASGI app."""
    return chassis_app.create_app(SPEC, settings or load_settings(), [router])
