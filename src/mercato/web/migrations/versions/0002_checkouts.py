"""The checkouts' idempotency keys: one checkout per form, whatever is posted again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the checkouts table and its index."""
    op.create_table(
        "checkouts",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("method_id", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_checkouts_created_at", "checkouts", ["created_at"])


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    op.drop_index("ix_checkouts_created_at", table_name="checkouts")
    op.drop_table("checkouts")
