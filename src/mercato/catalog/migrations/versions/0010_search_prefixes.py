"""SQLite: a full-text table of the names and brands, and prefix indexes up to 10 letters.

A search reads its results a page at a time in the order of the products' key
(`catalog.ranking`), so that a page stops at its 21st row. Two things in SQLite's
FTS5 kept it from stopping:

- A prefix (`laptop*`, the last word as a shopper types) that no prefix index
  answers is merged from the lists of every word it starts, whole, before the first
  row comes out. `products_fts` had prefix indexes of 2 and 3 characters (0003); it
  is made again with indexes of 2 to 10, so that any prefix up to 10 characters is
  one list read in order. At 100,000 generated products the first 21 rows of
  `"phone"*` took 0.37 ms, now 0.03; the table's index grew from 38.5 to 61 MB, its
  rebuild from 2.3 to 3.1 s.
- Relevance's first tier (every word in the name or the brand) was a column filter
  on `products_fts` (`{title brand}: ...`), which reads the positions of every
  product that has the word in any column. `products_named_fts` holds the two
  columns alone (external content over `products`, the same tokenizer, prefix
  indexes of 2 to 10, three triggers of its own): the first 21 rows of `"laptop"*`
  took 0.90 ms, 0.06 there (11 MB at 100,000 products).

docs/performance.md, "Prefixes indexed to 10 characters". PostgreSQL and MySQL/MariaDB
have their index on the names' words since 0009; nothing changes there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "products_named_fts"
_TOKENIZE = "porter unicode61 remove_diacritics 2"
_PREFIXES = "2 3 4 5 6 7 8 9 10"
_SEARCHED = "title, brand, description, category, tags"  # products_fts' columns (0001)
_TRIGGERS = ("insert", "delete", "update")
_STATEMENTS = [
    f"""CREATE VIRTUAL TABLE {TABLE} USING fts5(
        title, brand, content='products', content_rowid='pk',
        tokenize='{_TOKENIZE}', prefix='{_PREFIXES}')""",
    f"""CREATE TRIGGER {TABLE}_insert AFTER INSERT ON products BEGIN
        INSERT INTO {TABLE}(rowid, title, brand) VALUES (new.pk, new.title, new.brand);
    END""",
    f"""CREATE TRIGGER {TABLE}_delete AFTER DELETE ON products BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, title, brand)
        VALUES ('delete', old.pk, old.title, old.brand);
    END""",
    f"""CREATE TRIGGER {TABLE}_update AFTER UPDATE OF title, brand ON products BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, title, brand)
        VALUES ('delete', old.pk, old.title, old.brand);
        INSERT INTO {TABLE}(rowid, title, brand) VALUES (new.pk, new.title, new.brand);
    END""",
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
]


def _remake_products_fts(prefixes: str) -> None:
    """Make `products_fts` again with these prefix indexes (its triggers name it: they stay)."""
    op.execute("DROP TABLE products_fts")
    op.execute(
        f"CREATE VIRTUAL TABLE products_fts USING fts5({_SEARCHED}, content='products', "
        f"content_rowid='pk', tokenize='{_TOKENIZE}', prefix='{prefixes}')"
    )
    op.execute("INSERT INTO products_fts(products_fts) VALUES ('rebuild')")


def upgrade() -> None:
    """On SQLite: the names' table, kept and filled; `products_fts` with its new indexes."""
    if op.get_bind().dialect.name == "sqlite":
        for statement in _STATEMENTS:
            op.execute(statement)
        _remake_products_fts(_PREFIXES)


def downgrade() -> None:
    """Drop the names' table and its triggers; `products_fts` as 0003 made it."""
    if op.get_bind().dialect.name == "sqlite":
        for trigger in _TRIGGERS:
            op.execute(f"DROP TRIGGER {TABLE}_{trigger}")
        op.execute(f"DROP TABLE {TABLE}")
        _remake_products_fts("2 3")
