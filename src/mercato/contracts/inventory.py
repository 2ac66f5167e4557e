"""The catalog's stock reservations, as the orders service calls them.

The checkout holds stock for an order (`POST /api/catalog/reservations` with a
`ReservationIn`), then takes it off the shelf (`.../{order_id}/commit`) or gives it
back (`.../{order_id}/release`, optionally with a `ReleaseIn`); every answer is a
`ReservationOut`. The catalog parses the requests and documents its answers with
these models, and orders builds its requests and parses the answers with them.
The order id makes a reservation idempotent: the same id again answers 200 with the
reservation it already has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.chassis.web.json_body import WholeNumber
from mercato.contracts.products import Money
from mercato.contracts.quantities import MAX_STOCK

__all__ = [
    "MAX_TTL_SECONDS",
    "ReleaseIn",
    "ReservationIn",
    "ReservationItemIn",
    "ReservationItemOut",
    "ReservationOut",
    "ReservationStatus",
]

MAX_TTL_SECONDS = 86400
OrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
ReservationStatus = Literal["reserved", "committed", "released"]


class ReservationItemIn(BaseModel):
    """One line to reserve: a product and how many units."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    quantity: WholeNumber = Field(ge=1, le=MAX_STOCK)


class ReservationIn(BaseModel):
    """Hold stock for an order; the order id makes the call idempotent."""

    model_config = ConfigDict(extra="forbid")

    order_id: OrderId
    items: list[ReservationItemIn] = Field(min_length=1, max_length=100)
    ttl_seconds: WholeNumber | None = Field(
        default=None, ge=1, le=MAX_TTL_SECONDS, description="Default: the setting."
    )


class ReleaseIn(BaseModel):
    """Why a reservation is given back (optional body of a release)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "requested"


class ReservationItemOut(BaseModel):
    """A reserved line with the unit price it was reserved at."""

    product_id: str
    quantity: int
    unit_price: Money


class ReservationOut(BaseModel):
    """A reservation: held (`reserved`), gone out (`committed`) or given back (`released`)."""

    order_id: str
    status: ReservationStatus
    items: list[ReservationItemOut]
    total: Money
    expires_at: datetime
    reason: str | None = Field(default=None, description="Why it was released.")
    created_at: datetime
    updated_at: datetime
