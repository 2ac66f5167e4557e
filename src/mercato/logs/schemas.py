"""API shapes of the logs service (never ORM classes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from mercato.chassis.paging import Page

__all__ = ["AuditEventOut", "AuditEventPage"]


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
