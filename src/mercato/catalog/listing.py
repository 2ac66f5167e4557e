"""Listing products: query parameters, sort orders and keyset cursors.

A cursor is the sort order's name, the last item's sort key and its id, so the next
page continues exactly after that item whatever was inserted meanwhile, and items
with equal keys (same price, same instant) are neither repeated nor skipped. A
cursor only continues the order it was made for. Relevance reads its tiers in turn
(`catalog.ranking`); its key is the tier and the product's integer key.

`ids=a,b,c` is a batch lookup (a cart's products): at most `MAX_IDS` ids, the other
filters still apply, unknown ids are simply absent, and the page size defaults to
`MAX_IDS` so that one page holds them all.

A search runs as typed first (its last word a prefix, `catalog.search`); only when
it finds nothing does the vocabulary help (`catalog.vocabulary.resolve`: a prefix
the stemmer cut is completed, a typo corrected) and the search runs again, the
answer then saying what it searched for instead (`corrected`). So a search that
finds something costs one statement, and `facets=true` one more (`catalog.facets`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.catalog import store
from mercato.catalog.facets import Facets, count_facets
from mercato.catalog.models import ListedProductRow
from mercato.catalog.ranking import TIERS, read_tier, tier_parameters
from mercato.catalog.search import Clause, expression, has_terms, parse
from mercato.catalog.store import Listing, Sort
from mercato.catalog.vocabulary import resolve
from mercato.chassis.data.driver_reads import DirectReader
from mercato.chassis.web.errors import Unprocessable, field_error
from mercato.chassis.web.paging import Page, cursor_moment, decode_cursor, page_of
from mercato.contracts.money import MAX_AMOUNT

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_IDS",
    "ProductQuery",
    "SearchAnswer",
    "cacheable",
    "corrected_query",
    "list_products",
    "parse_ids",
]

DEFAULT_LIMIT = 20
MAX_IDS = 100
MAX_KEY = 2**63 - 1  # a product's integer key is a 64-bit column


class ProductQuery(BaseModel):
    """The query parameters of `GET /products`, validated (each field one parameter)."""

    model_config = ConfigDict(frozen=True)

    q: str | None = Field(None, max_length=200, description="Search words.")
    category: str | None = Field(None, max_length=64, description="A category's slug.")
    brand: str | None = Field(None, max_length=100, description="A brand, exactly.")
    min_price: int | None = Field(None, ge=0, le=MAX_AMOUNT, description="Minor units.")
    max_price: int | None = Field(None, ge=0, le=MAX_AMOUNT, description="Minor units.")
    sort: Sort | None = Field(None, description="Default: relevance with q.")
    limit: int | None = Field(None, ge=1, le=100, description="Default 20 (100 with ids).")
    cursor: str | None = Field(
        None,
        max_length=2000,
        description="The `next_cursor` of the previous page; omit it for the first.",
    )
    ids: str | None = Field(None, max_length=4000, description="Comma-separated ids (at most 100).")
    in_stock: bool = Field(
        False, description="`true`: only products with stock (available to sell) > 0."
    )
    facets: bool = Field(False, description="`true`: the answer also carries `total` and `facets`.")


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(
        f"Invalid {field}: {message}.", errors=[field_error(field, message, location="query")]
    )


def parse_ids(raw: str | None) -> tuple[str, ...] | None:
    """The distinct ids of a comma-separated list, in order; 422 beyond `MAX_IDS`."""
    if raw is None:
        return None
    ids = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if len(ids) > MAX_IDS:
        raise _invalid("ids", f"at most {MAX_IDS} ids")
    return ids


def effective_sort(query: ProductQuery, *, searching: bool) -> Sort:
    """The order asked for, or relevance with a search and newest without one."""
    if query.sort is None or (query.sort == "relevance" and not searching):
        return "relevance" if searching else "newest"
    return query.sort


def _key_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _key_value(sort: Sort, raw: Any) -> Any:
    """The sort key a cursor holds, checked against its order's type."""
    if sort == "newest":
        return cursor_moment(raw)
    if (sort in ("price_asc", "price_desc") and type(raw) is int and 0 <= raw <= MAX_AMOUNT) or (
        sort == "title" and isinstance(raw, str)
    ):
        return raw
    if sort == "relevance" and _is_tier_key(raw):
        return (raw[0], raw[1])
    raise _invalid("cursor", "not a valid cursor")


