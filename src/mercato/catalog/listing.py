"""Listing products: query parameters, sort orders and keyset cursors.

A cursor is the sort order's name, the last item's sort key and its id, so the next
page continues exactly after that item whatever was inserted meanwhile, and items
with equal keys (same price, same instant) are neither repeated nor skipped. A
cursor only continues the order it was made for. (Relevance is the exception to
exactness: a search's scores shift a little when products change between pages.)

`ids=a,b,c` is a batch lookup (a cart's products): at most `MAX_IDS` ids, the other
filters still apply, unknown ids are simply absent, and the page size defaults to
`MAX_IDS` so that one page holds them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.catalog import store
from mercato.catalog.models import ListedProductRow
from mercato.catalog.search import has_terms
from mercato.catalog.store import Listing, Sort
from mercato.chassis.data.driver_reads import DirectReader
from mercato.chassis.web.errors import Unprocessable, field_error
from mercato.chassis.web.paging import Page, cursor_moment, decode_cursor, page_of
from mercato.contracts.money import MAX_AMOUNT

__all__ = ["DEFAULT_LIMIT", "MAX_IDS", "ProductQuery", "list_products", "parse_ids"]

DEFAULT_LIMIT = 20
MAX_IDS = 100


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
    if sort == "relevance" and type(raw) in (int, float):
        return float(raw)
    raise _invalid("cursor", "not a valid cursor")


def _after(sort: Sort, cursor: str | None) -> tuple[Any, str] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 3 or not isinstance(key[2], str):
        raise _invalid("cursor", "not a valid cursor")
    if key[0] != sort:
        raise _invalid("cursor", f"made for sort={key[0]}, not sort={sort}")
    return _key_value(sort, key[1]), key[2]


async def list_products(reader: DirectReader, *, query: ProductQuery) -> Page[ListedProductRow]:
    """One page of products matching `query`; 422 naming a bad parameter."""
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise _invalid("min_price", "must not be greater than max_price")
    searching = has_terms(query.q)
    sort = effective_sort(query, searching=searching)
    ids = parse_ids(query.ids)
    limit = query.limit or (MAX_IDS if ids is not None else DEFAULT_LIMIT)
    listing = Listing(
        sort=sort,
        limit=limit,
        q=query.q if searching else None,
        category=query.category,
        brand=query.brand,
        min_price=query.min_price,
        max_price=query.max_price,
        ids=ids,
        after=_after(sort, query.cursor),
    )
    rows = await store.list_products(reader, listing)
    return page_of(rows, limit, lambda last: [sort, _key_json(last["sort_key"]), last["id"]])
