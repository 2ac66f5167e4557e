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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.chassis.web.json_body import WholeNumber
from mercato.contracts.products import Money
from mercato.contracts.quantities import MAX_STOCK

__all__ = [
    "MAX_TTL_SECONDS",
    "RESERVATION_EXAMPLE",
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


ORDER = "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d"
PRODUCT = "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f"
PRODUCT_ID = "A catalog product's id."
QUANTITY = "How many units."
RESERVATION_EXAMPLE: dict[str, Any] = {
    "order_id": ORDER,
    "status": "reserved",
    "items": [
        {"product_id": PRODUCT, "quantity": 2, "unit_price": {"amount": 450, "currency": "USD"}}
    ],
    "total": {"amount": 900, "currency": "USD"},
    "expires_at": "2026-01-01T12:15:00Z",
    "reason": None,
    "created_at": "2026-01-01T12:00:00Z",
    "updated_at": "2026-01-01T12:00:00Z",
}


class ReservationItemIn(BaseModel):
    """One line to reserve: a product and how many units."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId = Field(description=PRODUCT_ID)
    quantity: WholeNumber = Field(ge=1, le=MAX_STOCK, description=QUANTITY)


class ReservationIn(BaseModel):
    """Hold stock for an order; the order id makes the call idempotent."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "order_id": ORDER,
                    "items": [{"product_id": PRODUCT, "quantity": 2}],
                    "ttl_seconds": 900,
                }
            ]
        },
    )

    order_id: OrderId = Field(description="The order the stock is held for: one reservation each.")
    items: list[ReservationItemIn] = Field(
        min_length=1, max_length=100, description="The lines: all are held, or none."
    )
    ttl_seconds: WholeNumber | None = Field(
        default=None, ge=1, le=MAX_TTL_SECONDS, description="Default: the setting."
    )


class ReleaseIn(BaseModel):
    """Why a reservation is given back (optional body of a release)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "payment_failed"}]}
    )

    reason: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        default="requested", description="Why, e.g. `payment_failed`."
    )


class ReservationItemOut(BaseModel):
    """A reserved line with the unit price it was reserved at."""

    product_id: str = Field(description=PRODUCT_ID)
    quantity: int = Field(description=QUANTITY)
    unit_price: Money = Field(description="The price of one unit when it was reserved.")


class ReservationOut(BaseModel):
    """A reservation: held (`reserved`), gone out (`committed`) or given back (`released`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [RESERVATION_EXAMPLE]})

    order_id: str = Field(description="The order it holds stock for.")
    status: ReservationStatus = Field(description="`reserved`, `committed` or `released`.")
    items: list[ReservationItemOut] = Field(description="The lines held.")
    total: Money = Field(description="What the lines cost at the reserved prices.")
    expires_at: datetime = Field(
        description="When a held reservation is given back unless committed."
    )
    reason: str | None = Field(default=None, description="Why it was released.")
    created_at: datetime = Field(description="When it was made.")
    updated_at: datetime = Field(description="When it last changed.")
