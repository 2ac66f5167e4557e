"""API shapes of the shipping service (never ORM classes), and their bodies from rows.

Quotes are the contracts' (`mercato.contracts.shipping`); these are the admin's
methods and rates, and the shipments and returns as customers and admins see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    UrlConstraints,
    field_validator,
    model_validator,
)

from mercato.chassis.web.json_body import WholeNumber
from mercato.chassis.web.paging import Page
from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.shipping import MAX_WEIGHT_GRAMS
from mercato.shipping.models import Method, Rate, Return, Shipment
from mercato.shipping.rates import REST_OF_WORLD

__all__ = [
    "MAX_LINES",
    "LineIn",
    "MethodIn",
    "MethodList",
    "MethodOut",
    "MethodPatch",
    "RateIn",
    "RateList",
    "RateOut",
    "RatePatch",
    "RejectIn",
    "ReturnIn",
    "ReturnOut",
    "ReturnPage",
    "ShipIn",
    "ShipmentOut",
    "ShipmentPage",
    "SplitIn",
    "method_out",
    "rate_out",
    "return_out",
    "shipment_out",
]

MAX_LINES = 100
MethodCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Zone = Annotated[str, StringConstraints(pattern=r"^([A-Z]{2}|\*)$")]
Days = Annotated[WholeNumber, Field(ge=0, le=365)]
Amount = Annotated[WholeNumber, Field(ge=0, le=MAX_AMOUNT)]
Grams = Annotated[WholeNumber, Field(ge=1, le=MAX_WEIGHT_GRAMS)]
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Token = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TrackingUrl = Annotated[
    AnyUrl, UrlConstraints(max_length=2048, allowed_schemes=["http", "https"], host_required=True)
]


def _check_zone(countries: list[str]) -> list[str]:
    if REST_OF_WORLD in countries and len(countries) > 1:
        raise ValueError("`*` (the rest of the world) stands alone")
    if len(set(countries)) != len(countries):
        raise ValueError("a country is listed twice")
    return countries


class MethodIn(BaseModel):
    """A new shipping method."""

    model_config = ConfigDict(extra="forbid")

    code: MethodCode = Field(description="What checkout names it by, e.g. `standard`.")
    name: Name = Field(description="What the shop calls it.")
    min_days: Days = Field(description="Fewest working days to arrive.")
    max_days: Days = Field(description="Most working days to arrive.")
    active: StrictBool = Field(default=True, description="Whether it is offered.")

    @model_validator(mode="after")
    def _days_in_order(self) -> MethodIn:
        if self.min_days > self.max_days:
            raise ValueError("min_days is more than max_days")
        return self


class MethodPatch(BaseModel):
    """Changes to a method; what is left out stays."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    min_days: Days | None = None
    max_days: Days | None = None
    active: StrictBool | None = None


class MethodOut(BaseModel):
    """A shipping method."""

    code: str
    name: str
    min_days: int
    max_days: int
    active: bool
    created_at: datetime
    updated_at: datetime


class MethodList(BaseModel):
    """Every shipping method, by code."""

    items: list[MethodOut]


class RateIn(BaseModel):
    """A new rate of a method."""

    model_config = ConfigDict(extra="forbid")

    method: MethodCode = Field(description="The method's code.")
    countries: list[Zone] = Field(
        min_length=1, max_length=300, description='ISO 3166-1 alpha-2 codes, or `["*"]`.'
    )
    currency: Currency = Field(description="ISO 4217 code of `price` and `free_over`.")
    max_weight_grams: Grams = Field(description="The heaviest parcel it prices.")
    price: Amount = Field(description="Minor units of `currency`.")
    free_over: Amount | None = Field(
        default=None, description="Free from this subtotal (minor units) on; null: never."
    )

    _zone = field_validator("countries")(_check_zone)


class RatePatch(BaseModel):
    """Changes to a rate; what is left out stays (`free_over: null` removes it)."""

    model_config = ConfigDict(extra="forbid")

    countries: list[Zone] | None = Field(default=None, min_length=1, max_length=300)
    currency: Currency | None = None
    max_weight_grams: Grams | None = None
    price: Amount | None = None
    free_over: Amount | None = None

    @field_validator("countries")
    @classmethod
    def _zone(cls, countries: list[str] | None) -> list[str] | None:
        return None if countries is None else _check_zone(countries)


class RateOut(BaseModel):
    """A rate of a method."""

    id: str
    method: str
    countries: list[str]
    currency: str
    max_weight_grams: int
    price: int
    free_over: int | None
    created_at: datetime
    updated_at: datetime


class RateList(BaseModel):
    """Rates, by method then currency."""

    items: list[RateOut]


class LineIn(BaseModel):
    """A quantity of one product."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    quantity: Annotated[WholeNumber, Field(ge=1, le=100_000)]


def _distinct(items: list[LineIn]) -> list[LineIn]:
    if len({line.product_id for line in items}) != len(items):
        raise ValueError("a product is listed twice")
    return items


class SplitIn(BaseModel):
    """The lines (or quantities of lines) to move to a new shipment."""

    model_config = ConfigDict(extra="forbid")

    items: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)

    _distinct = field_validator("items")(_distinct)


class ShipIn(BaseModel):
    """How a shipment left: the carrier and its tracking."""

    model_config = ConfigDict(extra="forbid")

    carrier: Token = Field(description="Who carries it, e.g. `DHL`.")
    tracking_number: Token = Field(description="The carrier's tracking number.")
    tracking_url: TrackingUrl | None = Field(default=None, description="Where to follow it.")


class ReturnIn(BaseModel):
    """A customer's request to return delivered lines of an order."""

    model_config = ConfigDict(extra="forbid")

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    items: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    reason: Reason

    _distinct = field_validator("items")(_distinct)


class RejectIn(BaseModel):
    """Why a return is refused."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class LineOut(BaseModel):
    """A quantity of one product."""

    product_id: str
    quantity: int


class ShipmentOut(BaseModel):
    """A shipment of (some of) an order's lines."""

    id: str
    order_id: str
    user_id: str
    status: str
    method: str
    items: list[LineOut]
    address: dict[str, Any] | None
    split_from: str | None = Field(description="The shipment its lines were split from.")
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    created_at: datetime
    updated_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None


class ShipmentPage(Page[ShipmentOut]):
    """A page of shipments, newest first."""


class ReturnOut(BaseModel):
    """A return and where it stands."""

    id: str
    order_id: str
    user_id: str
    status: str
    items: list[LineOut]
    reason: str
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime


class ReturnPage(Page[ReturnOut]):
    """A page of returns, newest first."""


def _lines(items: list[dict[str, Any]]) -> list[LineOut]:
    return [LineOut(product_id=i["product_id"], quantity=i["quantity"]) for i in items]


def method_out(method: Method) -> MethodOut:
    """The API shape of a method."""
    return MethodOut.model_validate(method, from_attributes=True)


def rate_out(rate: Rate) -> RateOut:
    """The API shape of a rate."""
    return RateOut.model_validate(rate, from_attributes=True)


def shipment_out(shipment: Shipment) -> ShipmentOut:
    """The API shape of a shipment."""
    fields = {name: getattr(shipment, name) for name in ShipmentOut.model_fields}
    return ShipmentOut.model_validate({**fields, "items": _lines(shipment.items)})


def return_out(ret: Return) -> ReturnOut:
    """The API shape of a return."""
    fields = {name: getattr(ret, name) for name in ReturnOut.model_fields}
    return ReturnOut.model_validate({**fields, "items": _lines(ret.items)})
