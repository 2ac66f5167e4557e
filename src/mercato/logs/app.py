"""Wiring of the logs service: its spec and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.events import ALL_EVENTS
from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.logs.handlers import on_any_event
from mercato.logs.models import EVENTS, LogsBase
from mercato.logs.retention import RETENTION
from mercato.logs.routes import router
from mercato.logs.settings import LogsSettings, load_settings

__all__ = ["SPEC", "create_app"]

SPEC: ServiceSpec[LogsSettings, None] = ServiceSpec(
    name="logs",
    title="Mercato logs",
    description="The audit log: every domain event of every service, queryable by admins.",
    metadata=LogsBase.metadata,
    event_tables=EVENTS,  # the inbox keeps redeliveries out; the outbox stays empty
    migrations=Path(__file__).parent / "migrations",
    handlers={ALL_EVENTS: on_any_event},
    handles_in_batches=True,  # an insert per event and nothing else: a fetch, one commit
    tasks=(RETENTION,),
)


def create_app(settings: LogsSettings | None = None) -> FastAPI:
    """Build the logs service's ASGI app."""
    return chassis_app.create_app(SPEC, settings or load_settings(), [router])
