"""Queries of the catalog (the repository): functions taking an `AsyncSession`.

Writes start with the chassis's `begin_write`. On SQLite that issues `BEGIN IMMEDIATE`, which
takes the database's write lock before the first read, so that the reads of a
read-modify-write belong to the same transaction as its writes and a replica that
shares the file waits for the lock (see `sqlite_driver`) instead of failing half-way with
"database is locked". On PostgreSQL, row locks and unique constraints suffice, and
bulk imports lock the products table against each other (`lock_products`). On MySQL
likewise, except that a table lock there would commit the transaction: bulk imports
lock the one row of the catalog's migration version table instead.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    column,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.models import (
    Category,
    CategoryRow,
    ListedProductRow,
    PkRow,
    Product,
    ProductRow,
)
from mercato.catalog.search import FTS_TABLE, fts_join_condition, text_search
from mercato.chassis.data.driver_reads import DirectQuery, DirectReader

__all__ = [
    "AVAILABLE",
    "SORTS",
    "Listing",
    "Sort",
    "categories",
    "count_products",
    "dialect",
    "existing_categories",
    "filter_condition",
    "get_category",
    "get_product",
    "get_product_by_sku",
    "list_products",
    "lock_products",
    "matches_anything",
    "products_by_sku",
    "read_product",
    "searched",
]

Sort = Literal["relevance", "newest", "price_asc", "price_desc", "title"]
SORTS: tuple[Sort, ...] = ("relevance", "newest", "price_asc", "price_desc", "title")
_CHUNK = 500


def dialect(session: AsyncSession) -> str:
    """The session's database dialect name (`sqlite`, `postgresql`, `mysql`)."""
    return session.get_bind().dialect.name


async def lock_products(session: AsyncSession) -> None:
    """Keep other bulk writers of the products table out until this transaction ends."""
    if dialect(session) == "postgresql":
        await session.execute(text("LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE"))
    elif dialect(session) == "mysql":
        await session.execute(text("SELECT version_num FROM alembic_version_catalog FOR UPDATE"))


# Built once, so their cache keys are too: a statement built per call is hashed per
# call, a noticeable part of a product read.
_PRODUCT = select(Product).where(Product.id == bindparam("product_id"))
_PRODUCT_FOR_UPDATE = _PRODUCT.with_for_update().execution_options(populate_existing=True)
_PRODUCT_ROW = DirectQuery(
    select(Product.__table__).where(Product.__table__.c.id == bindparam("product_id")),
    ProductRow,
)


async def read_product(reader: DirectReader, product_id: str) -> ProductRow | None:
    """The product with this id as a plain row (a direct read, for showing), or None."""
    return await reader.one(_PRODUCT_ROW, product_id=product_id)


async def get_product(
    session: AsyncSession, product_id: str, *, for_update: bool = False
) -> Product | None:
    """The product with this id, or None; `for_update` locks its row and rereads it."""
    statement = _PRODUCT_FOR_UPDATE if for_update else _PRODUCT
    result = await session.execute(statement, {"product_id": product_id})
    return result.scalar_one_or_none()


async def get_product_by_sku(session: AsyncSession, sku: str) -> Product | None:
    """The product with this SKU, or None."""
    result = await session.execute(select(Product).where(Product.sku == sku))
    return result.scalar_one_or_none()


async def products_by_sku(session: AsyncSession, skus: Collection[str]) -> dict[str, Product]:
    """The existing products among `skus`, by SKU."""
    wanted = list(skus)
    found: dict[str, Product] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        result = await session.execute(select(Product).where(Product.sku.in_(chunk)))
        found.update((p.sku, p) for p in result.scalars())
    return found


async def count_products(session: AsyncSession) -> int:
    """How many products there are."""
    result = await session.execute(select(func.count()).select_from(Product))
    return int(result.scalar_one())


async def get_category(session: AsyncSession, slug: str) -> Category | None:
    """The category with this slug, or None."""
    return await session.get(Category, slug)


async def existing_categories(session: AsyncSession, slugs: Collection[str]) -> set[str]:
    """The slugs among `slugs` that exist."""
    if not slugs:
        return set()
    result = await session.execute(select(Category.slug).where(Category.slug.in_(list(slugs))))
    return set(result.scalars())


