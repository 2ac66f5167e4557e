"""The shipping service's quotes, as the orders service and the storefront ask for them.

`GET /api/shipping/quotes?country=&currency=&weight_grams=&subtotal=` answers a
`QuoteList`: every method that ships a parcel of that weight to that country, priced
in that currency (minor units), cheapest first. A method with no rate for the country,
the currency or the weight is left out, so an empty list means "we do not ship there".
The checkout asks for it with the cart's weight (each product's `weight_grams`
attribute, `DEFAULT_WEIGHT_GRAMS` when it has none) and takes the chosen method's
price: the price a client sends is never trusted. Shipping parses the query with
`QuoteQuery` and documents its answer with these models; orders builds its request
and parses the answer with them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.contracts.money import MAX_AMOUNT

__all__ = [
    "DEFAULT_WEIGHT_GRAMS",
    "MAX_WEIGHT_GRAMS",
    "QUOTE_EXAMPLE",
    "Quote",
    "QuoteList",
    "QuoteMoney",
    "QuoteQuery",
    "parcel_weight",
]

DEFAULT_WEIGHT_GRAMS = 500  # a product whose attributes name no weight
MAX_WEIGHT_GRAMS = 1_000_000  # one tonne: past it no method ships, and the query is refused
WEIGHT_ATTRIBUTE = "weight_grams"

Country = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{2}$")]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{3}$")]
MethodCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
]

QUOTE_EXAMPLE: dict[str, Any] = {
    "method": "standard",
    "name": "Standard delivery",
    "price": {"amount": 495, "currency": "USD"},
    "min_days": 3,
    "max_days": 5,
}


class QuoteQuery(BaseModel):
    """What a quote is for: where the parcel goes, in what currency, how heavy, worth what.

    `subtotal` (minor units of `currency`) lets a method be free above a threshold.
    """

    model_config = ConfigDict(extra="forbid")

    country: Country = Field(description="ISO 3166-1 alpha-2 code of the destination.")
    currency: Currency = Field(description="ISO 4217 code the prices are wanted in.")
    weight_grams: int = Field(ge=0, le=MAX_WEIGHT_GRAMS, description="The parcel's weight.")
    subtotal: int = Field(default=0, ge=0, le=MAX_AMOUNT, description="The items' total.")


class QuoteMoney(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    model_config = ConfigDict(frozen=True)

    amount: int = Field(ge=0, le=MAX_AMOUNT, description="Minor units, e.g. cents.")
    currency: Currency = Field(description="ISO 4217 code.")


class Quote(BaseModel):
    """One way to ship the parcel and what it costs."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [QUOTE_EXAMPLE]})

    method: MethodCode = Field(description="The method's code, what checkout takes.")
    name: str = Field(description="What the shop calls it.")
    price: QuoteMoney = Field(description="What it costs, in the currency asked for.")
    min_days: int = Field(ge=0, description="Fewest working days to arrive.")
    max_days: int = Field(ge=0, description="Most working days to arrive.")


class QuoteList(BaseModel):
    """Every method that ships this parcel, cheapest first (empty: not shipped there)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [QUOTE_EXAMPLE]}]})

    items: list[Quote] = Field(description="The quotes, cheapest first.")


def parcel_weight(lines: list[tuple[dict[str, Any], int]]) -> int:
    """The weight of `(attributes, quantity)` lines in grams: each product's
    `weight_grams` attribute when it is a whole number of grams, else the default."""
    total = 0
    for attributes, quantity in lines:
        weight = attributes.get(WEIGHT_ATTRIBUTE)
        grams = weight if isinstance(weight, int) and not isinstance(weight, bool) else None
        total += (grams if grams is not None and grams >= 0 else DEFAULT_WEIGHT_GRAMS) * quantity
    return min(total, MAX_WEIGHT_GRAMS)
