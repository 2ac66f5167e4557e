"""Relevance: the order of a search's results, built so that a page stops at its end.

A search's results come in two tiers. First the products whose name or brand holds
every word searched for (`laptop` finds the laptops before the bags "for a 15-inch
laptop"), then every other match (the words in the description, the category or the
tags); within a tier, the most recently added product first.

Why not a text score (BM25 on SQLite, `ts_rank` on PostgreSQL, InnoDB's relevance):
a match's score is known only by computing it, and any match may be the best, so a
page of 20 scored every match: 4 ms of CPU for the 4,000 matches of a word at
100,000 products, 50 ms for the 90,000 of `laptop` at a million (docs/performance.md,
"Relevance in tiers"). A tier is instead one statement ordered by the products'
integer key, in which order SQLite's FTS5 reads its postings: the page's 21 rows are
the first 21 it meets, whatever the number of matches.

Each backend reads a tier its own way, from the query's clauses (`tier_parameters`
gives the values of both tiers), its statement built once per shape:

- SQLite: one FTS5 expression per tier. The first reads `products_named_fts`, the
  names' and brands' own table (migration 0010: a prefix up to 10 characters is one
  list there, read in order); when the search excludes a word, `products_fts` with
  the positive clauses within `{title brand}` (`{title brand}: (laptop) NOT
  gaming`). The second is the whole search less the first (`(laptop NOT gaming) NOT
  {title brand}: (laptop)`). FTS5 gives the matches in the order of its rowid (the
  products' `pk`) and the page stops.
- PostgreSQL: no index gives full-text matches in a column's order, so a tier's
  matching keys are read from a GIN index, sorted, and only the page's rows read
  (the keys in a `MATERIALIZED` CTE: else the planner may walk the primary key
  backwards hoping to meet matches early, 130 ms when they are the oldest products).
  The first tier reads an index of its own, on the title's and the brand's words
  alone (`NAMED_DOCUMENT`, migration 0009), where no match needs rechecking; the
  whole search is added only when it excludes words. A search of one word without
  filters reads its first tier from `product_name_words` instead, where a word's
  products are in key order (`catalog.name_words`, migration 0011). The second tier
  reads the `search` column's index less the keys the first tier's index finds.
- MySQL/MariaDB: the whole search against the `search` column and the positive
  clauses against `MATCH (title, brand)` (its own FULLTEXT index, migration 0009),
  required for the first tier and excluded for the second.

The tiers are read in turn by `catalog.listing`: the second only when the first runs
out within a page. A cursor holds the tier and the key of the page's last product.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    bindparam,
    column,
    func,
    literal_column,
    not_,
    select,
    table,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.expression import TableClause

from mercato.catalog.models import ListedProductRow, Product
from mercato.catalog.name_words import SINGLE_WORD_KEYS, page_keys, single_word
from mercato.catalog.search import PG_CONFIG, fts5_expression, text_search, tsquery_expression
from mercato.catalog.search_innodb import boolean_expression
from mercato.catalog.search_terms import Clause
from mercato.catalog.store import Listing, filter_condition, searched
from mercato.chassis.data.driver_reads import DirectQuery, DirectReader

__all__ = [
    "NAMED",
    "NAMED_DOCUMENT",
    "NAMED_FTS_TABLE",
    "OTHERS",
    "TIERS",
    "Tier",
    "TierParameters",
    "read_tier",
    "tier_parameters",
]

Tier = int
NAMED: Tier = 0  # every word in the name or the brand
OTHERS: Tier = 1  # the other matches
TIERS: tuple[Tier, ...] = (NAMED, OTHERS)
TierParameters = tuple[dict[str, str], ...]  # by tier

# PostgreSQL's document of a product's name and brand, as migration 0009 indexes it
# (the query must say it exactly so for the index to answer).
NAMED_DOCUMENT = (
    f"to_tsvector('{PG_CONFIG}', coalesce(title, '')) "
    f"|| to_tsvector('{PG_CONFIG}', coalesce(brand, ''))"
)
_FTS5_NAMED_COLUMNS = "{title brand}"
_PRODUCTS = cast(Table, Product.__table__)
# SQLite's table of the products' names and brands alone (migration 0010).
NAMED_FTS_TABLE: TableClause = table("products_named_fts", column("rowid"))
_NAMED_KEY: ColumnElement[int] = NAMED_FTS_TABLE.c.rowid
_NAMED_FTS_MATCH: ColumnElement[bool] = literal_column(NAMED_FTS_TABLE.name).op("MATCH")(
    bindparam("named", type_=String())
)


def tier_parameters(dialect: str, clauses: Sequence[Clause]) -> TierParameters | None:
    """The values of the statement of each tier of a search for `clauses`, in tier order.

    None when `clauses` are no search (no positive clause).
    """
    positive = [c for c in clauses if not c.negated]
    if dialect in ("postgresql", "mysql"):
        express = tsquery_expression if dialect == "postgresql" else boolean_expression
        search, named = express(clauses), express(positive)
        if search is None or named is None:
            return None
        # PostgreSQL's first tier reads the name-and-brand index alone when nothing
        # is excluded (the whole search adds a check of every match); one word, the
        # names' words in key order (`catalog.name_words`) when nothing filters.
        alone = dialect == "postgresql" and search == named
        first = {"named": named, **({} if alone else {"search": search})}
        if alone:
            first.update(single_word(clauses) or {})
        return first, {"search": search, "named": named}
    search = fts5_expression(clauses)
    named = fts5_expression(positive, columns=_FTS5_NAMED_COLUMNS)
    if search is None or named is None:
        return None
    # The first tier reads the names' own table, unless a word is excluded: that one
    # excludes wherever it is, which only `products_fts` knows.
    if len(positive) == len(clauses):
        first = {"named": cast(str, fts5_expression(positive))}
    else:
        first = {"search": cast(str, fts5_expression(clauses, columns=_FTS5_NAMED_COLUMNS))}
    return first, {"search": f"({search}) NOT {named}"}


def _named(dialect: str) -> ColumnElement[bool]:
    """The `named` parameter's words in the product's name or brand."""
    terms = bindparam("named", type_=String())
    if dialect == "mysql":
        columns = _PRODUCTS.c
        return mysql.match(columns.title, columns.brand, against=terms).in_boolean_mode()
    return literal_column(f"({NAMED_DOCUMENT})").op("@@")(
        func.to_tsquery(literal_column(f"'{PG_CONFIG}'::regconfig"), terms)
    )


def _matching(
    dialect: str, statement: Select[Any], tier: Tier, names: frozenset[str]
) -> Select[Any]:
    """`statement` limited to the products of `tier` for the parameters `names`."""
    if dialect == "sqlite":
        if "named" in names:
            statement = statement.join(NAMED_FTS_TABLE, _PRODUCTS.c.pk == _NAMED_KEY)
            return statement.where(_NAMED_FTS_MATCH)
        return searched(statement, dialect)  # the tier is in the FTS5 expression
    if tier == NAMED:
        statement = statement.where(_named(dialect))
        return searched(statement, dialect) if "search" in names else statement
    statement = searched(statement, dialect)
    if dialect == "postgresql":
        # The named products' keys from their own index: restricting the `search`
        # column's words to its weight `A` instead rechecks every match (3-5x slower).
        named = _PRODUCTS.alias("named")
        return statement.where(_PRODUCTS.c.pk.not_in(select(named.c.pk).where(_named(dialect))))
    return statement.where(not_(_named(dialect)))


@functools.lru_cache(maxsize=256)
def _tier_query(
    dialect: str, filters: frozenset[str], after: bool, tier: Tier, names: frozenset[str]
) -> DirectQuery[ListedProductRow]:
    """A tier's page: its products, the most recently added first, after `after_key`.

    Ordered by the products' integer key alone (it is unique): the FTS5 table's
    rowid on SQLite, which it gives its matches in.
    """
    key = _NAMED_KEY if dialect == "sqlite" and "named" in names else text_search(dialect).key
    conditions = [filter_condition(dialect, name) for name in sorted(filters)]
    if after:
        conditions.append(key < bindparam("after_key"))
    if dialect != "postgresql":
        statement = _matching(dialect, select(_PRODUCTS, key.label("sort_key")), tier, names)
        statement = statement.where(*conditions).order_by(key.desc())
        return DirectQuery(statement.limit(bindparam("limit")), ListedProductRow)
    # The names' words know no filter (`catalog.name_words`).
    one_word = names & SINGLE_WORD_KEYS if tier == NAMED and not filters else None
    if one_word:
        page = page_keys(next(iter(one_word)), after=after).subquery("page")
    else:
        keys = _matching(dialect, select(key), tier, names).where(*conditions)
        matching = keys.cte("matching").prefix_with("MATERIALIZED")
        page = (
            select(matching.c.pk)
            .order_by(matching.c.pk.desc())
            .limit(bindparam("limit"))
            .subquery("page")
        )
    statement = select(_PRODUCTS, key.label("sort_key")).join(page, page.c.pk == key)
    return DirectQuery(statement.order_by(key.desc()), ListedProductRow)


async def read_tier(
    reader: DirectReader,
    listing: Listing,
    tier: Tier,
    values: Mapping[str, str],
    *,
    first_page: bool,
) -> list[ListedProductRow]:
    """Up to `limit + 1` products of `tier` of the search `values`, after `listing.after`.

    `listing.after`, if any, is the key of the last product read in this tier;
    `first_page`: whether this read belongs to a search's first page.
    """
    filters = listing.filters()
    query = _tier_query(
        reader.dialect.name, frozenset(filters), listing.after is not None, tier, frozenset(values)
    )
    params: dict[str, Any] = {**filters, **values, "limit": listing.limit + 1}
    params.pop("in_stock", None)
    if listing.after is not None:
        params["after_key"] = listing.after[0]
    if not filters and (tier == NAMED or first_page):
        # Then SQLite's page is the first rows FTS5 gives (on a first page, the first
        # tier held fewer than a page: the second passes over no more): a read of a
        # few rows, in the loop. With a filter it may pass over many matches first
        # (`laptop` in another category), and the second tier of a later page over
        # all the first's: off the loop (`all_long`).
        return await reader.all(query, **params)
    return await reader.all_long(query, **params)
