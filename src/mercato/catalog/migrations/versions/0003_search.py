"""Search: the vocabulary of products' words, and SQLite's prefix indexes.

- `search_words` (both databases): each word of the products' titles, brands,
  categories and tags with its number of products (`catalog.vocabulary`), filled
  here from the products already stored; the service keeps it from then on. On
  PostgreSQL its words sort by bytes (`COLLATE "C"`), so that the words starting
  with a prefix are one range of its primary key whatever the database's locale.
- SQLite: `products_fts` is made again with FTS5 prefix indexes of 2 and 3
  characters (`prefix='2 3'`), so that an as-you-type prefix reads one entry instead
  of merging every word that starts with it (`lap*` at 100,000 products: 2.0 ms to
  0.4 ms to count its matches). Same columns, tokenizer and triggers as 0001; the
  table is refilled from the products (`rebuild`). PostgreSQL's GIN index answers
  prefix queries (`lap:*`) as it is.

The downgrade drops the vocabulary and makes `products_fts` without prefix indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from mercato.catalog.vocabulary import words_of

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_COLUMNS = "title, brand, description, category, tags"
TOKENIZE = "porter unicode61 remove_diacritics 2"
_CHUNK = 1000


def _fts_table(prefix: str) -> str:
    option = f", prefix='{prefix}'" if prefix else ""
    return (
        f"CREATE VIRTUAL TABLE products_fts USING fts5({FTS_COLUMNS}, content='products', "
        f"content_rowid='pk', tokenize='{TOKENIZE}'{option})"
    )


def _remake_fts(prefix: str) -> None:
    """Drop and create `products_fts` (its triggers stay: they name it, not hold it)."""
    op.execute("DROP TABLE products_fts")
    op.execute(_fts_table(prefix))
    op.execute("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")


def _tags(raw: Any) -> list[str]:
    tags = json.loads(raw) if isinstance(raw, str) else raw
    return [t for t in tags or () if isinstance(t, str)]


def _count_existing_words() -> None:
    """Fill `search_words` from the products stored."""
    counts: Counter[str] = Counter()
    rows = op.get_bind().execute(sa.text("SELECT title, brand, category, tags FROM products"))
    for title, brand, category, tags in rows:
        counts.update(words_of(title, brand, category, _tags(tags)))
    words = sa.table("search_words", sa.column("word"), sa.column("products"))
    entries = [{"word": w, "products": n} for w, n in sorted(counts.items())]
    for start in range(0, len(entries), _CHUNK):
        op.bulk_insert(words, entries[start : start + _CHUNK])


def upgrade() -> None:
    """Create and fill the vocabulary; give SQLite's full-text table prefix indexes."""
    dialect = op.get_bind().dialect.name
    word = sa.String(40)
    if dialect == "postgresql":
        word = sa.String(40, collation="C")
    if dialect == "mysql":  # by code point, and case-sensitive, as "C" does
        word = sa.String(40, collation="utf8mb4_bin")
    op.create_table(
        "search_words",
        sa.Column("word", word, nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("word", name="pk_search_words"),
    )
    _count_existing_words()
    if dialect == "sqlite":
        _remake_fts("2 3")


def downgrade() -> None:
    """Drop the vocabulary; SQLite's full-text table without prefix indexes."""
    op.drop_table("search_words")
    if op.get_bind().dialect.name == "sqlite":
        _remake_fts("")
