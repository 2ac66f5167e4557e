"""The notifications service's tables: recipients, preferences, messages, and events.

`recipients` is the service's own copy of who a user is (from `user.registered`):
it never asks another service for an address while handling an event. `messages`
holds one row per (event, kind): a mail sent, or one skipped by the recipient's
preferences; its unique key is the second guard, after the chassis inbox, against
mailing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime
from mercato.chassis.events import event_tables

__all__ = ["EVENTS", "Message", "NotificationsBase", "Preference", "Recipient"]

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class NotificationsBase(Base):
    """Declarative base of the notifications service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class Recipient(NotificationsBase):
    """Where a user's mail goes: auth's user id, their address and name."""

    __tablename__ = "recipients"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Preference(NotificationsBase):
    """A user's choice of mails: the kinds turned off (every other kind is on)."""

    __tablename__ = "preferences"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    disabled: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Message(NotificationsBase):
    """One mail of one kind for one event: `sent` (the server took it) or `skipped`."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    text_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("event_id", "kind", name="uq_messages_event_kind"),)


# A user's messages newest first, and an order's.
Index("ix_messages_user_created", Message.user_id, Message.created_at, Message.id)
Index("ix_messages_order_created", Message.order_id, Message.created_at, Message.id)
Index("ix_messages_created", Message.created_at, Message.id)

EVENTS = event_tables(NotificationsBase.metadata)