_CATEGORIES = cast(Table, Category.__table__)
_CATEGORY_COUNTS = DirectQuery(
    select(
        _CATEGORIES.c.slug,
        _CATEGORIES.c.name,
        func.count(Product.__table__.c.pk).label("product_count"),
    )
    .select_from(
        _CATEGORIES.outerjoin(Product.__table__, Product.__table__.c.category == _CATEGORIES.c.slug)
    )
    .group_by(_CATEGORIES.c.slug)
    .order_by(_CATEGORIES.c.slug),
    CategoryRow,
)


async def categories(reader: DirectReader) -> list[CategoryRow]:
    """Every category, by slug, with the number of its products (a direct read)."""
    return await reader.all(_CATEGORY_COUNTS)


@dataclass(frozen=True, slots=True)
class Listing:
    """A product query: filters, order and the keyset position to continue after."""

    sort: Sort
    limit: int
    search: str | None = None  # the backend's expression (`catalog.search.expression`)
    category: str | None = None
    brand: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    ids: tuple[str, ...] | None = None
    in_stock: bool = False
    after: tuple[Any, str] | None = None

    def filters(self) -> dict[str, Any]:
        """The values of its filters that are set, by name; `in_stock` has no value."""
        values: dict[str, Any] = {
            "ids": list(self.ids) if self.ids is not None else None,
            "category": self.category,
            "brand": self.brand.lower() if self.brand is not None else None,
            "min_price": self.min_price,
            "max_price": self.max_price,
            "in_stock": True if self.in_stock else None,
        }
        return {name: value for name, value in values.items() if value is not None}


# Listings are Core statements on the table, never touching a mapped attribute: one
# would make the whole statement an ORM query, whose result handling costs a tenth
# of a search even when it returns plain rows.
_PRODUCTS = cast(Table, Product.__table__)
_COLUMNS = _PRODUCTS.c


# The filters a listing may have, each reading the parameter of its name. The ids
# are one parameter holding a list (an array on PostgreSQL, JSON on SQLite), not an
# expanding IN whose SQL changes with their number: a listing is a direct read,
# compiled once per shape.
AVAILABLE: ColumnElement[bool] = _COLUMNS.on_hand > _COLUMNS.reserved
_FILTERS: dict[str, ColumnElement[bool]] = {
    "category": _COLUMNS.category == bindparam("category"),
    "brand": func.lower(_COLUMNS.brand) == bindparam("brand"),
    "min_price": _COLUMNS.price_amount >= bindparam("min_price"),
    "max_price": _COLUMNS.price_amount <= bindparam("max_price"),
    "in_stock": AVAILABLE,
}


# MySQL's table of a JSON array's strings (MariaDB 10.6+).
_MYSQL_IDS = (
    text("SELECT value FROM JSON_TABLE(:ids, '$[*]' COLUMNS (value VARCHAR(64) PATH '$')) AS ids")
    .bindparams(bindparam("ids", type_=JSON()))
    .columns(column("value", String()))
)


