"""Inventory: products' `stock` becomes `on_hand` plus `reserved`; reservations per order.

`on_hand` takes the old `stock` (nothing was reserved before this revision, so what
was available is what is on hand) and `reserved` starts at 0. The columns are
renamed and added in place rather than through a batch-mode rebuild of `products`,
so SQLite's full-text table and its triggers (0001) stay as they are:

- PostgreSQL: the column and its check constraint are renamed and two constraints
  added: `reserved >= 0 AND reserved <= on_hand` and, for reservations, the status.
- MySQL/MariaDB: as PostgreSQL, but a check constraint cannot be renamed there: the
  old one is dropped and `ck_products_on_hand_not_negative` added in the same statement.
- SQLite: `RENAME COLUMN` rewrites the existing check to `on_hand >= 0` (it keeps its
  old name `ck_products_stock_not_negative`, since SQLite cannot rename constraints)
  and `reserved` is added with a column check `reserved >= 0 AND reserved <= on_hand`.

The downgrade drops the reservations and renames `on_hand` back to `stock` (units
still reserved for pending orders are then counted as in stock again).

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESERVED_CHECK = "reserved >= 0 AND reserved <= on_hand"


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _split_stock(dialect: str) -> None:
    """Rename `stock` to `on_hand` and add `reserved` with its constraints."""
    if dialect == "postgresql":
        op.execute("ALTER TABLE products RENAME COLUMN stock TO on_hand")
        op.execute(
            "ALTER TABLE products RENAME CONSTRAINT ck_products_stock_not_negative "
            "TO ck_products_on_hand_not_negative"
        )
        op.add_column(
            "products", sa.Column("reserved", sa.Integer(), nullable=False, server_default="0")
        )
        op.create_check_constraint(
            op.f("ck_products_reserved_within_on_hand"), "products", RESERVED_CHECK
        )
    elif dialect == "mysql":
        op.execute(
            "ALTER TABLE products DROP CONSTRAINT ck_products_stock_not_negative, "
            "RENAME COLUMN stock TO on_hand, "
            "ADD CONSTRAINT ck_products_on_hand_not_negative CHECK (on_hand >= 0)"
        )
        op.add_column(
            "products", sa.Column("reserved", sa.Integer(), nullable=False, server_default="0")
        )
        op.create_check_constraint(
            op.f("ck_products_reserved_within_on_hand"), "products", RESERVED_CHECK
        )
    else:
        op.execute("ALTER TABLE products RENAME COLUMN stock TO on_hand")
        op.execute(
            "ALTER TABLE products ADD COLUMN reserved INTEGER DEFAULT 0 NOT NULL "
            f"CONSTRAINT ck_products_reserved_within_on_hand CHECK ({RESERVED_CHECK})"
        )


def upgrade() -> None:
    """Split stock into on hand and reserved; create the reservation tables."""
    _split_stock(op.get_bind().dialect.name)
    op.create_table(
        "reservations",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_reservations"),
        sa.CheckConstraint(
            "status IN ('reserved', 'committed', 'released')",
            name=op.f("ck_reservations_status_known"),
        ),
        sa.CheckConstraint("total_amount >= 0", name=op.f("ck_reservations_total_not_negative")),
    )
    op.create_index("ix_reservations_status_expires_at", "reservations", ["status", "expires_at"])
    op.create_table(
        "reservation_items",
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "product_id", name="pk_reservation_items"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["reservations.order_id"],
            name="fk_reservation_items_order_id_reservations",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_reservation_items_quantity_positive")),
    )


def downgrade() -> None:
    """Drop the reservations and fold on hand back into `stock`."""
    op.drop_table("reservation_items")
    op.drop_index("ix_reservations_status_expires_at", table_name="reservations")
    op.drop_table("reservations")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("ck_products_reserved_within_on_hand", "products", type_="check")
        op.drop_column("products", "reserved")
        op.execute(
            "ALTER TABLE products RENAME CONSTRAINT ck_products_on_hand_not_negative "
            "TO ck_products_stock_not_negative"
        )
    else:
        op.execute("ALTER TABLE products DROP COLUMN reserved")
    op.execute("ALTER TABLE products RENAME COLUMN on_hand TO stock")
