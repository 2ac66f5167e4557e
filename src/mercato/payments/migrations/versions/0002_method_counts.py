"""Saved-card limits that hold under concurrent saves, and unknown charges found fast.

`payment_method_counts` holds how many methods each user has saved; a save takes a
slot there with one conditional update (`store.take_method_slot`) instead of
counting rows and then inserting, which let concurrent saves on PostgreSQL pass the
limit together. It starts with each user's current count.

`ix_payments_status_attempt_at` lets the reconciler find `unknown` charges (a
provider timeout) without reading every payment.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-01
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
    """Create the counts, fill them from the saved methods, index payments by status."""
    op.create_table(
        "payment_method_counts",
        sa.Column("user_id", sa.String(100), primary_key=True),
        sa.Column("methods", sa.Integer(), nullable=False),
        sa.CheckConstraint("methods >= 0", name="ck_payment_method_counts_methods"),
    )
    op.execute(
        "INSERT INTO payment_method_counts (user_id, methods) "
        "SELECT user_id, COUNT(*) FROM payment_methods GROUP BY user_id"
    )
    op.create_index("ix_payments_status_attempt_at", "payments", ["status", "attempt_at"])


def downgrade() -> None:
    """Drop the index and the counts."""
    op.drop_index("ix_payments_status_attempt_at", table_name="payments")
    op.drop_table("payment_method_counts")
