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
routes encode with orjson. The listing's answer (`ProductSearchPage`, built by
`search_body`) adds to a page what was asked for: total, facets, a correction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from mercato.catalog.images.links import OWN_URL_PATTERN
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
from mercato.contracts.products import (
    PRODUCT_EXAMPLE,
    Money,
    ProductOut,
    ProductPage,
    ProductSearchPage,
)
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
    "ProductSearchPage",
    "ReleaseIn",
    "ReservationIn",
    "ReservationItemIn",
    "ReservationItemOut",
    "ReservationOut",
    "StockIn",
    "category_body",
    "product_body",
    "reservation_body",
    "search_body",
]

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=64)]
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
]
# A picture's URL: another site's, absolute http(s) with a host name (or IPv4 address)
# and an optional port, or the path of one of the catalog's own (`images.links`),
# which the shop's origin serves. No credentials, no bracketed host: `http://[x`
# is no URL, and a storefront writing it into a page would write a broken one.
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HTTP_URL_PATTERN = rf"https?://{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?(?:[/?#]\S*)?"
Url = Annotated[
    str,
    StringConstraints(pattern=rf"^({HTTP_URL_PATTERN}|{OWN_URL_PATTERN})$", max_length=2048),
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Brand = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
WRITTEN = ("sku", "title", "brand", "description", "price", "category", "tags", "attributes")
PRODUCT_IN_EXAMPLE: dict[str, Any] = {
    **{name: PRODUCT_EXAMPLE[name] for name in WRITTEN},
    **{"images": PRODUCT_EXAMPLE["images"], "thumbnail": PRODUCT_EXAMPLE["thumbnail"]},
    **{"stock": 25, "rating": 4.6},
}
# What each field of a product is, for the documents (ProductIn and ProductPatch).
SKU = "The stock-keeping unit: unique; letters, digits, `.`, `_`, `-`."
TITLE = "Its name, as shown."
BRAND = "Who makes it."
DESCRIPTION = "Longer text about it."
PRICE = "What one unit costs."
CATEGORY = "The slug of an existing category."
TAGS = "Words it is found by (at most 30)."
ATTRIBUTES = "Free-form facts (weight, colour...), replaced as a whole."
IMAGES = (
    "URLs of its pictures (at most 20): http(s), or the paths of the catalog's own "
    "(`/api/catalog/images/{id}/{variant}.webp`), which uploads add."
)
THUMBNAIL = "The URL of a small picture: http(s), or the path of one of the catalog's own."
STOCK = "Sets the units on hand (available is on hand minus reserved)."
RATING = "Average rating, 0 to 5."


class ProductIn(BaseModel):
    """A whole product, as an administrator creates or replaces it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PRODUCT_IN_EXAMPLE]})

    sku: Sku = Field(description=SKU)
    title: Title = Field(description=TITLE)
    brand: Brand | None = Field(default=None, description=BRAND)
    description: Description = Field(default="", description=DESCRIPTION)
    price: Money = Field(description=PRICE)
    category: Slug | None = Field(default=None, description=CATEGORY)
    tags: list[Tag] = Field(default_factory=list, max_length=30, description=TAGS)
    attributes: dict[str, Any] = Field(default_factory=dict, description=ATTRIBUTES)
    images: list[Url] = Field(default_factory=list, max_length=20, description=IMAGES)
    thumbnail: Url | None = Field(default=None, description=THUMBNAIL)
    stock: WholeNumber = Field(default=0, ge=0, le=MAX_STOCK, description=STOCK)
    rating: float | None = Field(default=None, ge=0, le=5, description=RATING)


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
    schema["examples"] = [{"price": {"amount": 399, "currency": "USD"}, "tags": ["tea", "sale"]}]


class ProductPatch(BaseModel):
    """A partial change: only the fields sent are changed (`attributes` is replaced)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_offer_no_null)

    sku: Sku | None = Field(default=None, description=SKU)
    title: Title | None = Field(default=None, description=TITLE)
    brand: Brand | None = Field(default=None, description=f"{BRAND} Null clears it.")
    description: Description | None = Field(default=None, description=DESCRIPTION)
    price: Money | None = Field(default=None, description=PRICE)
    category: Slug | None = Field(default=None, description=f"{CATEGORY} Null clears it.")
    tags: list[Tag] | None = Field(default=None, max_length=30, description=TAGS)
    attributes: dict[str, Any] | None = Field(default=None, description=ATTRIBUTES)
    images: list[Url] | None = Field(default=None, max_length=20, description=IMAGES)
    thumbnail: Url | None = Field(default=None, description=f"{THUMBNAIL} Null clears it.")
    stock: WholeNumber | None = Field(default=None, ge=0, le=MAX_STOCK, description=STOCK)
    rating: float | None = Field(default=None, ge=0, le=5, description=f"{RATING} Null clears it.")

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

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"slug": "groceries", "name": "Groceries"}]}
    )

    slug: Slug = Field(description="Its id in paths and filters: lower-case words joined by `-`.")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = (
        Field(description="Its name, as shown.")
    )


