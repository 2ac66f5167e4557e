"""Import jobs with their progress, and the indexes of a category's listings.

`import_jobs` holds each import run as a job (`POST /api/catalog/imports`, `mercato
import-products`): who started it, its state, how many items it holds and how many
are written, what it created, updated and left unchanged, the problems found, and
when it last moved. Each batch of an import updates its job in the batch's own
transaction, so every replica (and the console of every web replica) reads the same
progress.

A category's listing by newest and by price reads `(category, created_at, id)` and
`(category, price_amount, id)`: keyset pages of one category then walk an index in
order instead of sorting the category's products (or scanning the whole catalog's
order for those of the category). The single-column index on `category` is a prefix
of both and goes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `import_jobs` and the category listing indexes."""
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('checking', 'writing', 'done', 'failed')",
            name=op.f("ck_import_jobs_state_known"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_import_jobs"),
    )
    op.create_index("ix_import_jobs_started_at", "import_jobs", ["started_at"])
    op.create_index(
        "ix_products_category_created_at_id", "products", ["category", "created_at", "id"]
    )
    op.create_index(
        "ix_products_category_price_amount_id", "products", ["category", "price_amount", "id"]
    )
    op.drop_index("ix_products_category", table_name="products")


def downgrade() -> None:
    """Drop what the upgrade created, and bring back the index on `category`."""
    op.create_index("ix_products_category", "products", ["category"])
    op.drop_index("ix_products_category_price_amount_id", table_name="products")
    op.drop_index("ix_products_category_created_at_id", table_name="products")
    op.drop_index("ix_import_jobs_started_at", table_name="import_jobs")
    op.drop_table("import_jobs")
