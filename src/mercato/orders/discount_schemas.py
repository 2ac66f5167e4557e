"""API shapes of discount codes and of the cart's code and shipping quotes (never ORM classes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from mercato.chassis.web.json_body import WholeNumber
from mercato.chassis.web.paging import Page
from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.shipping import QUOTE_EXAMPLE, Quote
from mercato.orders.models import Discount
from mercato.orders.schemas import MoneyOut

__all__ = [
    "CODE_PATTERN",
    "CartShippingOut",
    "CodeIn",
    "DiscountIn",
    "DiscountOut",
    "DiscountPage",
    "DiscountPatch",
    "QuoteOut",
    "discount_body",
]

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$"
MAX_CATEGORIES = 50
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{3}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)]
Uses = Annotated[int, Field(ge=1, le=1_000_000_000)]

KIND = "`percent`: `value` is a whole percentage (1 to 100) of the eligible items; `fixed`: "
VALUE = "The percentage (1-100) for `percent`; minor units of `currency` for `fixed`."
CURRENCY = "Required for `fixed` and with a `min_order`; the code then applies to carts in it."
CATEGORIES = "Category slugs: only lines of products in them are discounted (empty: all)."
DISCOUNT_EXAMPLE: dict[str, Any] = {
    "code": "SPRING10",
    "kind": "percent",
    "value": 10,
    "currency": "USD",
    "min_order": 2000,
    "starts_at": "2026-03-01T00:00:00Z",
    "ends_at": "2026-04-01T00:00:00Z",
    "max_uses": 500,
    "max_uses_per_customer": 1,
    "categories": ["tea"],
    "active": True,
}


class DiscountIn(BaseModel):
    """A new discount code (admins only)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [DISCOUNT_EXAMPLE]})

    code: Code = Field(description="3-40 letters, digits, `-`, `_`; unique, case-insensitive.")
    kind: Literal["percent", "fixed"] = Field(description=KIND + "an amount off them.")
    value: WholeNumber = Field(ge=1, le=MAX_AMOUNT, description=VALUE)
    currency: Currency | None = Field(default=None, description=CURRENCY)
    min_order: WholeNumber = Field(
        default=0, ge=0, le=MAX_AMOUNT, description="Least items total (minor units) it needs."
    )
    starts_at: AwareDatetime | None = Field(default=None, description="Valid from (null: now).")
    ends_at: AwareDatetime | None = Field(default=None, description="Valid until (null: ever).")
    max_uses: Uses | None = Field(default=None, description="Uses by everyone (null: no limit).")
    max_uses_per_customer: Uses | None = Field(
        default=None, description="Uses by one customer (null: no limit)."
    )
    categories: list[Slug] = Field(
        default_factory=list, max_length=MAX_CATEGORIES, description=CATEGORIES
    )
    active: bool = Field(default=True, description="False: the code is refused.")


class DiscountPatch(BaseModel):
    """A partial change of a discount: only the fields sent change (null clears)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"active": False}, {"max_uses": 1000}]}
    )

    value: WholeNumber | None = Field(default=None, ge=1, le=MAX_AMOUNT, description=VALUE)
    currency: Currency | None = Field(default=None, description=CURRENCY)
    min_order: WholeNumber | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="Least items total (minor units)."
    )
    starts_at: AwareDatetime | None = Field(default=None, description="Valid from.")
    ends_at: AwareDatetime | None = Field(default=None, description="Valid until.")
    max_uses: Uses | None = Field(default=None, description="Uses by everyone allowed.")
    max_uses_per_customer: Uses | None = Field(
        default=None, description="Uses by one customer allowed."
    )
    categories: list[Slug] | None = Field(
        default=None, max_length=MAX_CATEGORIES, description=CATEGORIES
    )
    active: bool | None = Field(default=None, description="False deactivates the code.")


DISCOUNT_OUT_EXAMPLE: dict[str, Any] = {
    "id": "9a7c1e2b-4d3f-4a5b-8c6d-7e8f9a0b1c2d",
    **DISCOUNT_EXAMPLE,
    "uses": 12,
    "created_at": "2026-02-20T09:00:00Z",
    "updated_at": "2026-02-20T09:00:00Z",
}


class DiscountOut(BaseModel):
    """A discount code and how often it has been used."""

    model_config = ConfigDict(json_schema_extra={"examples": [DISCOUNT_OUT_EXAMPLE]})

    id: str = Field(description="The discount's id.")
    code: str = Field(description="The code, upper-case (customers may type it in any case).")
    kind: str = Field(description="`percent` or `fixed`.")
    value: int = Field(description=VALUE)
    currency: str | None = Field(description=CURRENCY)
    min_order: int = Field(description="Least items total (minor units) it needs.")
    starts_at: AwareDatetime | None = Field(description="Valid from.")
    ends_at: AwareDatetime | None = Field(description="Valid until.")
    max_uses: int | None = Field(description="Uses by everyone allowed.")
    max_uses_per_customer: int | None = Field(description="Uses by one customer allowed.")
    categories: list[str] = Field(description=CATEGORIES)
    active: bool = Field(description="False: the code is refused.")
    uses: int = Field(description="Orders using it now (failed or cancelled ones give it back).")
    created_at: AwareDatetime = Field(description="When it was created.")
    updated_at: AwareDatetime = Field(description="When it last changed.")


class DiscountPage(Page[DiscountOut]):
    """One page of discounts, newest first; pass `next_cursor` back as `cursor`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [DISCOUNT_OUT_EXAMPLE], "next_cursor": "WyIyMDI2"}]
        }
    )


class CodeIn(BaseModel):
    """A discount code for the cart."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"code": "spring10"}]}
    )

    code: Code = Field(description="The code, in any case.")


class QuoteOut(BaseModel):
    """One way to ship the cart and what it costs (the shipping service's quote)."""

    method: str = Field(description="The method's code, what checkout's `shipping_method` takes.")
    name: str = Field(description="What the shop calls it.")
    price: MoneyOut = Field(description="What it costs, in the cart's currency.")
    min_days: int = Field(description="Fewest working days to arrive.")
    max_days: int = Field(description="Most working days to arrive.")

    @classmethod
    def of(cls, quote: Quote) -> QuoteOut:
        """The answer's shape of a quote of the contract."""
        price = MoneyOut(amount=quote.price.amount, currency=quote.price.currency)
        return cls(
            method=quote.method,
            name=quote.name,
            price=price,
            min_days=quote.min_days,
            max_days=quote.max_days,
        )


class CartShippingOut(BaseModel):
    """The ways the cart can be shipped to a country, cheapest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [QUOTE_EXAMPLE], "weight_grams": 1250, "charged": True}]
        }
    )

    items: list[QuoteOut] = Field(description="Every method that ships there (empty: none does).")
    weight_grams: int = Field(description="The parcel's weight, from the products' attributes.")
    charged: bool = Field(
        description="False when this shop charges no shipping (no shipping service is set): "
        "`items` is then empty and checkout adds nothing."
    )


def discount_body(discount: Discount, uses: int) -> DiscountOut:
    """The API shape of a stored discount."""
    return DiscountOut(
        id=discount.id,
        code=discount.code,
        kind=discount.kind,
        value=discount.value,
        currency=discount.currency,
        min_order=discount.min_order,
        starts_at=discount.starts_at,
        ends_at=discount.ends_at,
        max_uses=discount.max_uses,
        max_uses_per_customer=discount.max_uses_per_customer,
        categories=list(discount.categories),
        active=discount.active,
        uses=uses,
        created_at=discount.created_at,
        updated_at=discount.updated_at,
    )
