"""Shipping charges and discount codes: the order's parts of its total, codes and their uses.

`orders` gains `subtotal_amount` (its items), `shipping_amount`, `shipping_method`,
`discount_amount` and `discount_code`: total = subtotal + shipping - discount. Orders
placed before have no shipping and no discount, so their subtotal is their total.
`discounts` holds the codes, `discount_redemptions` each use of one by an order (given
back when the order fails or is cancelled), `cart_discounts` the code on a cart.
Plain types and named constraints only, so that it runs alike on SQLite, PostgreSQL
and MariaDB; the new NOT NULL columns get a server default for the rows already there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
AMOUNTS = ("subtotal_amount", "shipping_amount", "discount_amount")


def upgrade() -> None:
    """Add the order's columns (subtotal = total for earlier orders) and the discount tables."""
    for column in AMOUNTS:
        op.add_column(
            "orders", sa.Column(column, sa.BigInteger(), nullable=False, server_default="0")
        )
    op.add_column("orders", sa.Column("shipping_method", sa.String(40), nullable=True))
    op.add_column("orders", sa.Column("discount_code", sa.String(40), nullable=True))
    op.execute("UPDATE orders SET subtotal_amount = total_amount")
    op.create_table(
        "discounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("min_order", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("max_uses_per_customer", sa.Integer(), nullable=True),
        sa.Column("categories", JSON_DOCUMENT, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("code", name="uq_discounts_code"),
    )
    op.create_index("ix_discounts_created", "discounts", ["created_at", "id"])
    op.create_table(
        "discount_redemptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "discount_id",
            sa.String(36),
            sa.ForeignKey("discounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("order_id", name="uq_redemptions_order"),
    )
    op.create_index(
        "ix_redemptions_discount_user", "discount_redemptions", ["discount_id", "user_id"]
    )
    op.create_table(
        "cart_discounts",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the discount tables (their indexes with them) and the order's new columns.

    MariaDB refuses to drop an index its foreign key uses on its own: the table goes whole.
    """
    op.drop_table("cart_discounts")
    op.drop_table("discount_redemptions")
    op.drop_table("discounts")
    with op.batch_alter_table("orders") as batch:
        for column in ("discount_code", "shipping_method", *AMOUNTS):
            batch.drop_column(column)
