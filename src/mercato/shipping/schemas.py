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
from mercato.shipping.examples import CURSOR, LINE, METHOD, RATE, RATE_OUT, RETURN, SHIPMENT, STAMPS
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


CODE = "What checkout names it by, e.g. `standard`."
NAME = "What the shop calls it."
MIN_DAYS = "Fewest working days to arrive."
MAX_DAYS = "Most working days to arrive."
ACTIVE = "Whether it is offered."
COUNTRIES = 'ISO 3166-1 alpha-2 codes, or `["*"]`: the rest of the world.'
CURRENCY = "ISO 4217 code of `price` and `free_over`."
MAX_GRAMS = "The heaviest parcel it prices, in grams."
PRICE = "Minor units of `currency`."
FREE_OVER = "Free from this subtotal (minor units) on; null: never."
CREATED = "When it was made."
UPDATED = "When it last changed."
ORDER = "The order's id."
OWNER = "The customer's user id."
LINES = "Products and quantities."


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class MethodIn(BaseModel):
    """A new shipping method."""

    model_config = _examples(METHOD)

    code: MethodCode = Field(description=CODE)
    name: Name = Field(description=NAME)
    min_days: Days = Field(description=MIN_DAYS)
    max_days: Days = Field(description=MAX_DAYS)
    active: StrictBool = Field(default=True, description=ACTIVE)

    @model_validator(mode="after")
    def _days_in_order(self) -> MethodIn:
        if self.min_days > self.max_days:
            raise ValueError("min_days is more than max_days")
        return self


class MethodPatch(BaseModel):
    """Changes to a method; what is left out stays."""

    model_config = _examples({"name": "Economy delivery", "active": False})

    name: Name | None = Field(default=None, description=NAME)
    min_days: Days | None = Field(default=None, description=MIN_DAYS)
    max_days: Days | None = Field(default=None, description=MAX_DAYS)
    active: StrictBool | None = Field(default=None, description=ACTIVE)


class MethodOut(BaseModel):
    """A shipping method."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**METHOD, **STAMPS}]})

    code: str = Field(description=CODE)
    name: str = Field(description=NAME)
    min_days: int = Field(description=MIN_DAYS)
    max_days: int = Field(description=MAX_DAYS)
    active: bool = Field(description=ACTIVE)
    created_at: datetime = Field(description=CREATED)
    updated_at: datetime = Field(description=UPDATED)


class MethodList(BaseModel):
    """Every shipping method, by code."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{**METHOD, **STAMPS}]}]})

    items: list[MethodOut] = Field(description="The methods, by code.")


class RateIn(BaseModel):
    """A new rate of a method."""

    model_config = _examples(RATE)

    method: MethodCode = Field(description="The method's code.")
    countries: list[Zone] = Field(min_length=1, max_length=300, description=COUNTRIES)
    currency: Currency = Field(description=CURRENCY)
    max_weight_grams: Grams = Field(description=MAX_GRAMS)
    price: Amount = Field(description=PRICE)
    free_over: Amount | None = Field(default=None, description=FREE_OVER)

    _zone = field_validator("countries")(_check_zone)


class RatePatch(BaseModel):
    """Changes to a rate; what is left out stays (`free_over: null` removes it)."""

    model_config = _examples({"price": 599, "free_over": None})

    countries: list[Zone] | None = Field(
        default=None, min_length=1, max_length=300, description=COUNTRIES
    )
    currency: Currency | None = Field(default=None, description=CURRENCY)
    max_weight_grams: Grams | None = Field(default=None, description=MAX_GRAMS)
    price: Amount | None = Field(default=None, description=PRICE)
    free_over: Amount | None = Field(default=None, description=FREE_OVER)

    @field_validator("countries")
    @classmethod
    def _zone(cls, countries: list[str] | None) -> list[str] | None:
        return None if countries is None else _check_zone(countries)


class RateOut(BaseModel):
    """A rate of a method."""

    model_config = ConfigDict(json_schema_extra={"examples": [RATE_OUT]})

    id: str = Field(description="The rate's id.")
    method: str = Field(description="The method's code.")
    countries: list[str] = Field(description=COUNTRIES)
    currency: str = Field(description=CURRENCY)
    max_weight_grams: int = Field(description=MAX_GRAMS)
    price: int = Field(description=PRICE)
    free_over: int | None = Field(description=FREE_OVER)
    created_at: datetime = Field(description=CREATED)
    updated_at: datetime = Field(description=UPDATED)


