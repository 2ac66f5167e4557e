"""The catalog's product reads as other services see them: a product and a page of them.

The orders service looks a cart's products up by id (`GET /api/catalog/products
?ids=a,b,c`, answered as a `ProductPage`) and reads each one's title, price and
stock. The catalog documents its product answers with these models and orders
parses the answer into them, so both sides hold to one shape. `Money` is the
catalog's price: what an administrator writes, and what every reader gets back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.chassis.web.json_body import WholeNumber
from mercato.chassis.web.paging import Page
from mercato.contracts.money import MAX_AMOUNT

__all__ = ["Money", "ProductOut", "ProductPage"]


class Money(BaseModel):
    """An amount in minor units (cents) of an ISO 4217 currency."""

    model_config = ConfigDict(extra="forbid")

    amount: WholeNumber = Field(ge=0, le=MAX_AMOUNT, description="Minor units, e.g. cents.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD.")


class ProductOut(BaseModel):
    """A product as clients see it."""

    id: str
    sku: str
    title: str
    brand: str | None
    description: str
    price: Money
    category: str | None
    tags: list[str]
    attributes: dict[str, Any]
    images: list[str]
    thumbnail: str | None
    stock: int = Field(description="Available: on hand minus reserved.")
    on_hand: int | None = Field(default=None, description="Admins only.")
    reserved: int | None = Field(default=None, description="Admins only.")
    rating: float | None
    created_at: datetime
    updated_at: datetime


class ProductPage(Page[ProductOut]):
    """One page of products; pass `next_cursor` back as `cursor` for the next."""
