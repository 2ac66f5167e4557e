"""The catalog's first schema: categories, products, full-text search, outbox, inbox.

Full-text search differs per database:

- SQLite: `products_fts`, an FTS5 table whose content is the products table's text
  columns (external content, keyed by the products' integer `pk`), kept in sync by
  three triggers. Porter stemming over unicode61 tokens; the JSON text of `tags`
  tokenizes into its words. A later migration that rebuilds `products` (Alembic's
  batch mode on SQLite) must create the triggers again and then run
  `INSERT INTO products_fts(products_fts) VALUES ('rebuild')`.
- PostgreSQL: `search`, a stored generated tsvector column (English configuration,
  title and brand weighted A, category and tags B, description C) with a GIN index.
  `mercato.catalog.search` queries it by name.
- MySQL/MariaDB: `search`, a stored generated text column joining the same five
  columns (a JSON column cannot be in a FULLTEXT index, its text can), with an
  InnoDB FULLTEXT index; relevance is InnoDB's own, unweighted.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from mercato.chassis.events import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_COLUMNS = "title, brand, description, category, tags"
SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE products_fts USING fts5(
        {FTS_COLUMNS}, content='products', content_rowid='pk',
        tokenize='porter unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
        INSERT INTO products_fts(rowid, {FTS_COLUMNS})
        VALUES (new.pk, new.title, new.brand, new.description, new.category, new.tags);
    END""",
    f"""CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.pk, old.title, old.brand, old.description, old.category,
                old.tags);
    END""",
    f"""CREATE TRIGGER products_fts_update AFTER UPDATE OF {FTS_COLUMNS} ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, {FTS_COLUMNS})
        VALUES ('delete', old.pk, old.title, old.brand, old.description, old.category,
                old.tags);
        INSERT INTO products_fts(rowid, {FTS_COLUMNS})
        VALUES (new.pk, new.title, new.brand, new.description, new.category, new.tags);
    END""",
]
POSTGRES_FTS = [
    """ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(brand, '')), 'A')
        || setweight(to_tsvector('english', replace(coalesce(category, ''), '-', ' ')), 'B')
        || setweight(jsonb_to_tsvector('english', coalesce(tags, '[]'::jsonb), '["string"]'),
                     'B')
        || setweight(to_tsvector('english', coalesce(description, '')), 'C')
    ) STORED""",
    "CREATE INDEX ix_products_search ON products USING gin (search)",
]
MYSQL_FTS = [
    """ALTER TABLE products ADD COLUMN search LONGTEXT AS (concat_ws(' ',
        title, brand, replace(coalesce(category, ''), '-', ' '), tags, description)) STORED""",
    "CREATE FULLTEXT INDEX ix_products_search ON products (search)",
]


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables, the search index and the event tables."""
    op.create_table(
        "categories",
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_categories"),
    )
    op.create_table(
        "products",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("brand", sa.String(100), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("attributes", _json(), nullable=False),
        sa.Column("images", _json(), nullable=False),
        sa.Column("thumbnail", sa.String(2048), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_products"),
        sa.UniqueConstraint("id", name="uq_products_id"),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
        sa.ForeignKeyConstraint(
            ["category"],
            ["categories.slug"],
            name="fk_products_category_categories",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_products_stock_not_negative")),
        sa.CheckConstraint("price_amount >= 0", name=op.f("ck_products_price_not_negative")),
    )
    op.create_index("ix_products_created_at_id", "products", ["created_at", "id"])
    op.create_index("ix_products_price_amount_id", "products", ["price_amount", "id"])
    op.create_index("ix_products_title_id", "products", ["title", "id"])
    op.create_index("ix_products_category", "products", ["category"])
    op.create_index("ix_products_brand", "products", ["brand"])
    dialect = op.get_bind().dialect.name
    fts = {"sqlite": SQLITE_FTS, "mysql": MYSQL_FTS}.get(dialect, POSTGRES_FTS)
    for statement in fts:
        op.execute(statement)
    create_event_tables(op)


def downgrade() -> None:
    """Drop everything the upgrade created."""
    drop_event_tables(op)
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS products_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS products_fts")
    op.drop_table("products")
    op.drop_table("categories")
