"""API shapes of the logs service (never ORM classes), and the body of a stored event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from mercato.chassis.web.paging import Page
from mercato.logs.models import AuditEvent

__all__ = ["AuditEventOut", "AuditEventPage", "event_body"]


class AuditEventOut(BaseModel):
    """A stored event: its envelope, the lifted ids and when the log recorded it."""

    id: str
    type: str
    version: int
    source: str
    subject: str
    occurred_at: datetime
    recorded_at: datetime
    trace: str | None
    user_id: str | None
    order_id: str | None
    data: dict[str, Any]


class AuditEventPage(Page[AuditEventOut]):
    """One page of audit events and the cursor of the next, if any."""


def event_body(event: AuditEvent) -> AuditEventOut:
    """The API shape of a stored audit event."""
    return AuditEventOut(
        id=event.id,
        type=event.type,
        version=event.version,
        source=event.source,
        subject=event.subject,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        trace=event.trace,
        user_id=event.user_id,
        order_id=event.order_id,
        data=event.data,
    )
