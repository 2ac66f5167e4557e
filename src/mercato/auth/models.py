"""The auth service's tables: accounts, roles, refresh tokens, keys, revocations, throttle.

Times are epoch seconds (floats) throughout: they are compared with JWT `exp`/`iat`
values, which are epoch seconds too, and they behave the same on SQLite and
PostgreSQL. Refresh tokens are stored only as their SHA-256 hash.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Float, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mercato.chassis.data.database import Base
from mercato.chassis.events import event_tables

__all__ = [
    "EVENTS",
    "MIGRATIONS",
    "AuthBase",
    "RefreshToken",
    "RevokedToken",
    "SigningKey",
    "ThrottleCounter",
    "User",
    "UserRole",
]

MIGRATIONS = Path(__file__).with_name("migrations")
# Moments as epoch seconds: MySQL's FLOAT is single precision (a granule of two
# minutes at today's epoch), so a DOUBLE there; PostgreSQL's FLOAT is already double.
SECONDS = Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql")


class AuthBase(Base):
    """Declarative base of the auth service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class User(AuthBase):
    """An account: the token subject is its `id`."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(SECONDS)
    updated_at: Mapped[float] = mapped_column(SECONDS)
    role_rows: Mapped[list[UserRole]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="UserRole.role"
    )

    @property
    def roles(self) -> list[str]:
        """The account's roles, sorted."""
        return sorted(row.role for row in self.role_rows)


class UserRole(AuthBase):
    """One role held by one account."""

    __tablename__ = "user_roles"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class RefreshToken(AuthBase):
    """A refresh token (by hash) in its family, with the access token issued beside it."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    access_jti: Mapped[str] = mapped_column(String(32), index=True)
    access_expires_at: Mapped[float] = mapped_column(SECONDS)
    created_at: Mapped[float] = mapped_column(SECONDS)
    expires_at: Mapped[float] = mapped_column(SECONDS, index=True)
    used_at: Mapped[float | None] = mapped_column(SECONDS, default=None)
    revoked_at: Mapped[float | None] = mapped_column(SECONDS, default=None)


class RevokedToken(AuthBase):
    """An access token id refused until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(SECONDS, index=True)
    revoked_at: Mapped[float] = mapped_column(SECONDS, index=True)
    reason: Mapped[str] = mapped_column(String(32))


class SigningKey(AuthBase):
    """An RSA signing key; the newest one not retired signs new tokens."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(SECONDS)
    retired_at: Mapped[float | None] = mapped_column(SECONDS, default=None, index=True)


class ThrottleCounter(AuthBase):
    """Failed logins of one account or client within the current window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[float] = mapped_column(SECONDS, index=True)


EVENTS = event_tables(AuthBase.metadata)
