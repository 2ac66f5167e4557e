"""SQLite: a full-text table of the products' names and brands, for relevance's first tier.

Relevance's first tier is the products whose name or brand holds every word searched
for (`catalog.ranking`). On `products_fts` that is a column filter (`{title brand}:
...`), which reads the positions of every product that has the word anywhere, and a
prefix (`laptop*`, as a shopper types) that no prefix index answers is merged from
every word it starts into one list before the first row comes out. Measured at
100,000 generated products, the first 21 rows of `"laptop"*`: 0.90 ms that way,
0.06 ms from this table, which holds the two columns alone with prefix indexes of 2
to 10 characters, so that any prefix up to 10 characters is one list read in order
and the page stops at its 21st row (docs/performance.md, "The names' own index").

`products_named_fts` is external content over `products` like `products_fts`, with
the same tokenizer, kept by three triggers of its own and filled here (`rebuild`).
PostgreSQL and MySQL/MariaDB have their index on the same words since 0009.

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
_TRIGGERS = ("insert", "delete", "update")
_STATEMENTS = [
    f"""CREATE VIRTUAL TABLE {TABLE} USING fts5(
        title, brand, content='products', content_rowid='pk',
        tokenize='porter unicode61 remove_diacritics 2', prefix='2 3 4 5 6 7 8 9 10')""",
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


def upgrade() -> None:
    """Create, keep and fill the table on SQLite."""
    if op.get_bind().dialect.name == "sqlite":
        for statement in _STATEMENTS:
            op.execute(statement)


def downgrade() -> None:
    """Drop the triggers and the table."""
    if op.get_bind().dialect.name == "sqlite":
        for trigger in _TRIGGERS:
            op.execute(f"DROP TRIGGER {TABLE}_{trigger}")
        op.execute(f"DROP TABLE {TABLE}")
