"""The catalog's product reads as other services see them: a product and a page of them.

The orders service looks a cart's products up by id (`GET /api/catalog/products
?ids=a,b,c`, answered as a `ProductPage`) and reads each one's title, price and
stock. The catalog documents its product answers with these models and orders
parses the answer into them, so both sides hold to one shape. `Money` is the
catalog's price: what an administrator writes, and what every reader gets back.

The listing's answer is documented as a `ProductSearchPage`: a `ProductPage` that,
with `facets=true`, also carries `total` and `facets` (`ProductFacets`: what a
storefront shows beside search results), and `corrected` when a typo in the search
was corrected. A reader of `ProductPage` ignores those.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.chassis.web.json_body import WholeNumber
from mercato.chassis.web.paging import Page
from mercato.contracts.money import MAX_AMOUNT

__all__ = [
    "PRODUCT_EXAMPLE",
    "BrandFacet",
    "Money",
    "PriceFacet",
    "ProductFacets",
    "ProductOut",
    "ProductPage",
    "ProductSearchPage",
]


class Money(BaseModel):
    """An amount in minor units (cents) of an ISO 4217 currency."""

    model_config = ConfigDict(extra="forbid")

    amount: WholeNumber = Field(ge=0, le=MAX_AMOUNT, description="Minor units, e.g. cents.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD.")


PRODUCT_EXAMPLE: dict[str, Any] = {
    "id": "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f",
    "sku": "TEA-001",
    "title": "Green tea, 100 g",
    "brand": "Mercato",
    "description": "Loose-leaf sencha from Shizuoka.",
    "price": {"amount": 450, "currency": "USD"},
    "category": "groceries",
    "tags": ["tea", "organic"],
    "attributes": {"weight_g": 100},
    "images": ["https://images.example.com/tea-001.jpg"],
    "thumbnail": "https://images.example.com/tea-001-thumb.jpg",
    "stock": 23,
    "rating": 4.6,
    "created_at": "2026-01-01T12:00:00Z",
    "updated_at": "2026-01-02T09:30:00Z",
}
PRODUCT_ID = "A product's id: a UUID the catalog gave it."


class ProductOut(BaseModel):
    """A product as clients see it."""

    model_config = ConfigDict(json_schema_extra={"examples": [PRODUCT_EXAMPLE]})

    id: str = Field(description=PRODUCT_ID)
    sku: str = Field(description="The stock-keeping unit: unique, set by the shop.")
    title: str = Field(description="Its name, as shown.")
    brand: str | None = Field(description="Who makes it, if known.")
    description: str = Field(description="Longer text about it; may be empty.")
    price: Money = Field(description="What one unit costs.")
    category: str | None = Field(description="The slug of its category, if any.")
    tags: list[str] = Field(description="Words it is found by.")
    attributes: dict[str, Any] = Field(description="Free-form facts (weight, colour...).")
    images: list[str] = Field(
        description="URLs of its pictures: the catalog's own as paths from the shop's origin "
        "(`/api/catalog/images/{id}/{variant}.webp`), or another site's http(s) URLs."
    )
    thumbnail: str | None = Field(
        description="URL of a small picture, if any: the path of one of the catalog's own "
        "(its `thumb` variant), or an http(s) URL."
    )
    stock: int = Field(description="Available: on hand minus reserved.")
    on_hand: int | None = Field(default=None, description="Admins only.")
    reserved: int | None = Field(default=None, description="Admins only.")
    rating: float | None = Field(description="Average rating, 0 to 5, if rated.")
    created_at: datetime = Field(description="When it was added.")
    updated_at: datetime = Field(description="When it last changed.")


class ProductPage(Page[ProductOut]):
    """One page of products; pass `next_cursor` back as `cursor` for the next."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [PRODUCT_EXAMPLE], "next_cursor": "WzQ1MCwi"}]}
    )


class BrandFacet(BaseModel):
    """A brand and how many matching products it has."""

    value: str = Field(description="The brand, as products name it.")
    count: int = Field(description="Matching products of that brand.")


class PriceFacet(BaseModel):
    """A price band [min, max) in minor units and how many matching products are in it."""

    min: int = Field(description="The lowest price in the band.")
    max: int | None = Field(description="The first price above the band; null: no bound.")
    count: int = Field(description="Matching products in the band.")


class ProductFacets(BaseModel):
    """Counts of the matching products by brand, price band and stock."""

    brand: list[BrandFacet] = Field(description="The 20 most frequent brands, most first.")
    price: list[PriceFacet] = Field(description="Every price band, cheapest first.")
    in_stock: int = Field(description="Matching products with stock.")


FACETS_EXAMPLE: dict[str, Any] = {
    "brand": [{"value": "Northwind", "count": 3}, {"value": "Kestrel", "count": 2}],
    "price": [
        {"min": low, "max": high, "count": count}
        for low, high, count in [
            (0, 2500, 0),
            (2500, 5000, 0),
            (5000, 10000, 0),
            (10000, 25000, 1),
            (25000, 50000, 0),
            (50000, None, 4),
        ]
    ],
    "in_stock": 4,
}


class ProductSearchPage(ProductPage):
    """One page of products; with `facets=true` also the total and facet counts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [PRODUCT_EXAMPLE],
                    "next_cursor": "WzQ1MCwi",
                    "total": 5,
                    "facets": FACETS_EXAMPLE,
                    "corrected": "laptop",
                }
            ]
        }
    )

    total: int | None = Field(
        default=None, description="With `facets=true`: how many products match in all."
    )
    facets: ProductFacets | None = Field(
        default=None, description="With `facets=true`: counts by brand, price band and stock."
    )
    corrected: str | None = Field(
        default=None,
        description="Only when a word matched nothing and was corrected: the query searched.",
    )
