"""The mails' templates: a subject, a text body and an HTML body per kind.

Templates are files beside this module (`templates/<kind>.txt` and `.html`, the HTML
ones extending `layout.html`); HTML is autoescaped, so a customer's name or a
carrier's tracking number can never inject markup. A template holds wording; what it
shows (amounts formatted, links built) is computed here, in `render`, and a missing
value is an error (`StrictUndefined`), not a blank in a customer's mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jinja2

from mercato.contracts.money import major_units
from mercato.notifications.kinds import Kind

__all__ = ["SAMPLES", "Rendered", "Shop", "Templates", "format_money"]

SUBJECTS: dict[Kind, str] = {
    Kind.ACCOUNT_CREATED: "Welcome to {{ shop.name }}",
    Kind.ORDER_CONFIRMED: "Your {{ shop.name }} order {{ order_id }} is confirmed",
    Kind.PAYMENT_FAILED: "Payment for your {{ shop.name }} order {{ order_id }} failed",
    Kind.SHIPMENT_SHIPPED: "Your {{ shop.name }} order {{ order_id }} is on its way",
    Kind.SHIPMENT_DELIVERED: "Your {{ shop.name }} order {{ order_id }} was delivered",
    Kind.REFUND_ISSUED: "Refund of {{ amount }} for your {{ shop.name }} order {{ order_id }}",
}
# Placeholder values for the admins' preview (`GET /api/notifications/templates`).
SAMPLES: dict[Kind, dict[str, Any]] = {
    Kind.ACCOUNT_CREATED: {"name": "Ada Lovelace", "email": "ada@example.com"},
    Kind.ORDER_CONFIRMED: {
        "name": "Ada Lovelace",
        "order_id": "ord_0123456789",
        "total": {"amount": 4250, "currency": "EUR"},
    },
    Kind.PAYMENT_FAILED: {
        "name": "Ada Lovelace",
        "order_id": "ord_0123456789",
        "total": {"amount": 4250, "currency": "EUR"},
        "reason": "card_declined",
    },
    Kind.SHIPMENT_SHIPPED: {
        "name": "Ada Lovelace",
        "order_id": "ord_0123456789",
        "carrier": "DHL",
        "tracking_number": "JD014600003828",
        "tracking_url": "https://tracking.example.com/JD014600003828",
    },
    Kind.SHIPMENT_DELIVERED: {"name": "Ada Lovelace", "order_id": "ord_0123456789"},
    Kind.REFUND_ISSUED: {
        "name": "Ada Lovelace",
        "order_id": "ord_0123456789",
        "total": {"amount": 1999, "currency": "EUR"},
        "reason": "requested_by_customer",
    },
}


def format_money(amount: int, currency: str) -> str:
    """`4250 EUR` as `EUR 42.50`: minor units shown with the currency's decimals."""
    return f"{currency.upper()} {major_units(amount, currency)}"


@dataclass(frozen=True, slots=True)
class Shop:
    """Who the mails come from: the shop's name and the storefront's base URL."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """One mail's subject and bodies."""

    subject: str
    text: str
    html: str


class Templates:
    """The loaded templates of every kind; `render` fills one in."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        loader = jinja2.PackageLoader("mercato.notifications", "templates")
        self._html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )
        # Text bodies and subjects are not HTML: escaping them would show `&amp;`.
        self._text = jinja2.Environment(
            loader=loader,
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._subjects = {kind: self._text.from_string(src) for kind, src in SUBJECTS.items()}

    def values(self, kind: Kind, data: dict[str, Any]) -> dict[str, Any]:
        """What the templates of `kind` see: `data`, the shop, the amount, the links."""
        values: dict[str, Any] = {"shop": self.shop, **data}
        total = data.get("total")
        if isinstance(total, dict):
            values["amount"] = format_money(int(total["amount"]), str(total["currency"]))
        order_id = data.get("order_id")
        if isinstance(order_id, str):
            values["order_url"] = f"{self.shop.url}/orders/{quote(order_id, safe='')}"
        values["account_url"] = f"{self.shop.url}/account"
        tracking = data.get("tracking_url")
        # Only a web link is a link: a `javascript:` one must never reach an href.
        web = isinstance(tracking, str) and tracking.startswith(("https://", "http://"))
        values["tracking_url"] = tracking if web else None
        return values

    def render(self, kind: Kind, data: dict[str, Any]) -> Rendered:
        """The subject, text and HTML of a mail of `kind` about `data`."""
        values = self.values(kind, data)
        # One line: a subject with a line break would be a header injection.
        subject = " ".join(self._subjects[kind].render(values).split())
        text = self._text.get_template(f"{kind.value}.txt").render(values)
        html = self._html.get_template(f"{kind.value}.html").render(values)
        return Rendered(subject=subject, text=text, html=html)

    def preview(self, kind: Kind) -> Rendered:
        """A mail of `kind` filled with the sample values."""
        return self.render(kind, SAMPLES[kind])
