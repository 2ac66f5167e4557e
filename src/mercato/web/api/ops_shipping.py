"""Calls for the console's shipments and returns pages: the shipping service's admin API.

An admin lists everyone's shipments and returns (`GET /api/shipping/shipments`,
`/returns`, newest first, of one status if asked, cursor paged) and moves them on:
a shipment is packed, shipped (carrier and tracking) and delivered; a return is
accepted, rejected (with a reason) or received. A move the state does not allow is
the service's 409, a bad field its 422: both reach the page as `ApiError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller
from mercato.web.api.shipping import Line, Return

__all__ = [
    "Line",
    "Return",
    "ReturnPage",
    "Shipment",
    "ShipmentPage",
    "move_return",
    "move_shipment",
    "returns",
    "shipments",
]


class Shipment(BaseModel):
    """A shipment as the shipping service answers it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    order_id: str
    user_id: str
    status: str
    method: str
    items: tuple[Line, ...]
    split_from: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    created_at: datetime
    updated_at: datetime


class ShipmentPage(BaseModel):
    """A page of shipments, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Shipment, ...]
    next_cursor: str | None = None


class ReturnPage(BaseModel):
    """A page of returns, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Return, ...]
    next_cursor: str | None = None


def _params(status: str, limit: int, cursor: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status
    if cursor:
        params["cursor"] = cursor
    return params


async def shipments(
    caller: Caller, *, status: str = "", limit: int = 20, cursor: str | None = None
) -> ShipmentPage:
    """Everyone's shipments (in `status` if given), newest first, a page."""
    path = "/api/shipping/shipments"
    body = await caller.call("shipping", "GET", path, params=_params(status, limit, cursor))
    return ShipmentPage.model_validate(body)


async def move_shipment(
    caller: Caller, shipment_id: str, move: str, body: dict[str, Any] | None = None
) -> Shipment:
    """`pack`, `ship` (with `body`) or `deliver` a shipment (409: not from its state)."""
    path = f"/api/shipping/shipments/{quote(shipment_id, safe='')}/{move}"
    return Shipment.model_validate(await caller.call("shipping", "POST", path, json=body))


async def returns(
    caller: Caller, *, status: str = "", limit: int = 20, cursor: str | None = None
) -> ReturnPage:
    """Everyone's returns (in `status` if given), newest first, a page."""
    path = "/api/shipping/returns"
    body = await caller.call("shipping", "GET", path, params=_params(status, limit, cursor))
    return ReturnPage.model_validate(body)


async def move_return(
    caller: Caller, return_id: str, move: str, body: dict[str, Any] | None = None
) -> Return:
    """`accept`, `reject` (with `body`) or `receive` a return (409: not from its state)."""
    path = f"/api/shipping/returns/{quote(return_id, safe='')}/{move}"
    return Return.model_validate(await caller.call("shipping", "POST", path, json=body))
