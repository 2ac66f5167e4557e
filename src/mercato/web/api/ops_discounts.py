"""Calls for the console's discounts page: the orders service's admin API of discount codes.

`GET /api/orders/discounts` (newest first, cursor paged), `POST` a new code (409: the
code is taken; 422: fields that do not fit, each named), `PATCH .../{id}` with
`{"active": false}` to deactivate one. Each discount says how many orders use it now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = ["Discount", "DiscountPage", "create", "deactivate", "discounts"]

PATH = "/api/orders/discounts"


class Discount(BaseModel):
    """A discount code as orders answers it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    code: str
    kind: str
    value: int
    currency: str | None = None
    min_order: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_uses: int | None = None
    max_uses_per_customer: int | None = None
    categories: tuple[str, ...] = ()
    active: bool
    uses: int = 0
    created_at: datetime


class DiscountPage(BaseModel):
    """A page of discounts, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Discount, ...]
    next_cursor: str | None = None


async def discounts(caller: Caller, *, limit: int = 50, cursor: str | None = None) -> DiscountPage:
    """The codes, newest first, a page."""
    params: dict[str, str | int] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    return DiscountPage.model_validate(await caller.call("orders", "GET", PATH, params=params))


async def create(caller: Caller, body: dict[str, Any]) -> Discount:
    """A new code (409: taken; 422: its fields' mistakes)."""
    return Discount.model_validate(await caller.call("orders", "POST", PATH, json=body))


async def deactivate(caller: Caller, discount_id: str) -> Discount:
    """The code refused from now on (404: none)."""
    path = f"{PATH}/{quote(discount_id, safe='')}"
    body = {"active": False}
    return Discount.model_validate(await caller.call("orders", "PATCH", path, json=body))
