"""PostgreSQL: the words of the products' names and brands, one row per word and product.

Relevance's first tier (`catalog.ranking`) lists the products whose name or brand
holds the words searched for, the most recently added first. PostgreSQL's GIN index
(0009) finds them but in no order, and a GIN index cannot give a product's key
without its row: a one-word search read the row of every match to keep the newest
21 (8,334 rows for `laptop` at 100,000 generated products).

`product_name_words` holds each lexeme of a product's name and brand (the lexemes of
`catalog.ranking.NAMED_DOCUMENT`, the expression 0009 indexes) with the product's
key, its primary key `(word, pk)`: a word's products are one range of it, in key
order, and a word's newest products an index-only scan of 21 entries
(`catalog.name_words`). Words sort by bytes (`COLLATE "C"`), so that a prefix's
words are one range whatever the locale. About six rows a product (52 MB at
100,000 generated products, filled in 4.3 s); an import of 100,000 took 1.1x as
long with the triggers (docs/performance.md, "One word's first tier on PostgreSQL").

Triggers keep it: each insert statement adds the words of the rows it inserted (a
transition table: an import's rows go in statements of many rows), a change of a name or a brand
replaces that product's words, a delete statement removes the words of the rows it
deleted, and a truncate empties it. Filled here from the products already stored.
SQLite's first tier reads FTS5 (0010) and MySQL/MariaDB's its FULLTEXT index (0009):
nothing changes there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "product_name_words"


def _words(row: str) -> str:
    """The lexemes of `row`'s name and brand (as `catalog.ranking.NAMED_DOCUMENT`)."""
    return (
        f"unnest(tsvector_to_array(to_tsvector('english', coalesce({row}.title, '')) "
        f"|| to_tsvector('english', coalesce({row}.brand, ''))))"
    )


_STATEMENTS = [
    f"""CREATE TABLE {TABLE} (
        word text COLLATE "C" NOT NULL,
        pk bigint NOT NULL,
        CONSTRAINT pk_{TABLE} PRIMARY KEY (word, pk)
    )""",
    f"""CREATE FUNCTION {TABLE}_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {TABLE} (word, pk) SELECT {_words("added")}, added.pk FROM added;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {TABLE}_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {TABLE} w
        USING (SELECT {_words("removed")} AS word, removed.pk FROM removed) r
        WHERE w.word = r.word AND w.pk = r.pk;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {TABLE}_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {TABLE} WHERE pk = OLD.pk
            AND word IN (SELECT {_words("OLD")});
        INSERT INTO {TABLE} (word, pk) SELECT {_words("NEW")}, NEW.pk;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {TABLE}_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {TABLE};
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER {TABLE}_added AFTER INSERT ON products
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_added()""",
    f"""CREATE TRIGGER {TABLE}_removed AFTER DELETE ON products
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
        EXECUTE FUNCTION {TABLE}_removed()""",
    f"""CREATE TRIGGER {TABLE}_renamed AFTER UPDATE OF title, brand ON products
        FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title
                           OR OLD.brand IS DISTINCT FROM NEW.brand)
        EXECUTE FUNCTION {TABLE}_renamed()""",
    f"""CREATE TRIGGER {TABLE}_emptied AFTER TRUNCATE ON products
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_emptied()""",
    f"INSERT INTO {TABLE} (word, pk) SELECT {_words('products')}, products.pk FROM products",
]


def upgrade() -> None:
    """On PostgreSQL: the table, its triggers, and the stored products' words."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in _STATEMENTS:
            op.execute(statement)


def downgrade() -> None:
    """Drop the triggers, their functions and the table."""
    if op.get_bind().dialect.name == "postgresql":
        for name in ("added", "removed", "renamed", "emptied"):
            op.execute(f"DROP TRIGGER {TABLE}_{name} ON products")
            op.execute(f"DROP FUNCTION {TABLE}_{name}()")
        op.execute(f"DROP TABLE {TABLE}")
