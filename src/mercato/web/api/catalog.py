"""Calls to the catalog: products (a listing, a search, one product) and the categories.

Every read here is public: the catalog answers a visitor and a customer alike, so the
pages call these with a visitor's caller (no token) and may cache the answers
(`public_reads`). A listing asked for with `facets=True` carries `total` and `facets`
(brand, price band, in stock) and, when a typo in `q` was corrected, `corrected`;
a catalog that does not count facets yet answers without them (`None`), and the
pages then show the results without the filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller
from mercato.web.money import Money

__all__ = [
    "SORTS",
    "BrandCount",
    "Category",
    "Facets",
    "Listing",
    "PriceBand",
    "Product",
    "ProductList",
    "Sort",
    "categories",
    "product",
    "products",
]

Sort = Literal["relevance", "newest", "price_asc", "price_desc", "title"]
SORTS: tuple[Sort, ...] = ("relevance", "newest", "price_asc", "price_desc", "title")


class Product(BaseModel):
    """A product as the pages show it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    sku: str
    title: str
    brand: str | None = None
    description: str = ""
    price: Money
    category: str | None = None
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = {}
    images: tuple[str, ...] = ()
    thumbnail: str | None = None
    stock: int = 0
    rating: float | None = None


class BrandCount(BaseModel):
    """A brand and how many matching products it has."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    value: str
    count: int


class PriceBand(BaseModel):
    """A price band [min, max) in minor units (`max` None: no bound) and its count."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    min: int
    max: int | None
    count: int


class Facets(BaseModel):
    """Counts of the matching products by brand, price band and stock."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    brand: tuple[BrandCount, ...] = ()
    price: tuple[PriceBand, ...] = ()
    in_stock: int = 0


class ProductList(BaseModel):
    """One page of products; with facets asked for, the total and the counts too."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Product, ...] = ()
    next_cursor: str | None = None
    total: int | None = None
    facets: Facets | None = None
    corrected: str | None = None


class Category(BaseModel):
    """A category: its slug (in paths), name and number of products."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    slug: str
    name: str
    product_count: int = 0


@dataclass(frozen=True, slots=True)
class Listing:
    """What a listing asks the catalog for: search words, filters, order and page."""

    q: str | None = None
    category: str | None = None
    brand: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False
    sort: Sort | None = None
    limit: int = 20
    cursor: str | None = None
    facets: bool = False

    def params(self) -> dict[str, str | int]:
        """The query string's parameters (those set)."""
        values: dict[str, str | int | None] = {
            "q": self.q,
            "category": self.category,
            "brand": self.brand,
            "min_price": self.min_price,
            "max_price": self.max_price,
            "in_stock": "true" if self.in_stock else None,
            "sort": self.sort,
            "limit": self.limit,
            "cursor": self.cursor,
            "facets": "true" if self.facets else None,
        }
        return {name: value for name, value in values.items() if value is not None}


async def products(caller: Caller, listing: Listing) -> ProductList:
    """One page of the products `listing` asks for (422: a bad filter or cursor)."""
    body = await caller.call("catalog", "GET", "/api/catalog/products", params=listing.params())
    return ProductList.model_validate(body)


async def product(caller: Caller, product_id: str) -> Product:
    """One product (404: none)."""
    path = f"/api/catalog/products/{quote(product_id, safe='')}"
    return Product.model_validate(await caller.call("catalog", "GET", path))


async def categories(caller: Caller) -> tuple[Category, ...]:
    """Every category, with its number of products."""
    body = await caller.call("catalog", "GET", "/api/catalog/categories")
    return tuple(Category.model_validate(item) for item in body.get("items", ()))
