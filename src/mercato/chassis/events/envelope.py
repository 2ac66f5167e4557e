"""The event envelope: what every event on the bus looks like.

An `Event` carries its own identity (`id`, a UUID that is also the broker's
de-duplication id and the consumers' inbox key), what happened (`type`, `version`,
`data`), where and when (`source`, `occurred_at`), which aggregate it concerns
(`subject`) and the W3C trace context of the work that caused it (`trace`). On the
wire it is one JSON object, encoded with orjson.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mercato.chassis.telemetry.trace_context import current

__all__ = ["EVENT_TYPE_PATTERN", "Event"]

# Dot-separated tokens that are also valid NATS subject tokens: "user.registered".
EVENT_TYPE_PATTERN = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"


class Event(BaseModel):
    """One immutable event envelope."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(
        min_length=1,
        max_length=64,
        description="A UUID: the broker's de-duplication id and the consumers' inbox key.",
    )
    type: str = Field(
        pattern=EVENT_TYPE_PATTERN,
        max_length=200,
        description="What happened, e.g. `order.placed`.",
    )
    version: int = Field(ge=1, description="The version of the schema of `data`.")
    occurred_at: datetime = Field(description="When it happened (UTC, RFC 3339).")
    source: str = Field(description="The service that published it: the type's producer.")
    subject: str = Field(description="The id of the aggregate it concerns (an order, a user).")
    trace: str | None = Field(
        default=None, description="The W3C `traceparent` of the work that caused it."
    )
    data: dict[str, Any] = Field(description="The payload, in the schema of (type, version).")

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @classmethod
    def new(
        cls,
        type: str,
        *,
        subject: str,
        data: dict[str, Any],
        source: str,
        version: int = 1,
        occurred_at: datetime | None = None,
    ) -> Event:
        """A fresh event with a new id, the current time and the current trace."""
        ctx = current()
        return cls(
            id=str(uuid.uuid4()),
            type=type,
            version=version,
            occurred_at=occurred_at or datetime.now(UTC),
            source=source,
            subject=subject,
            trace=ctx.traceparent if ctx is not None else None,
            data=data,
        )

    def to_bytes(self) -> bytes:
        """The JSON encoding sent on the wire and stored in the outbox."""
        return orjson.dumps(
            {
                "id": self.id,
                "type": self.type,
                "version": self.version,
                "occurred_at": self.occurred_at,
                "source": self.source,
                "subject": self.subject,
                "trace": self.trace,
                "data": self.data,
            },
            option=orjson.OPT_UTC_Z,
        )

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Event:
        """Parse and validate an encoded event; ValueError if it is not one."""
        return cls.model_validate(orjson.loads(raw))
