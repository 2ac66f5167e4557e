"""What the checkout page shows: the form's parts and the order's summary.

The summary adds up what the shopper is about to pay: the items, the cart's discount
code, and the delivery chosen (`checkout_shipping`). The sums are shown, not trusted:
orders prices the order again when it is placed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mercato.web.api import orders, payments
from mercato.web.checkout_form import (
    ADDRESS_FIELDS,
    NEW_CARD,
    CardChoice,
    card_fields,
    card_label,
    field_views,
)
from mercato.web.checkout_shipping import Delivery, ShippingPart, shipping_part, shipping_price
from mercato.web.forms import FieldView
from mercato.web.money import Money, format_money

__all__ = ["CheckoutView", "SummaryLine", "checkout_view"]


@dataclass(frozen=True, slots=True)
class SummaryLine:
    """A line of the order about to be placed."""

    title: str
    quantity: int
    total: str


@dataclass(frozen=True, slots=True)
class CheckoutView:
    """What the checkout page shows."""

    csrf_token: str
    key: str
    message: str | None
    address: tuple[FieldView, ...]
    choices: tuple[CardChoice, ...]  # none: the shopper has no saved card
    payment_error: str | None
    card: tuple[FieldView, ...]
    lines: tuple[SummaryLine, ...]
    total: str  # '' when the cart cannot be shown (orders is down)
    shipping: ShippingPart | None = None  # None: the shop charges no shipping
    subtotal: str = ""  # the items, when a discount or shipping is added to them
    discount: str | None = None  # e.g. '-$3.00 (SPRING10)'
    shipping_price: str | None = None  # the chosen delivery's, e.g. '$4.95' or 'Free'


def checkout_view(
    cart: orders.Cart | None,
    saved: Sequence[payments.PaymentMethod],
    *,
    csrf_token: str,
    key: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
    delivery: Delivery | None = None,
) -> CheckoutView:
    """The checkout form for `cart` (None: unavailable), the shopper's `saved` cards and
    the ways to ship it (`delivery`; None: not asked)."""
    values, errors = values or {}, errors or {}
    part = shipping_part(delivery or Delivery(""), values.get("shipping_method", ""), None)
    if part is not None:
        part = replace(part, error=errors.get("shipping_method"))
    chosen = values.get("payment") or (saved[0].id if saved else NEW_CARD)
    choices: list[CardChoice] = []
    if saved:
        choices = [
            CardChoice(f"pay-{i}", m.id, card_label(m), chosen == m.id) for i, m in enumerate(saved)
        ]
        choices.append(CardChoice("pay-new", NEW_CARD, "A new card", chosen == NEW_CARD))
    lines = tuple(
        SummaryLine(
            item.title or "A product",
            item.quantity,
            format_money(item.line_total) if item.line_total else "—",
        )
        for item in (cart.items if cart else ())
    )
    return CheckoutView(
        csrf_token=csrf_token,
        key=key,
        message=message,
        address=field_views(ADDRESS_FIELDS, values, errors),
        choices=tuple(choices),
        payment_error=errors.get("payment"),
        card=field_views(card_fields(required=not saved), values, errors),
        lines=lines,
        **_summary(cart, part),
    )


def _summary(cart: orders.Cart | None, part: ShippingPart | None) -> dict[str, Any]:
    """The summary's sums: items, discount, the chosen delivery and what is to pay.

    For the shopper to see before they order; what is charged is priced by orders."""
    if cart is None:
        return {"total": "", "shipping": part}
    price = shipping_price(part)
    shipping = None if part is None or price is None else format_money(price)
    if price is not None and not price.amount:
        shipping = "Free"
    discount = None
    if cart.discount_code and cart.discount is not None and cart.discount.amount:
        discount = f"-{format_money(cart.discount)} ({cart.discount_code})"
    total = cart.total
    if price is not None and price.currency == total.currency:
        total = Money(amount=total.amount + price.amount, currency=total.currency)
    return {
        "total": format_money(total),
        "shipping": part,
        "subtotal": format_money(cart.subtotal or cart.total),
        "discount": discount,
        "shipping_price": shipping,
    }
