"""A visitor's cart, kept in their session until they sign in.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the sessions' `cart` column (JSON of product id to quantity; none: empty)."""
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("cart", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the column `upgrade` added."""
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("cart")
