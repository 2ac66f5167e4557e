"""Calls to logs for the operations console: the audit log, and the dead letters.

Admin-only on the logs service (`/api/logs/events`, `/api/logs/dead-letters`): with a
customer's token every call answers 403 (`ApiError`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = [
    "AuditEvent",
    "AuditPage",
    "DeadLetter",
    "Replayed",
    "dead_letter",
    "dead_letters",
    "events",
    "replay",
]


class AuditEvent(BaseModel):
    """An event as the audit log recorded it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    type: str
    version: int
    source: str
    subject: str
    occurred_at: datetime
    recorded_at: datetime
    user_id: str | None = None
    order_id: str | None = None
    data: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audit events, and the cursor of the next."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[AuditEvent, ...]
    next_cursor: str | None = None


class DeadLetter(BaseModel):
    """An event a consumer gave up on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    consumer: str
    event_type: str
    error: str
    attempts: int
    failed_at: datetime
    event: dict[str, Any] | None = None
    payload: str


class Replayed(BaseModel):
    """A replay the broker took."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    consumer: str
    event_type: str
    event_id: str | None = None


async def events(
    caller: Caller, filters: dict[str, str], *, limit: int = 50, cursor: str | None = None
) -> AuditPage:
    """Audit events matching `filters` (type, subject, order_id, user_id, source, since,
    until), in the order they occurred (422: a filter the log refuses)."""
    params: dict[str, str | int] = {**filters, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    body = await caller.call("logs", "GET", "/api/logs/events", params=params)
    return AuditPage.model_validate(body)


async def dead_letters(caller: Caller, *, limit: int = 200) -> tuple[DeadLetter, ...]:
    """The oldest dead letters (503 from logs: no broker credentials, or the broker down)."""
    body = await caller.call("logs", "GET", "/api/logs/dead-letters", params={"limit": limit})
    return tuple(DeadLetter.model_validate(item) for item in body["items"])


async def dead_letter(caller: Caller, dead_letter_id: str) -> DeadLetter:
    """One dead letter (404: none, replayed already)."""
    path = f"/api/logs/dead-letters/{quote(dead_letter_id, safe='')}"
    return DeadLetter.model_validate(await caller.call("logs", "GET", path))


async def replay(caller: Caller, dead_letter_id: str) -> Replayed:
    """Publish the dead letter's event again (404: none; 409: the broker refused)."""
    path = f"/api/logs/dead-letters/{quote(dead_letter_id, safe='')}/replay"
    return Replayed.model_validate(await caller.call("logs", "POST", path))