CATEGORY_EXAMPLE: dict[str, Any] = {"slug": "groceries", "name": "Groceries", "product_count": 42}


class CategoryOut(BaseModel):
    """A category with the number of products in it."""

    model_config = ConfigDict(json_schema_extra={"examples": [CATEGORY_EXAMPLE]})

    slug: str = Field(description="Its id in paths and filters.")
    name: str = Field(description="Its name, as shown.")
    product_count: int = Field(description="How many products are in it.")


def category_body(category: CategoryRow) -> dict[str, Any]:
    """The JSON object of a category and its number of products (the `CategoryOut` shape)."""
    return {
        "slug": category["slug"],
        "name": category["name"],
        "product_count": category["product_count"],
    }


class CategoryList(BaseModel):
    """Every category (there are few, so one page)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [CATEGORY_EXAMPLE], "next_cursor": None}]}
    )

    items: list[CategoryOut] = Field(description="Every category.")
    next_cursor: str | None = Field(default=None, description="Always null: one page holds all.")


class ImportIn(BaseModel):
    """A bulk import in the dummyjson products format: `{"products": [...]}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "products": [
                        {
                            "sku": "TEA-001",
                            "title": "Green tea, 100 g",
                            "price": 4.5,
                            "stock": 25,
                            "category": "groceries",
                        }
                    ]
                }
            ]
        }
    )

    products: list[Any] = Field(
        max_length=10_000,
        description="Products as dummyjson.com lists them (`sku`, `title`, `price` in major "
        "units, `stock`...), upserted by SKU.",
    )


class ImportIssue(BaseModel):
    """Why one item of an import was refused."""

    index: int | None = Field(description="The item's position in `products`.")
    field: str = Field(description="The field that was refused.")
    message: str = Field(description="Why.")
    line: int | None = Field(
        default=None, description="The line of the file the item starts on (imported files)."
    )


class ImportResult(BaseModel):
    """What an import did; `errors` is non-empty only when nothing was written."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"created": 12, "updated": 3, "unchanged": 85, "errors": []}]
        }
    )

    created: int = Field(default=0, description="Products that were new.")
    updated: int = Field(default=0, description="Products that changed.")
    unchanged: int = Field(default=0, description="Products already as sent.")
    errors: list[ImportIssue] = Field(
        default_factory=list, description="Why items were refused (then nothing was written)."
    )


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


def search_body(
    items: list[dict[str, Any]],
    next_cursor: str | None,
    *,
    total: int | None = None,
    facets: Any = None,
    corrected: str | None = None,
) -> dict[str, Any]:
    """The JSON object of a page of products (the `ProductSearchPage` shape)."""
    body: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if facets is not None:
        body["total"] = total
        body["facets"] = facets
    if corrected is not None:
        body["corrected"] = corrected
    return body


class StockIn(BaseModel):
    """A restock (positive) or correction (negative) of the units on hand."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"delta": 24}]})

    delta: WholeNumber = Field(
        ge=-MAX_STOCK, le=MAX_STOCK, description="Units to add on hand (negative: to take off)."
    )


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
