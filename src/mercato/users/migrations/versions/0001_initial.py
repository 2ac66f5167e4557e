"""The users service's first schema: profiles, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mercato.chassis.events import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the profiles table, its indexes and the event tables."""
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("avatar_url", sa.String(2048), nullable=True),
        sa.Column("preferences", JSON_DOCUMENT, nullable=False),
        sa.Column("addresses", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    if op.get_bind().dialect.name == "mysql":
        # MariaDB indexes no expression; its utf8mb4 collation compares case-blind,
        # so a plain index on the column serves the lookup by email.
        op.create_index("ix_profiles_email_lower", "profiles", ["email"])
    else:
        op.create_index("ix_profiles_email_lower", "profiles", [sa.text("lower(email)")])
    op.create_index("ix_profiles_created_at_user_id", "profiles", ["created_at", "user_id"])
    create_event_tables(op)


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    drop_event_tables(op)
    op.drop_index("ix_profiles_created_at_user_id", table_name="profiles")
    op.drop_index("ix_profiles_email_lower", table_name="profiles")
    op.drop_table("profiles")
