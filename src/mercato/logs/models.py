"""The logs service's tables: the audit events, and the event outbox and inbox.

`audit_events` is append-only: a row is written once per event id (the primary key,
so a redelivered event is stored once) and only the retention task deletes rows.
`user_id` and `order_id` are lifted out of `data` when an event carries them (and
`order_id` is the subject of `order.*` events), so that the usual questions ("what
happened to this order", "what did this user do") are answered from an index. Every
index ends in `(occurred_at, id)`, the order in which events are listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, MetaData, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime
from mercato.chassis.events import event_tables

__all__ = ["EVENTS", "INDEXED_KEYS", "AuditEvent", "JsonDocument", "LogsBase"]

JsonDocument = JSON().with_variant(JSONB(), "postgresql")
# The filter columns with an index of their own, each followed by (occurred_at, id).
INDEXED_KEYS = ("type", "source", "subject", "user_id", "order_id")


class LogsBase(Base):
    """Declarative base of the logs service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class AuditEvent(LogsBase):
    """One domain event as it was published, and when the audit log recorded it."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(String(200), default=None)
    order_id: Mapped[str | None] = mapped_column(String(200), default=None)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    trace: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


Index("ix_audit_events_occurred_at_id", AuditEvent.occurred_at, AuditEvent.id)
for _key in INDEXED_KEYS:
    Index(
        f"ix_audit_events_{_key}", getattr(AuditEvent, _key), AuditEvent.occurred_at, AuditEvent.id
    )

EVENTS = event_tables(LogsBase.metadata)
