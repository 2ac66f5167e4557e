"""What checkout adds to the items: shipping and a discount, each priced once, on the server.

`price_extras` runs while the order is priced, before its transaction: it takes the
code (the request's, else the cart's) as it applies now, and the quote of the chosen
shipping method (absent: the cheapest) for the parcel's weight, the destination and
the items less the discount. `use_discount` then runs inside the transaction that
inserts the order: it locks the code, checks it again and records its use. Nothing
a client sends is trusted as a price. The order's total is
`items + shipping - discount` (`total_of`), never negative since a discount never
exceeds the items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.web.errors import Unprocessable, field_error
from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.products import ProductOut
from mercato.contracts.shipping import Quote
from mercato.orders import discount_store, discounts
from mercato.orders.discount_rules import PricedLine
from mercato.orders.discounts import Applied
from mercato.orders.pricing import item_total
from mercato.orders.schemas import CheckoutIn
from mercato.orders.shipping_quotes import Shipping, choose, weight_of

__all__ = ["Extras", "cart_quotes_for", "price_extras", "total_of", "use_discount"]


@dataclass(frozen=True, slots=True)
class Extras:
    """Shipping and discount of an order being placed, and the lines they were priced on."""

    shipping: int = 0
    method: str | None = None
    discount: Applied | None = None
    lines: list[PricedLine] = field(default_factory=list)

    @property
    def discount_amount(self) -> int:
        """What the code takes off (0: no code)."""
        return self.discount.amount if self.discount is not None else 0


def total_of(subtotal: int, extras: Extras) -> int:
    """What is charged: items + shipping - discount."""
    return subtotal + extras.shipping - extras.discount_amount


def discount_lines(
    items: Sequence[Mapping[str, Any]], products: Mapping[str, ProductOut]
) -> list[PricedLine]:
    """Order lines with their products' categories, as a discount reads them."""
    return [PricedLine(item_total(item), products[item["product_id"]].category) for item in items]


async def price_extras(
    session: AsyncSession,
    *,
    shipping: Shipping,
    user_id: str,
    order_in: CheckoutIn,
    items: Sequence[Mapping[str, Any]],
    products: Mapping[str, ProductOut],
    currency: str,
) -> Extras:
    """The order's discount and shipping; 422 naming the field that cannot be met."""
    lines = discount_lines(items, products)
    subtotal = sum(line.amount for line in lines)
    code = order_in.discount_code or await discount_store.cart_code(session, user_id)
    found = None
    if code:
        found = await discounts.applied(
            session, code=code, user_id=user_id, lines=lines, currency=currency
        )
    extras = Extras(discount=found, lines=lines)
    if shipping.enabled:
        parcel = [(products[item["product_id"]], int(item["quantity"])) for item in items]
        country = order_in.shipping_address.country
        quotes = await shipping.quotes(
            country=country,
            currency=currency,
            weight_grams=weight_of(parcel),
            subtotal=subtotal - extras.discount_amount,
        )
        quote = choose(quotes, method=order_in.shipping_method, country=country)
        extras = Extras(quote.price.amount, quote.method, found, lines)
    total = total_of(subtotal, extras)
    if total > MAX_AMOUNT:  # payments would refuse the charge
        raise Unprocessable(
            f"The order's total, {total} minor units, is more than one payment may take "
            f"({MAX_AMOUNT}).",
            errors=[field_error("cart", f"the total exceeds {MAX_AMOUNT}")],
        )
    return extras


async def use_discount(
    session: AsyncSession,
    *,
    extras: Extras,
    user_id: str,
    order_id: str,
    currency: str,
    now: datetime,
) -> None:
    """Record the code's use by the order, in its transaction; take the code off the cart."""
    if extras.discount is not None:
        await discounts.redeem(
            session,
            expected=extras.discount,
            user_id=user_id,
            order_id=order_id,
            lines=extras.lines,
            currency=currency,
            now=now,
        )
    await discount_store.drop_cart_code(session, user_id)


async def cart_quotes_for(
    shipping: Shipping,
    *,
    country: str,
    currency: str,
    parcel: Sequence[tuple[ProductOut, int]],
    subtotal: int,
) -> tuple[list[Quote], int]:
    """The quotes for a cart's parcel, and its weight."""
    weight = weight_of(parcel)
    quotes = await shipping.quotes(
        country=country, currency=currency, weight_grams=weight, subtotal=subtotal
    )
    return quotes, weight
