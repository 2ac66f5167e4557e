"""The checkout's delivery part: the ways to ship the cart, priced by orders, and the choice.

Orders prices shipping (from the shipping service's rates for the cart's weight and the
address's country); the page only offers what orders quotes and sends the method chosen,
never a price. The methods depend on the country, which is typed on the same form, so
without JavaScript the form goes in two steps when the country changes: a post whose
country is not the one the methods were priced for (`quoted_country`, hidden) comes back
with that country's methods to choose from, and places nothing. A form that showed no
methods (no country known when it was drawn: no saved address) is not held back: orders
charges the cheapest delivery, which the order's page then shows. A shop with no
shipping service behind orders charges none (`charged` false): nothing to choose.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from mercato.web.api import orders
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.money import Money, format_money

__all__ = [
    "CHOOSE_DELIVERY",
    "Delivery",
    "ShippingChoice",
    "ShippingPart",
    "delivery_for",
    "refused_choice",
    "shipping_part",
    "shipping_price",
]

log = logging.getLogger("mercato.web.checkout")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
CHOOSE_DELIVERY = "Here is how we can deliver to {country}: choose one, then place the order."
NOT_SHIPPED = "We do not deliver to {country}."
NOT_OFFERED = "Choose one of the delivery options shown."
UNAVAILABLE = "Delivery options cannot be shown right now; the cheapest is charged."
NO_COUNTRY = (
    "The cheapest delivery to your country is added when you place the order; to choose "
    "another, save an address in your account first."
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What orders quoted for shipping the cart to `country` ('' none asked)."""

    country: str
    quotes: tuple[orders.Quote, ...] = ()
    charged: bool = True  # false: the shop charges no shipping
    down: bool = False  # the quote could not be had now

    def quote(self, method: str) -> orders.Quote | None:
        """The quote of `method`, if it is offered."""
        return next((q for q in self.quotes if q.method == method), None)


async def delivery_for(caller: Caller, country: str) -> Delivery:
    """The ways to ship the caller's cart to `country` (checked to be a code first)."""
    country = country.strip().upper()
    if not _COUNTRY.match(country):
        return Delivery("")
    try:
        found = await orders.shipping(caller, country)
    except BackendDown as exc:
        log.warning("no shipping quotes for the checkout: %s", exc)
        return Delivery(country, down=True)
    except ApiError as exc:
        if exc.status != 422:
            raise
        # An empty cart (the form posted again after its order emptied it): nothing to
        # choose; the checkout shows that order, or sends the shopper back to the cart.
        return Delivery(country, charged=False)
    return Delivery(country, found.items, charged=found.charged)


def refused_choice(
    delivery: Delivery, *, quoted_country: str, chosen: str
) -> tuple[dict[str, str], str | None]:
    """Why the delivery chosen on the form cannot be ordered as it is: messages beside
    fields, and one for the form (a changed country: choose again); nothing when it can."""
    if not delivery.charged or delivery.down:
        return {}, None  # nothing to choose; orders charges the cheapest when it can
    if not delivery.quotes:
        return {"country": NOT_SHIPPED.format(country=delivery.country)}, None
    if quoted_country and quoted_country != delivery.country:
        return {}, CHOOSE_DELIVERY.format(country=delivery.country)
    if chosen and delivery.quote(chosen) is None:  # none chosen: orders takes the cheapest
        return {"shipping_method": NOT_OFFERED}, None
    return {}, None


@dataclass(frozen=True, slots=True)
class ShippingChoice:
    """One way to ship, as a radio button."""

    id: str
    value: str
    name: str
    price: str
    days: str
    checked: bool


@dataclass(frozen=True, slots=True)
class ShippingPart:
    """The delivery fieldset: the methods for `country`, the one chosen, and why not."""

    country: str  # what the methods are priced for (the hidden `quoted_country`)
    choices: tuple[ShippingChoice, ...]
    error: str | None
    note: str | None
    chosen: orders.Quote | None


def shipping_part(delivery: Delivery, chosen: str, error: str | None) -> ShippingPart | None:
    """The delivery fieldset (None: the shop charges no shipping); the cheapest is
    checked unless the shopper chose another one offered."""
    if not delivery.charged and not delivery.down and delivery.country:
        return None
    picked = delivery.quote(chosen) or (delivery.quotes[0] if delivery.quotes else None)
    choices = tuple(
        ShippingChoice(
            id=f"ship-{i}",
            value=q.method,
            name=q.name,
            price=format_money(q.price) if q.price.amount else "Free",
            days=_days(q),
            checked=picked is not None and q.method == picked.method,
        )
        for i, q in enumerate(delivery.quotes)
    )
    note = None
    if delivery.down:
        note = UNAVAILABLE
    elif not delivery.country:
        note = NO_COUNTRY
    elif not delivery.quotes:
        note = NOT_SHIPPED.format(country=delivery.country)
    return ShippingPart(delivery.country, choices, error, note, picked)


def shipping_price(part: ShippingPart | None) -> Money | None:
    """What the chosen delivery costs, for the summary (None: nothing chosen or charged)."""
    return part.chosen.price if part is not None and part.chosen is not None else None


def _days(quote: orders.Quote) -> str:
    if quote.min_days == quote.max_days:
        return f"{quote.max_days} working day{'s' if quote.max_days != 1 else ''}"
    return f"{quote.min_days}-{quote.max_days} working days"
