"""The web service's tables: the shoppers' sessions, and their checkouts' keys.

A session is found by the hash of its cookie's value (the value itself is never
stored, so a copy of the table opens no session). It holds what the browser must
never see: the shopper's access and refresh tokens (sealed: `sealing`), and the CSRF
secret its forms carry; and a visitor's cart until they sign in (`guest_cart`).
`refreshing_until` is the claim of the one request that is rotating the tokens (see
`sessions`); `flash` is a message for the next page shown.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, MetaData, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime

__all__ = ["CheckoutRecord", "SessionRecord", "WebBase"]


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
    cart: Mapped[str | None] = mapped_column(Text, default=None)  # a visitor's (`guest_cart`)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idle_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    absolute_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


# The housekeeping deletes by idle expiry.
Index("ix_sessions_idle_expires_at", SessionRecord.idle_expires_at)


class CheckoutRecord(WebBase):
    """One checkout form's idempotency key: who holds it, the card and order it made.

    The checkout page gives each rendering of its form a new key; every post of that
    form (a double click, a reload, a retry after an error) comes with it, and this
    row makes them one checkout across requests and replicas (`checkouts`).
    """

    __tablename__ = "checkouts"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    method_id: Mapped[str | None] = mapped_column(String(64), default=None)
    order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# The housekeeping deletes old checkouts by age.
Index("ix_checkouts_created_at", CheckoutRecord.created_at)
