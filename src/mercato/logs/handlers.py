"""The one handler of the logs service: every event, of every type, into the log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Event
from mercato.logs import service

__all__ = ["on_any_event"]


async def on_any_event(session: AsyncSession, event: Event) -> None:
    """Record `event` as it is; a redelivery stores nothing new."""
    await service.record_event(session, event=event, now=datetime.now(UTC))