class RateList(BaseModel):
    """Rates, by method then currency."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [RATE_OUT]}]})

    items: list[RateOut] = Field(description="The rates, by method, currency and weight.")


class LineIn(BaseModel):
    """A quantity of one product."""

    model_config = _examples(LINE)

    product_id: ProductId = Field(description="The product's id.")
    quantity: Annotated[WholeNumber, Field(ge=1, le=100_000)] = Field(description="How many.")


def _distinct(items: list[LineIn]) -> list[LineIn]:
    if len({line.product_id for line in items}) != len(items):
        raise ValueError("a product is listed twice")
    return items


class SplitIn(BaseModel):
    """The lines (or quantities of lines) to move to a new shipment."""

    model_config = _examples({"items": [{"product_id": "b6f1c2d4e5", "quantity": 1}]})

    items: list[LineIn] = Field(min_length=1, max_length=MAX_LINES, description=LINES)

    _distinct = field_validator("items")(_distinct)


class ShipIn(BaseModel):
    """How a shipment left: the carrier and its tracking."""

    model_config = _examples(
        {
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://tracking.example.com/1Z999AA10123456784",
        }
    )

    carrier: Token = Field(description="Who carries it, e.g. `DHL`.")
    tracking_number: Token = Field(description="The carrier's tracking number.")
    tracking_url: TrackingUrl | None = Field(default=None, description="Where to follow it.")


class ReturnIn(BaseModel):
    """A customer's request to return delivered lines of an order."""

    model_config = _examples(
        {"order_id": RETURN["order_id"], "items": RETURN["items"], "reason": "Too small."}
    )

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description=ORDER
    )
    items: list[LineIn] = Field(min_length=1, max_length=MAX_LINES, description=LINES)
    reason: Reason = Field(description="Why they go back.")

    _distinct = field_validator("items")(_distinct)


class RejectIn(BaseModel):
    """Why a return is refused."""

    model_config = _examples({"reason": "Worn: outside the return policy."})

    reason: Reason = Field(description="Why it is refused; the customer is told.")


class LineOut(BaseModel):
    """A quantity of one product."""

    product_id: str = Field(description="The product's id.")
    quantity: int = Field(description="How many.")


class ShipmentOut(BaseModel):
    """A shipment of (some of) an order's lines."""

    model_config = ConfigDict(json_schema_extra={"examples": [SHIPMENT]})

    id: str = Field(description="The shipment's id.")
    order_id: str = Field(description=ORDER)
    user_id: str = Field(description=OWNER)
    status: str = Field(description="pending, packed, shipped, delivered or cancelled.")
    method: str = Field(description="The shipping method's code.")
    items: list[LineOut] = Field(description=LINES)
    address: dict[str, Any] | None = Field(description="Where it goes, as the order gave it.")
    split_from: str | None = Field(description="The shipment its lines were split from.")
    carrier: str | None = Field(description="Who carries it, once shipped.")
    tracking_number: str | None = Field(description="The carrier's tracking number.")
    tracking_url: str | None = Field(description="Where to follow it.")
    created_at: datetime = Field(description=CREATED)
    updated_at: datetime = Field(description="When it last moved.")
    shipped_at: datetime | None = Field(description="When it left.")
    delivered_at: datetime | None = Field(description="When it arrived.")


class ShipmentPage(Page[ShipmentOut]):
    """A page of shipments, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [SHIPMENT], "next_cursor": CURSOR}]}
    )


class ReturnOut(BaseModel):
    """A return and where it stands."""

    model_config = ConfigDict(json_schema_extra={"examples": [RETURN]})

    id: str = Field(description="The return's id.")
    order_id: str = Field(description=ORDER)
    user_id: str = Field(description=OWNER)
    status: str = Field(description="requested, accepted, rejected, received or refunded.")
    items: list[LineOut] = Field(description=LINES)
    reason: str = Field(description="Why the customer sends them back.")
    rejection_reason: str | None = Field(description="Why an admin refused it.")
    created_at: datetime = Field(description=CREATED)
    updated_at: datetime = Field(description=UPDATED)


class ReturnPage(Page[ReturnOut]):
    """A page of returns, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [RETURN], "next_cursor": CURSOR}]}
    )


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
