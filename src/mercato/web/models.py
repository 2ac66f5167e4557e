"""The web service's one table: the shoppers' sessions.

A session is found by the hash of its cookie's value (the value itself is never
stored, so a copy of the table opens no session). It holds what the browser must
never see: the shopper's access and refresh tokens, and the CSRF secret its forms
carry. `refreshing_until` is the claim of the one request that is rotating the
tokens (see `sessions`); `flash` is a message for the next page shown.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, MetaData, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime

__all__ = ["SessionRecord", "WebBase"]


class WebBase(Base):
    """Declarative base of the web service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class SessionRecord(WebBase):
    """One browser's session, signed in or not."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    user_name: Mapped[str] = mapped_column(String(200), default="")
    user_email: Mapped[str] = mapped_column(String(320), default="")
    roles: Mapped[str] = mapped_column(String(200), default="")
    access_token: Mapped[str | None] = mapped_column(Text, default=None)
    refresh_token: Mapped[str | None] = mapped_column(String(512), default=None)
    access_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    refreshing_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    flash: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idle_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    absolute_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


# The housekeeping deletes by idle expiry.
Index("ix_sessions_idle_expires_at", SessionRecord.idle_expires_at)
