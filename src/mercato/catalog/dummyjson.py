"""Reading products in the format of the public dummyjson products API.

An import body is `{"products": [{"id", "title", "description", "category",
"price", "rating", "stock", "tags", "brand", "sku", "images", "thumbnail", ...}]}`
with prices as decimal numbers in major units. `parse_products` validates every item
and turns it into the columns of a product: the price into minor units of the
item's `currency` (or the default), the category into a slug, a missing SKU into
one derived from the item's id and title; every field the catalog does not model
(weight, dimensions, warranty, reviews, ...) is kept in `attributes`, and the
source's id as `attributes["source_id"]`. It reports every problem at once, each
naming the item's index and field, so that an import is written whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mercato.catalog.models import ProductFields
from mercato.catalog.money import to_minor_units
from mercato.catalog.schemas import (
    Description,
    ImportIssue,
    Sku,
    Tag,
    Title,
    Url,
)
from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.quantities import MAX_STOCK

__all__ = ["category_name", "generated_sku", "parse_products", "slugify"]

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class DummyProduct(BaseModel):
    """One item of a dummyjson import; unknown fields are allowed and kept."""

    model_config = ConfigDict(extra="allow")

    id: int | str | None = None
    title: Title
    description: Description | None = None
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    price: Decimal = Field(ge=0)
    rating: float | None = Field(default=None, ge=0, le=5)
    stock: int = Field(default=0, ge=0, le=MAX_STOCK)
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    brand: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    sku: Sku | None = None
    images: list[Url] = Field(default_factory=list, max_length=20)
    thumbnail: Url | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None


def slugify(value: str) -> str:
    """A lowercase, dash-separated slug of `value` (at most 64 characters)."""
    return _NOT_SLUG.sub("-", value.lower()).strip("-")[:64].strip("-")


def category_name(slug: str) -> str:
    """A display name for a category known only by its slug."""
    return slug.replace("-", " ").title()


def generated_sku(source_id: object, title: str) -> str:
    """A stable SKU for an item that has none: from its title and source id."""
    stem = slugify(title).upper()[:40].strip("-") or "ITEM"
    if source_id is None or str(source_id) == "":
        return stem
    suffix = slugify(str(source_id)).upper()[:20] or "0"
    return f"{stem}-{suffix}"


def _issues(index: int, error: ValidationError) -> list[ImportIssue]:
    return [
        ImportIssue(
            index=index,
            field=".".join(str(part) for part in e["loc"]) or "item",
            message=e["msg"],
        )
        for e in error.errors()
    ]


def _convert(index: int, item: DummyProduct, currency: str) -> ProductFields | ImportIssue:
    currency = item.currency or currency
    try:
        amount = to_minor_units(item.price, currency)
    except ValueError as exc:
        return ImportIssue(index=index, field="price", message=str(exc))
    if amount > MAX_AMOUNT:
        return ImportIssue(index=index, field="price", message="the price is too large")
    category = slugify(item.category) if item.category is not None else None
    if item.category is not None and not category:
        return ImportIssue(index=index, field="category", message="has no letters or digits")
    sku = item.sku or generated_sku(item.id, item.title)
    if not _SKU.match(sku):
        return ImportIssue(index=index, field="sku", message="cannot derive a SKU from title")
    attributes = dict(item.model_extra or {})
    if item.id is not None:
        attributes["source_id"] = item.id
    return ProductFields(
        sku=sku,
        title=item.title,
        brand=item.brand or None,
        description=item.description or "",
        price_amount=amount,
        currency=currency,
        category=category,
        tags=list(item.tags),
        attributes=attributes,
        images=list(item.images),
        thumbnail=item.thumbnail,
        on_hand=item.stock,
        rating=item.rating,
    )


def parse_products(
    items: Sequence[Any], *, currency: str
) -> tuple[list[ProductFields], list[ImportIssue]]:
    """The products of an import, or every problem found (then the products are moot)."""
    products: list[ProductFields] = []
    issues: list[ImportIssue] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            issues.append(ImportIssue(index=index, field="item", message="must be an object"))
            continue
        try:
            item = DummyProduct.model_validate(raw)
        except ValidationError as exc:
            issues.extend(_issues(index, exc))
            continue
        converted = _convert(index, item, currency)
        if isinstance(converted, ImportIssue):
            issues.append(converted)
            continue
        first = seen.setdefault(converted["sku"], index)
        if first != index:
            message = f"SKU {converted['sku']} is also item {first} of this import"
            issues.append(ImportIssue(index=index, field="sku", message=message))
            continue
        products.append(converted)
    return products, issues
