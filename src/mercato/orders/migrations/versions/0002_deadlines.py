"""Sagas that end: a deadline and a retry time per order; carts with an owner row.

`orders.deadline` is when an order must have left its current state (the saga
otherwise leaves it for an operator, `needs_attention`); `orders.retry_at` is when
the next attempt at a failed step may start (the backoff). Orders the saga still
drives get a deadline from now on, as if they had just entered their state.

`carts` holds one row per customer whose cart has lines: a change to the lines
locks it first, so the limit on a cart's lines holds under concurrent requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from mercato.chassis.data.database import UtcDateTime

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DRIVEN = ("pending", "reserving", "reserved", "charging", "paid", "cancelling")
DEFAULT_DEADLINE = timedelta(seconds=600)  # OrdersSettings.step_deadline_seconds


def upgrade() -> None:
    """Add the columns, give driven orders a deadline, create the cart owners."""
    op.add_column("orders", sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    orders = sa.table(
        "orders",
        sa.column("status", sa.String()),
        sa.column("deadline", UtcDateTime()),
    )
    op.execute(
        orders.update()
        .where(orders.c.status.in_(DRIVEN))
        .values(deadline=datetime.now(UTC) + DEFAULT_DEADLINE)
    )
    op.create_table("carts", sa.Column("user_id", sa.String(64), primary_key=True))
    op.execute("INSERT INTO carts (user_id) SELECT DISTINCT user_id FROM cart_lines")


def downgrade() -> None:
    """Drop the cart owners and the columns."""
    op.drop_table("carts")
    op.drop_column("orders", "retry_at")
    op.drop_column("orders", "deadline")
