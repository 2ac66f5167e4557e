"""The auth service's first schema: accounts, roles, tokens, keys, throttle, events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from mercato.chassis.events import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Moments as epoch seconds: MySQL's FLOAT is single precision (a granule of two
# minutes at today's epoch), so a DOUBLE there; PostgreSQL's FLOAT is already double.
SECONDS = sa.Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql")


def upgrade() -> None:
    """Create every auth table and the outbox/inbox."""
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", SECONDS, nullable=False),
        sa.Column("updated_at", SECONDS, nullable=False),
    )
    op.create_table(
        "user_roles",
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.String(32), primary_key=True),
    )
    op.create_index("ix_user_roles_role", "user_roles", ["role"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("access_jti", sa.String(32), nullable=False),
        sa.Column("access_expires_at", SECONDS, nullable=False),
        sa.Column("created_at", SECONDS, nullable=False),
        sa.Column("expires_at", SECONDS, nullable=False),
        sa.Column("used_at", SECONDS, nullable=True),
        sa.Column("revoked_at", SECONDS, nullable=True),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_access_jti", "refresh_tokens", ["access_jti"])
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("expires_at", SECONDS, nullable=False),
        sa.Column("revoked_at", SECONDS, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])
    op.create_index("ix_revoked_tokens_revoked_at", "revoked_tokens", ["revoked_at"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", SECONDS, nullable=False),
        sa.Column("retired_at", SECONDS, nullable=True),
    )
    op.create_index("ix_signing_keys_retired_at", "signing_keys", ["retired_at"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", SECONDS, nullable=False),
    )
    op.create_index("ix_login_throttle_window_started_at", "login_throttle", ["window_started_at"])
    create_event_tables(op)


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    drop_event_tables(op)
    for table in (
        "login_throttle",
        "signing_keys",
        "revoked_tokens",
        "refresh_tokens",
        "user_roles",
        "users",
    ):
        op.drop_table(table)
