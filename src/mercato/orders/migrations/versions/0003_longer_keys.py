"""Idempotency keys of up to 255 characters, as payments takes them.

Orders took keys of 1 to 200 characters and payments of 1 to 255; the one rule both
now follow (`chassis.web.idempotency`) is the longer, so `orders.idempotency_key` widens.
On PostgreSQL this changes the catalog only; on SQLite the table is recreated, which
`chassis.data.migrations` does with foreign keys off, so that no order loses its history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-03-20
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
    """Widen `orders.idempotency_key` from 200 to 255 characters."""
    _resize_key(200, 255)


def downgrade() -> None:
    """Back to 200 characters (PostgreSQL refuses while a longer key is stored)."""
    _resize_key(255, 200)


def _resize_key(before: int, after: int) -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column(
            "idempotency_key",
            existing_type=sa.String(before),
            type_=sa.String(after),
            existing_nullable=False,
        )
