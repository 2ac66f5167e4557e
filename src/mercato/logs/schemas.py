"""API shapes of the logs service (never ORM classes), and the body of a stored event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.chassis.events import DeadLetter
from mercato.chassis.web.paging import Page
from mercato.logs.models import AuditEvent

__all__ = [
    "AuditEventOut",
    "AuditEventPage",
    "DeadLetterList",
    "DeadLetterOut",
    "ReplayOut",
    "dead_letter_body",
    "event_body",
]


EVENT_EXAMPLE: dict[str, Any] = {
    "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "type": "order.placed",
    "version": 1,
    "source": "orders",
    "subject": "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d",
    "occurred_at": "2026-01-01T12:00:00Z",
    "recorded_at": "2026-01-01T12:00:00.120000Z",
    "trace": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "user_id": "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51",
    "order_id": "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d",
    "data": {
        "order_id": "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d",
        "user_id": "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51",
        "items": [{"product_id": "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f", "quantity": 2}],
        "total": {"amount": 900, "currency": "USD"},
    },
}


class AuditEventOut(BaseModel):
    """A stored event: its envelope, the lifted ids and when the log recorded it."""

    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: str = Field(description="The event's id (a UUID).")
    type: str = Field(description="What happened, e.g. `order.placed`.")
    version: int = Field(description="The version of the schema of `data`.")
    source: str = Field(description="The service that published it.")
    subject: str = Field(description="The id of the aggregate it concerns.")
    occurred_at: datetime = Field(description="When it happened.")
    recorded_at: datetime = Field(description="When the audit log stored it.")
    trace: str | None = Field(description="The W3C traceparent of the work that caused it.")
    user_id: str | None = Field(description="The user it concerns, lifted from `data`.")
    order_id: str | None = Field(description="The order it concerns, lifted from `data`.")
    data: dict[str, Any] = Field(description="Its payload, as published.")


class AuditEventPage(Page[AuditEventOut]):
    """One page of audit events and the cursor of the next, if any."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EVENT_EXAMPLE], "next_cursor": "WyIyMDI2"}]}
    )


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


MAX_PAYLOAD_CHARS = 64 * 1024
DEAD_LETTER_EXAMPLE: dict[str, Any] = {
    "id": "42",
    "consumer": "users",
    "event_type": "user.registered",
    "error": "PoisonEvent: user.registered v2 is not understood by users",
    "attempts": 1,
    "failed_at": "2026-01-01T12:00:05Z",
    "event": {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "type": "user.registered",
        "version": 2,
        "source": "auth",
        "subject": "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51",
        "occurred_at": "2026-01-01T12:00:00Z",
        "data": {"user_id": "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51"},
    },
    "payload": '{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","type":"user.registered",...}',
}


class DeadLetterOut(BaseModel):
    """An event a consumer gave up on, as the broker keeps it."""

    model_config = ConfigDict(json_schema_extra={"examples": [DEAD_LETTER_EXAMPLE]})

    id: str = Field(description="The dead letter's id on the broker (to read or replay it).")
    consumer: str = Field(description="The consumer that gave up on it.")
    event_type: str = Field(description="The event's type.")
    error: str = Field(description="Why the consumer's last attempt failed.")
    attempts: int = Field(description="How many times the consumer tried it.")
    failed_at: datetime = Field(description="When it was given up on.")
    event: dict[str, Any] | None = Field(
        description="The event's envelope and data, or null when the payload is not an event."
    )
    payload: str = Field(description="The message as published (cut at 64 KiB).")


class DeadLetterList(BaseModel):
    """The oldest dead letters (one page: `next_cursor` is always null)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [DEAD_LETTER_EXAMPLE], "next_cursor": None}]}
    )

    items: list[DeadLetterOut] = Field(description="The oldest first.")
    next_cursor: str | None = Field(default=None, description="Always null.")


class ReplayOut(BaseModel):
    """A replay the broker took: the event is published again and its dead letter gone."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "42",
                    "replayed": True,
                    "consumer": "users",
                    "event_type": "user.registered",
                    "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
                }
            ]
        }
    )

    id: str = Field(description="The dead letter replayed (it is removed).")
    replayed: bool = Field(description="Always true: the broker took the event again.")
    consumer: str = Field(description="The consumer that had given up on it.")
    event_type: str = Field(description="The event's type.")
    event_id: str | None = Field(description="The event's id (null for a malformed payload).")


def dead_letter_body(letter: DeadLetter) -> DeadLetterOut:
    """The API shape of a dead letter."""
    event = letter.event
    envelope = None
    if event is not None:
        envelope = event.model_dump(mode="json", exclude={"trace"})
    return DeadLetterOut(
        id=letter.id,
        consumer=letter.consumer,
        event_type=letter.event_type,
        error=letter.error,
        attempts=letter.attempts,
        failed_at=letter.failed_at,
        event=envelope,
        payload=letter.payload.decode(errors="replace")[:MAX_PAYLOAD_CHARS],
    )
