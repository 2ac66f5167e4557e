"""The logs service's first schema: audit events, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
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
INDEXED_KEYS = ("type", "source", "subject", "user_id", "order_id")
MYSQL_TEXT_PREFIX = 255


def upgrade() -> None:
    """Create the audit_events table, its indexes and the event tables."""
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("order_id", sa.String(200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trace", sa.Text(), nullable=True),
        sa.Column("data", JSON_DOCUMENT, nullable=False),
    )
    op.create_index("ix_audit_events_occurred_at_id", "audit_events", ["occurred_at", "id"])
    for key in INDEXED_KEYS:
        op.create_index(
            f"ix_audit_events_{key}",
            "audit_events",
            [key, "occurred_at", "id"],
            # MySQL indexes a TEXT column by a prefix only (`source` and `subject`).
            mysql_length={key: MYSQL_TEXT_PREFIX} if key in ("source", "subject") else None,
        )
    create_event_tables(op)


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    drop_event_tables(op)
    for key in reversed(INDEXED_KEYS):
        op.drop_index(f"ix_audit_events_{key}", table_name="audit_events")
    op.drop_index("ix_audit_events_occurred_at_id", table_name="audit_events")
    op.drop_table("audit_events")