def _is_tier_key(raw: Any) -> bool:
    """Whether `raw` is a relevance key: a tier and a product's integer key."""
    return (
        isinstance(raw, list)
        and len(raw) == 2
        and all(type(part) is int for part in raw)
        and raw[0] in TIERS
        and 0 <= raw[1] <= MAX_KEY
    )


def _after(sort: Sort, cursor: str | None) -> tuple[Any, str] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 3 or not isinstance(key[2], str):
        raise _invalid("cursor", "not a valid cursor")
    if key[0] != sort:
        raise _invalid("cursor", f"made for sort={key[0]}, not sort={sort}")
    return _key_value(sort, key[1]), key[2]


def cacheable(query: ProductQuery) -> bool:
    """Whether an answer to `query` may come from the search cache (`catalog.search_cache`).

    Searches and facet counts, whose work grows with the catalog; never a batch
    lookup by ids, which prices a cart.
    """
    return query.ids is None and (query.facets or has_terms(query.q))


@dataclass(frozen=True, slots=True)
class SearchAnswer:
    """A page of products, with its total and facets when asked for, and any correction."""

    page: Page[ListedProductRow]
    total: int | None = None
    facets: Facets | None = None
    corrected: str | None = None


def corrected_query(q: str, corrections: dict[str, str]) -> str:
    """`q` with each corrected word (as lower-cased by the search) replaced."""
    for typo, word in corrections.items():
        # A vocabulary word is letters and digits: nothing `sub` would read as a group.
        q = re.sub(rf"(?<!\w){re.escape(typo)}(?!\w)", word, q, flags=re.IGNORECASE)
    return q


def _listing(query: ProductQuery, clauses: list[Clause], dialect: str, sort: Sort) -> Listing:
    ids = parse_ids(query.ids)
    return Listing(
        sort=sort,
        limit=query.limit or (MAX_IDS if ids is not None else DEFAULT_LIMIT),
        search=expression(dialect, clauses),
        category=query.category,
        brand=query.brand,
        min_price=query.min_price,
        max_price=query.max_price,
        ids=ids,
        in_stock=query.in_stock,
        after=_after(sort, query.cursor),
    )


async def _rows(
    reader: DirectReader, listing: Listing, clauses: list[Clause]
) -> list[ListedProductRow]:
    """Up to `limit + 1` rows of `listing`; by relevance, its tiers in turn."""
    tiers = tier_parameters(reader.dialect.name, clauses)
    if listing.sort != "relevance" or tiers is None:
        return await store.list_products(reader, listing)
    wanted = listing.limit + 1
    first, after = TIERS[0], None
    if listing.after is not None:
        (first, last_key), last_id = listing.after
        after = (last_key, last_id)
    rows: list[ListedProductRow] = []
    for tier in TIERS[TIERS.index(first) :]:
        part = replace(
            listing, limit=wanted - len(rows) - 1, after=after if tier == first else None
        )
        found = await read_tier(reader, part, tier, tiers[tier], first_page=listing.after is None)
        for row in found:
            row["sort_key"] = [tier, row["sort_key"]]
        rows += found
        if len(rows) == wanted:
            break
    return rows


async def list_products(reader: DirectReader, *, query: ProductQuery) -> SearchAnswer:
    """One page of products matching `query`; 422 naming a bad parameter."""
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise _invalid("min_price", "must not be greater than max_price")
    dialect = reader.dialect.name
    clauses = parse(query.q or "")
    sort = effective_sort(query, searching=expression(dialect, clauses) is not None)
    listing = _listing(query, clauses, dialect, sort)
    rows = await _rows(reader, listing, clauses)
    corrected = None
    if listing.search is not None and not rows:
        resolved = await resolve(reader, clauses)
        if resolved.clauses != clauses:
            listing = _listing(query, resolved.clauses, dialect, sort)
            rows = await _rows(reader, listing, resolved.clauses)
        if resolved.corrections:
            corrected = corrected_query(query.q or "", resolved.corrections)
    page = page_of(
        rows, listing.limit, lambda last: [sort, _key_json(last["sort_key"]), last["id"]]
    )
    if not query.facets:
        return SearchAnswer(page, corrected=corrected)
    total, facets = await count_facets(reader, listing)
    return SearchAnswer(page, total, facets, corrected)