def _ids_filter(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return _COLUMNS.id == any_(bindparam("ids", type_=ARRAY(String())))
    if dialect == "mysql":
        return _COLUMNS.id.in_(_MYSQL_IDS.scalar_subquery())
    listed = select(column("value", String())).select_from(
        func.json_each(bindparam("ids", type_=JSON()))
    )
    return _COLUMNS.id.in_(listed.scalar_subquery())


def filter_condition(dialect: str, name: str) -> ColumnElement[bool]:
    """The condition of the filter `name`, reading the parameter of that name."""
    return _ids_filter(dialect) if name == "ids" else _FILTERS[name]


def searched(statement: Select[Any], dialect: str) -> Select[Any]:
    """`statement` on the products limited to those matching the `search` parameter."""
    search = text_search(dialect)
    if search.join_fts:
        statement = statement.join(FTS_TABLE, fts_join_condition())
    return statement.where(search.condition)


@functools.lru_cache(maxsize=256)
def _listing_query(
    dialect: str, sort: Sort, searching: bool, filters: frozenset[str], after: bool
) -> DirectQuery[ListedProductRow]:
    """The query of one shape of listing, its values left as parameters.

    A shape is the order plus which filters are present: a few hundred at most, so
    each is built and compiled once instead of on every request (a fifth of a
    search's CPU went into building the statement and its cache key).
    """
    search = text_search(dialect) if searching else None
    key: ColumnElement[Any]
    descending = sort in ("newest", "price_desc")
    if sort in ("price_asc", "price_desc"):
        key = _COLUMNS.price_amount
    elif sort == "title":
        key = _COLUMNS.title
    else:
        key, descending = _COLUMNS.created_at, True
    statement: Select[Any] = select(_PRODUCTS, key.label("sort_key")).where(
        *(filter_condition(dialect, name) for name in sorted(filters))
    )
    if search is not None:
        statement = searched(statement, dialect)
    if after:
        statement = statement.where(_beyond(dialect, key, descending=descending))
    statement = _ordered(statement, key, _COLUMNS.id, descending=descending)
    return DirectQuery(statement.limit(bindparam("limit")), ListedProductRow)


def _beyond(dialect: str, key: ColumnElement[Any], *, descending: bool) -> ColumnElement[bool]:
    """The rows after the cursor's (`after_key`, `after_id`) in the order `key, id`.

    PostgreSQL and SQLite read the row value `(key, id) < (:key, :id)` as a range of
    the order's index. MariaDB does not: it reads the category's rows from the top and
    filters them, so a page read every row before it (222 index rows for the 11th
    page of 20, 1,000 for the 50th). Spelled out as `key < :key OR (key = :key AND
    id < :id)`, it is a range there too (21 rows for any page).
    """
    last_key = bindparam("after_key", type_=key.type)
    last_id: BindParameter[Any] = bindparam("after_id")
    if dialect != "mysql":
        position, last = tuple_(key, _COLUMNS.id), tuple_(last_key, last_id)
        return position < last if descending else position > last
    if descending:
        return or_(key < last_key, and_(key == last_key, _COLUMNS.id < last_id))
    return or_(key > last_key, and_(key == last_key, _COLUMNS.id > last_id))


def _ordered(
    statement: Select[Any], key: ColumnElement[Any], tie: ColumnElement[Any], *, descending: bool
) -> Select[Any]:
    if descending:
        return statement.order_by(key.desc(), tie.desc())
    return statement.order_by(key.asc(), tie.asc())


async def list_products(reader: DirectReader, listing: Listing) -> list[ListedProductRow]:
    """Up to `limit + 1` product rows in order, each with its `sort_key` value.

    A direct read giving plain rows, not ORM entities: a page is only shown, and a
    search is the catalog's busiest work (the session, its result machinery and
    twenty entities in its identity map cost more than the query).
    """
    if listing.sort == "relevance" and listing.search is not None:
        raise ValueError("a search by relevance is read by tiers (catalog.ranking)")
    params = listing.filters()
    query = _listing_query(
        reader.dialect.name,
        listing.sort,
        listing.search is not None,
        frozenset(params),
        listing.after is not None,
    )
    params.pop("in_stock", None)
    params["limit"] = listing.limit + 1
    if listing.after is not None:
        params["after_key"], params["after_id"] = listing.after
    if listing.search is None:
        return await reader.all(query, **params)
    params["search"] = listing.search  # ordered by other than relevance: every match
    return await reader.all_long(query, **params)  # read, milliseconds: off the loop


def _probe(dialect: str) -> DirectQuery[PkRow]:
    matching = searched(select(_COLUMNS.pk), dialect)
    if dialect == "postgresql":
        # Planned apart from its LIMIT (a materialized CTE), so that PostgreSQL reads
        # the GIN index: for a word it expects to be rare, with a LIMIT 1 it would scan
        # the whole table hoping to meet a match early (110 ms at 100,000 products).
        every = matching.cte("matching").prefix_with("MATERIALIZED")
        return DirectQuery(select(every.c.pk).limit(1), PkRow)
    return DirectQuery(matching.limit(1), PkRow)


_PROBES = {dialect: _probe(dialect) for dialect in ("sqlite", "postgresql", "mysql")}


async def matches_anything(reader: DirectReader, search: str) -> bool:
    """Whether any product matches the search expression `search`."""
    return await reader.one(_PROBES[reader.dialect.name], search=search) is not None
