"""Calls to shipping: an order's returns, and asking to send delivered lines back.

Every call is the signed-in shopper's own: shipping answers only their returns (and
404 for another customer's order or return). A return asks for some units of the
order's delivered lines; shipping refuses with 422 (`errors` name `items.<i>...` or
`reason`) or 409 (nothing delivered yet, past the return window, more than was
delivered less what earlier returns claim), its `detail` in words a shopper reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = ["Line", "Return", "request_return", "returns"]

RETURNS = "/api/shipping/returns"


class Line(BaseModel):
    """A product and how many units of it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    quantity: int


class Return(BaseModel):
    """A return a shopper asked for, and where it stands (as the console reads it too)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    order_id: str
    user_id: str = ""
    status: str  # requested, accepted, rejected, received, refunded
    items: tuple[Line, ...] = ()
    reason: str = ""
    rejection_reason: str | None = None
    created_at: datetime
    updated_at: datetime


async def returns(caller: Caller, order_id: str) -> tuple[Return, ...]:
    """The shopper's returns of an order, newest first (one page: an order has few)."""
    params: dict[str, str | int] = {"order_id": order_id, "limit": 100}
    body = await caller.call("shipping", "GET", RETURNS, params=params)
    return tuple(Return.model_validate(item) for item in body.get("items", ()))


async def request_return(
    caller: Caller, order_id: str, quantities: Mapping[str, int], reason: str
) -> Return:
    """Ask to send `quantities` (product id: units) of an order back (422, 409: why not)."""
    body = {
        "order_id": order_id,
        "items": [{"product_id": p, "quantity": q} for p, q in quantities.items()],
        "reason": reason,
    }
    return Return.model_validate(await caller.call("shipping", "POST", RETURNS, json=body))
