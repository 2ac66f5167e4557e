"""The notifications service's first schema: recipients, preferences, messages, events.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
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
    """Create the three tables, their indexes and the event tables."""
    op.create_table(
        "recipients",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "preferences",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("disabled", JSON_DOCUMENT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "kind", name="uq_messages_event_kind"),
    )
    op.create_index("ix_messages_user_created", "messages", ["user_id", "created_at", "id"])
    op.create_index("ix_messages_order_created", "messages", ["order_id", "created_at", "id"])
    op.create_index("ix_messages_created", "messages", ["created_at", "id"])
    create_event_tables(op)


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    drop_event_tables(op)
    op.drop_index("ix_messages_created", table_name="messages")
    op.drop_index("ix_messages_order_created", table_name="messages")
    op.drop_index("ix_messages_user_created", table_name="messages")
    op.drop_table("messages")
    op.drop_table("preferences")
    op.drop_table("recipients")
