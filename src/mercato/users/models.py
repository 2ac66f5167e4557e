"""The users service's tables: profiles, and the event outbox and inbox.

Addresses and preferences live in JSON columns of the profile: they are small,
bounded (at most ten addresses, a few KiB of preferences), always read with the
profile and replaced as a whole, so a separate table would only add joins.
`version` is the optimistic-concurrency counter: an update whose row changed since
it was read fails instead of silently losing the other writer's change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import JSON, Index, Integer, MetaData, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime
from mercato.chassis.events import event_tables

__all__ = ["EVENTS", "JsonDocument", "Profile", "ProfileRow", "UsersBase"]

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class UsersBase(Base):
    """Declarative base of the users service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class Profile(UsersBase):
    """One user's profile; `user_id` is auth's user id (the token subject)."""

    __tablename__ = "profiles"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    avatar_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    preferences: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class ProfileRow(TypedDict):
    """A profile as a direct read gives it: its columns by name."""

    user_id: str
    email: str
    name: str
    bio: str | None
    avatar_url: str | None
    preferences: dict[str, Any]
    addresses: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    version: int


# Admin lookups: by email (case-insensitive) and newest first.
Index("ix_profiles_email_lower", func.lower(Profile.email))
Index("ix_profiles_created_at_user_id", Profile.created_at, Profile.user_id)

EVENTS = event_tables(UsersBase.metadata)
