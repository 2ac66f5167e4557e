"""Fulfilment: an order's shipments, and its returns with their refund sagas.

`shipments` holds what orders knows of each shipment of an order (from shipping's
`shipment.*` events: its status, carrier, tracking and lines); `order_returns` holds
each received return (`return.received`) and the state of the saga that restocks and
refunds it. Both are new tables: nothing existing changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create `shipments` and `order_returns` with their indexes."""
    op.create_table(
        "shipments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("method", sa.String(64), nullable=True),
        sa.Column("carrier", sa.String(64), nullable=True),
        sa.Column("tracking_number", sa.String(128), nullable=True),
        sa.Column("tracking_url", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shipments_order", "shipments", ["order_id"])
    op.create_table(
        "order_returns",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("whole_order", sa.Boolean(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=True),
        sa.Column("discount_share", sa.BigInteger(), nullable=False),
        sa.Column("shipping_refund", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("refund_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("stalled_in", sa.String(20), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_order_returns_order", "order_returns", ["order_id"])
    op.create_index("ix_order_returns_status_updated", "order_returns", ["status", "updated_at"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("order_returns")
    op.drop_table("shipments")
