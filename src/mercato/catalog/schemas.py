"""The catalog's API shapes (Pydantic), apart from its tables.

`ProductIn` is what an administrator sends to create or replace a product and
`ProductPatch` a partial change; `ProductOut` documents what clients receive, which
the hot read paths build directly with `product_body` (no model round trip). A
product's `stock` is what can still be bought (on hand minus reserved); writing
`stock` sets what is on hand. The restock's shape is at the end.

The shapes the orders service relies on are its contracts with the catalog and are
defined there, re-exported here: a product read and its price
(`mercato.contracts.products`) and the checkout's reservations
(`mercato.contracts.inventory`). The bodies of stored things (`product_body`,
`category_body`, `reservation_body`) are plain dicts in their `...Out` shape, which
routes encode with orjson.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from mercato.catalog.models import (
    CategoryRow,
    Product,
    ProductRow,
    Reservation,
    ReservationItem,
)
from mercato.chassis.data.driver_reads import row_of
from mercato.chassis.web.json_body import WholeNumber
from mercato.contracts.inventory import (
    ReleaseIn,
    ReservationIn,
    ReservationItemIn,
    ReservationItemOut,
    ReservationOut,
)
from mercato.contracts.products import Money, ProductOut, ProductPage
from mercato.contracts.quantities import MAX_STOCK

__all__ = [
    "CategoryIn",
    "CategoryList",
    "CategoryOut",
    "ImportIn",
    "ImportIssue",
    "ImportResult",
    "Money",
    "ProductIn",
    "ProductOut",
    "ProductPage",
    "ProductPatch",
    "ReleaseIn",
    "ReservationIn",
    "ReservationItemIn",
    "ReservationItemOut",
    "ReservationOut",
    "StockIn",
    "category_body",
    "product_body",
    "reservation_body",
]

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=64)]
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Brand = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=10_000)]


class ProductIn(BaseModel):
    """A whole product, as an administrator creates or replaces it."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    title: Title
    brand: Brand | None = None
    description: Description = ""
    price: Money
    category: Slug | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    attributes: dict[str, Any] = Field(default_factory=dict)
    images: list[Url] = Field(default_factory=list, max_length=20)
    thumbnail: Url | None = None
    stock: WholeNumber = Field(default=0, ge=0, le=MAX_STOCK, description="Sets on hand.")
    rating: float | None = Field(default=None, ge=0, le=5)


NOT_NULL_IN_PATCH = (
    "sku",
    "title",
    "description",
    "price",
    "tags",
    "attributes",
    "images",
    "stock",
)


def _offer_no_null(schema: dict[str, Any]) -> None:
    """Document the fields a patch may leave out but not set to null as not nullable.

    Typed `X | None` so that a field left out is told apart from one sent; `_not_null`
    refuses the null itself, and clients generated from the document must not send it.
    """
    for name in NOT_NULL_IN_PATCH:
        field = schema["properties"][name]
        field["anyOf"] = [option for option in field["anyOf"] if option.get("type") != "null"]
        field.pop("default", None)


class ProductPatch(BaseModel):
    """A partial change: only the fields sent are changed (`attributes` is replaced)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_offer_no_null)

    sku: Sku | None = None
    title: Title | None = None
    brand: Brand | None = None
    description: Description | None = None
    price: Money | None = None
    category: Slug | None = None
    tags: list[Tag] | None = Field(default=None, max_length=30)
    attributes: dict[str, Any] | None = None
    images: list[Url] | None = Field(default=None, max_length=20)
    thumbnail: Url | None = None
    stock: WholeNumber | None = Field(default=None, ge=0, le=MAX_STOCK, description="Sets on hand.")
    rating: float | None = Field(default=None, ge=0, le=5)

    @field_validator(*NOT_NULL_IN_PATCH)
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields that were sent, with nested models as plain values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class CategoryIn(BaseModel):
    """A new category."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CategoryOut(BaseModel):
    """A category with the number of products in it."""

    slug: str
    name: str
    product_count: int


def category_body(category: CategoryRow) -> dict[str, Any]:
    """The JSON object of a category and its number of products (the `CategoryOut` shape)."""
    return {
        "slug": category["slug"],
        "name": category["name"],
        "product_count": category["product_count"],
    }


class CategoryList(BaseModel):
    """Every category (there are few, so one page)."""

    items: list[CategoryOut]
    next_cursor: str | None = None


class ImportIn(BaseModel):
    """A bulk import in the dummyjson products format: `{"products": [...]}`."""

    products: list[Any] = Field(max_length=10_000)


class ImportIssue(BaseModel):
    """Why one item of an import was refused."""

    index: int | None
    field: str
    message: str


class ImportResult(BaseModel):
    """What an import did; `errors` is non-empty only when nothing was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportIssue] = Field(default_factory=list)


def product_body(product: Product | ProductRow, *, admin: bool = False) -> dict[str, Any]:
    """The JSON object of a product, entity or row (the `ProductOut` shape).

    Admins also see its stock split into units on hand and reserved.
    """
    p = row_of(product, ProductRow)
    body = {
        "id": p["id"],
        "sku": p["sku"],
        "title": p["title"],
        "brand": p["brand"],
        "description": p["description"],
        "price": {"amount": p["price_amount"], "currency": p["currency"]},
        "category": p["category"],
        "tags": p["tags"],
        "attributes": p["attributes"],
        "images": p["images"],
        "thumbnail": p["thumbnail"],
        "stock": p["on_hand"] - p["reserved"],
        "rating": p["rating"],
        "created_at": p["created_at"],
        "updated_at": p["updated_at"],
    }
    if admin:
        body["on_hand"] = p["on_hand"]
        body["reserved"] = p["reserved"]
    return body


class StockIn(BaseModel):
    """A restock (positive) or correction (negative) of the units on hand."""

    model_config = ConfigDict(extra="forbid")

    delta: WholeNumber = Field(ge=-MAX_STOCK, le=MAX_STOCK)


def reservation_body(reservation: Reservation, items: Sequence[ReservationItem]) -> dict[str, Any]:
    """The JSON object of a reservation (the `ReservationOut` shape)."""
    currency = reservation.currency
    return {
        "order_id": reservation.order_id,
        "status": reservation.status,
        "items": [
            {
                "product_id": item.product_id,
                "quantity": item.quantity,
                "unit_price": {"amount": item.unit_price_amount, "currency": currency},
            }
            for item in items
        ],
        "total": {"amount": reservation.total_amount, "currency": currency},
        "expires_at": reservation.expires_at,
        "reason": reservation.reason,
        "created_at": reservation.created_at,
        "updated_at": reservation.updated_at,
    }
