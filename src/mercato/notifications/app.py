"""Wiring of the notifications service: its spec and the app factory.

The handlers need the courier (templates, SMTP server, the users directory) the
settings describe, so `create_app` binds them and the spec's context is that same
courier, for the routes' template previews; the context gives the directory the
runtime's service client once the service starts. `SPEC.handlers` names the consumed
types for the topology's check; its courier is built from the defaults and is never
the one a process runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.notifications.handlers import handlers
from mercato.notifications.models import EVENTS, NotificationsBase
from mercato.notifications.routes import router
from mercato.notifications.service import Courier
from mercato.notifications.settings import NotificationsSettings, load_settings

__all__ = ["SPEC", "create_app"]

NotificationsRuntime = Runtime[NotificationsSettings, Courier]


def _context(
    courier: Courier,
) -> Callable[[NotificationsRuntime], AbstractAsyncContextManager[Courier]]:
    @asynccontextmanager
    async def open_context(runtime: NotificationsRuntime) -> AsyncIterator[Courier]:
        courier.directory.attach(runtime.http)  # its service tokens, TLS and metrics
        try:
            yield courier
        finally:
            await courier.close()

    return open_context


def _spec(courier: Courier) -> ServiceSpec[NotificationsSettings, Courier]:
    return ServiceSpec(
        name="notifications",
        title="Mercato notifications",
        description="The mails customers get, their choices, and what was sent.",
        metadata=NotificationsBase.metadata,
        event_tables=EVENTS,
        migrations=Path(__file__).parent / "migrations",
        handlers=handlers(courier),
        context=_context(courier),
    )


SPEC = _spec(Courier.from_settings(NotificationsSettings(service="notifications")))


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    """Build the notifications service's ASGI app."""
    settings = settings or load_settings()
    return chassis_app.create_app(_spec(Courier.from_settings(settings)), settings, [router])
