"""Returns put back on hand once: `return_restocks`, keyed by the return's id.

The orders service restocks a received return's lines with `POST
/api/catalog/returns/{return_id}`; each return's restock is one row here, written in
the transaction that adds its units on hand, so a retried call finds it and adds
nothing twice. A new table: nothing existing changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `return_restocks`."""
    op.create_table(
        "return_restocks",
        sa.Column("return_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("items", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("return_id", name="pk_return_restocks"),
    )


def downgrade() -> None:
    """Drop `return_restocks`."""
    op.drop_table("return_restocks")
