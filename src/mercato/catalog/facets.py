"""Facet counts of a product listing: brands, price bands, stock, and the total.

Counted for the current query and every filter, except that each facet ignores its
own filter, the usual faceting rule: the brand counts ignore `brand` and the price
counts ignore `min_price`/`max_price`, so a shopper sees the alternatives to what
they chose; `in_stock` counts the products that match every filter and have stock
(what `in_stock=true` would keep); `total` counts those matching every filter.

One statement reads them all in one pass over the matching products: grouped by
brand and price band, each group counts its products under each combination of
filters (`FILTER (WHERE ...)` on both backends), and the groups are summed here. Like
a listing, the statement is built once per shape (search or not, which filters).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypedDict, cast

from sqlalchemy import ColumnElement, Table, and_, case, func, select

from mercato.catalog.models import FacetRow, Product
from mercato.catalog.store import AVAILABLE, Listing, filter_condition, searched
from mercato.chassis.data.driver_reads import DirectQuery, DirectReader

__all__ = ["BRANDS", "PRICE_BANDS", "BrandCount", "Facets", "PriceCount", "count_facets"]

# [min, max) in minor units; the last band has no upper bound.
PRICE_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 2500),
    (2500, 5000),
    (5000, 10000),
    (10000, 25000),
    (25000, 50000),
    (50000, None),
)
BRANDS = 20  # the most frequent brands shown
_PRODUCTS = cast(Table, Product.__table__)
_PRICE = _PRODUCTS.c.price_amount
_BAND = case(
    *((top > _PRICE, band) for band, (_, top) in enumerate(PRICE_BANDS) if top is not None),
    else_=len(PRICE_BANDS) - 1,
)
_OWN = {"brand": ("brand",), "price": ("min_price", "max_price"), "stock": ("in_stock",)}


class BrandCount(TypedDict):
    """How many products of a brand match."""

    value: str
    count: int


class PriceCount(TypedDict):
    """How many products match in a price band [min, max)."""

    min: int
    max: int | None
    count: int


class Facets(TypedDict):
    """The facet counts of a listing, in the answer's shape."""

    brand: list[BrandCount]
    price: list[PriceCount]
    in_stock: int


def _count(dialect: str, conditions: Sequence[ColumnElement[bool]]) -> Any:
    if not conditions:
        return func.count()
    if dialect == "mysql":  # no FILTER clause: count the rows the CASE leaves non-null
        return func.count(case((and_(*conditions), 1)))
    return func.count().filter(and_(*conditions))


@functools.lru_cache(maxsize=128)
def _facet_query(dialect: str, searching: bool, filters: frozenset[str]) -> DirectQuery[FacetRow]:
    """The facet statement of one shape of listing, its values left as parameters."""
    everywhere = [filter_condition(dialect, f) for f in sorted(filters) if f in ("category", "ids")]
    own = {
        facet: [filter_condition(dialect, f) for f in names if f in filters]
        for facet, names in _OWN.items()
    }
    brand, price, stock = own["brand"], own["price"], own["stock"]
    statement = (
        select(
            _PRODUCTS.c.brand,
            _BAND.label("band"),
            _count(dialect, [*brand, *price, *stock]).label("matched"),
            _count(dialect, [*brand, *price, AVAILABLE]).label("available"),
            _count(dialect, [*price, *stock]).label("brand_facet"),
            _count(dialect, [*brand, *stock]).label("price_facet"),
        )
        .where(*everywhere)
        .group_by(_PRODUCTS.c.brand, _BAND)
    )
    if searching:
        statement = searched(statement, dialect)
    return DirectQuery(statement, FacetRow)


def facets_of(rows: Sequence[FacetRow]) -> tuple[int, Facets]:
    """The total and the facets that the groups `rows` add up to."""
    brands: dict[str, int] = {}
    bands = [0] * len(PRICE_BANDS)
    total = available = 0
    for row in rows:
        total += row["matched"]
        available += row["available"]
        bands[row["band"]] += row["price_facet"]
        if row["brand"] is not None and row["brand_facet"]:
            brands[row["brand"]] = brands.get(row["brand"], 0) + row["brand_facet"]
    top = sorted(brands.items(), key=lambda item: (-item[1], item[0]))[:BRANDS]
    return total, Facets(
        brand=[BrandCount(value=value, count=count) for value, count in top],
        price=[
            PriceCount(min=low, max=high, count=count)
            for (low, high), count in zip(PRICE_BANDS, bands, strict=True)
        ],
        in_stock=available,
    )


async def count_facets(reader: DirectReader, listing: Listing) -> tuple[int, Facets]:
    """The total of `listing` (whatever its page) and its facet counts."""
    params = listing.filters()
    query = _facet_query(reader.dialect.name, listing.search is not None, frozenset(params))
    params.pop("in_stock", None)
    if listing.search is not None:
        params["search"] = listing.search
    return facets_of(await reader.all_long(query, **params))  # reads every match
