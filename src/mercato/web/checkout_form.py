"""The checkout form: its fields, reading a post, the services' refusals, what it shows.

    Shipping    Name, Address, City, Postal code (optional), Country (a two-letter code)
    Delivery    the ways orders quotes for the country (radio buttons; `checkout_shipping`)
    Payment     a saved card (radio buttons: brand, last four digits, expiry) or
                "A new card": Card number, Expiry (MM/YY), CVC
    key         the form's idempotency key (hidden; `checkouts`)

`read_checkout` checks what a shopper can get wrong before anything is sent (a
missing field, an expiry in the past, a country that is not a code) and gives every
message at once, beside its field. What the services refuse comes back the same way
(`card_errors`, `order_errors`). What was typed is shown again, except the CVC.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from mercato.web.api import payments
from mercato.web.api.backend import ApiError
from mercato.web.forms import Field, FieldView, Posted, form_view
from mercato.web.numbers import whole_number

__all__ = [
    "ADDRESS_FIELDS",
    "NEW_CARD",
    "CardChoice",
    "CheckoutInput",
    "NewCard",
    "card_errors",
    "card_fields",
    "card_label",
    "new_key",
    "order_errors",
    "read_checkout",
    "valid_key",
]

NEW_CARD = "new"
ADDRESS_FIELDS = (
    Field("name", "Name", "text", "shipping name", max_length=200),
    Field("line1", "Address", "text", "shipping street-address", max_length=200),
    Field("city", "City", "text", "shipping address-level2", max_length=100),
    Field(
        "postal_code", "Postal code", "text", "shipping postal-code", required=False, max_length=20
    ),
    Field(
        "country",
        "Country",
        "text",
        "shipping country",
        max_length=2,
        hint="Its two-letter code, such as GB, DE or US.",
    ),
)
CARD_HINT = "Payments are simulated: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined."
_KEY = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_EXPIRY = re.compile(r"^(\d{1,2})\s*/\s*(\d{2}|\d{4})$|^(\d{2})(\d{2})$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
CHOOSE = "Choose how to pay."
TYPED_BUT_SAVED = (
    "You typed a new card: choose “A new card” to pay with it, or clear the card number."
)
CARD_MESSAGES = {
    "card_number": "This is not a valid card number: please check the digits.",
    "expiry": "This expiry is not valid, or the card has expired.",
    "cvc": "CVC must be the 3 or 4 digits on the card.",
}
TOO_MANY_CARDS = "You have as many saved cards as allowed: please pay with a saved card."
PROVIDER_DOWN = (
    "We could not check this card with the payment provider just now. Please try again, "
    "or pay with a saved card."
)


def new_key() -> str:
    """A new idempotency key for a rendering of the checkout form."""
    return secrets.token_urlsafe(24)


def valid_key(key: str) -> bool:
    """Whether a posted key is one this form could have given."""
    return _KEY.fullmatch(key) is not None


def card_fields(*, required: bool) -> tuple[Field, ...]:
    """The new card's fields (required when the shopper has no saved card)."""
    return (
        Field("card_number", "Card number", "text", "cc-number", required, 23, CARD_HINT),
        Field("expiry", "Expiry", "text", "cc-exp", required, 7, "MM/YY, as on the card."),
        Field("cvc", "CVC", "text", "cc-csc", required, 4, "The 3 or 4 digits on the back."),
    )


def card_label(method: payments.PaymentMethod) -> str:
    """A saved card as a shopper recognises it: `Visa ending in 4242, expires 12/29`."""
    brand = {"amex": "American Express", "mastercard": "Mastercard"}.get(
        method.brand, method.brand.capitalize()
    )
    expires = f"{method.exp_month:02d}/{method.exp_year % 100:02d}"
    return f"{brand} ending in {method.last4}, expires {expires}"


@dataclass(frozen=True, slots=True)
class NewCard:
    """A card typed into the form."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str

    @property
    def last4(self) -> str:
        """The number's last four digits."""
        return self.number[-4:]


@dataclass(frozen=True, slots=True)
class CheckoutInput:
    """A checkout post that passed the form's checks."""

    key: str
    address: dict[str, Any]  # orders' `shipping_address`
    method_id: str | None  # a saved card chosen
    card: NewCard | None  # or a new card
    shipping_method: str = ""  # the delivery chosen ('': none offered, orders takes the cheapest)


@dataclass(frozen=True, slots=True)
class CardChoice:
    """A radio button of the payment choice."""

    id: str
    value: str
    label: str
    checked: bool


def _expiry(raw: str, today: date) -> tuple[int, int] | str:
    found = _EXPIRY.fullmatch(raw.strip())
    if found is None:
        return "Expiry must be a month and year, such as 04/29."
    month_text, year_text = (
        (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
    )
    month, year = int(month_text), int(year_text)
    year += 2000 if year < 100 else 0
    if not 1 <= month <= 12:
        return "Expiry must be a month from 01 to 12, then the year: 04/29."
    if (year, month) < (today.year, today.month):
        return "This card has expired."
    return month, year


def _new_card(posted: Posted, today: date, errors: dict[str, str]) -> NewCard | None:
    number = re.sub(r"[\s-]", "", posted["card_number"])
    if not number:
        errors["card_number"] = "Card number is required."
    elif whole_number(number, max_digits=19) is None or len(number) < 12:
        errors["card_number"] = "Card number must be 12 to 19 digits."
    expiry = (
        _expiry(posted["expiry"], today) if posted.stripped("expiry") else "Expiry is required."
    )
    if isinstance(expiry, str):
        errors["expiry"] = expiry
    cvc = posted.stripped("cvc")
    if not re.fullmatch(r"\d{3,4}", cvc):
        errors["cvc"] = "CVC is required." if not cvc else CARD_MESSAGES["cvc"]
    if any(name in errors for name in ("card_number", "expiry", "cvc")):
        return None
    assert not isinstance(expiry, str)
    return NewCard(number, expiry[0], expiry[1], cvc)


def _address(posted: Posted, errors: dict[str, str]) -> dict[str, Any]:
    address: dict[str, Any] = {}
    for f in ADDRESS_FIELDS:
        value = posted.stripped(f.name)
        if f.required and not value:
            errors[f.name] = f"{f.label} is required."
        address[f.name] = value or None
    country = (address["country"] or "").upper()
    if country and not _COUNTRY.fullmatch(country):
        errors["country"] = "Country must be a two-letter code, such as GB, DE or US."
    address["country"] = country
    return address


def read_checkout(
    posted: Posted, saved: Sequence[payments.PaymentMethod], *, today: date
) -> tuple[CheckoutInput | None, dict[str, str]]:
    """The checkout post, or None and a message for each field that is wrong."""
    errors: dict[str, str] = {}
    address = _address(posted, errors)
    choice = posted.stripped("payment") or (NEW_CARD if not saved else "")
    method_id = None
    card = None
    if choice == NEW_CARD:
        card = _new_card(posted, today, errors)
    elif choice in {m.id for m in saved}:
        method_id = choice
        if posted.stripped("card_number"):
            errors["payment"] = TYPED_BUT_SAVED
    else:
        errors["payment"] = CHOOSE
    if errors:
        return None, errors
    method = posted.stripped("shipping_method")[:40]
    return CheckoutInput(posted.stripped("key"), address, method_id, card, method), {}


def kept_values(posted: Posted) -> dict[str, str]:
    """What the form shows again: everything typed but the CVC (and the token)."""
    names = [f.name for f in ADDRESS_FIELDS] + ["card_number", "expiry", "shipping_method"]
    return {name: posted[name][:200] for name in names}


def card_errors(exc: ApiError) -> dict[str, str]:
    """Payments' refusal of a new card, beside the card's fields."""
    if exc.status == 409:
        return {"card_number": TOO_MANY_CARDS}
    errors: dict[str, str] = {}
    for error in exc.errors:
        field = {"exp_month": "expiry", "exp_year": "expiry"}.get(error.field, error.field)
        if field in CARD_MESSAGES and field not in errors:
            errors[field] = (
                "This card has expired." if "expired" in error.message else CARD_MESSAGES[field]
            )
    return errors or {"card_number": exc.detail}


def order_errors(exc: ApiError) -> tuple[dict[str, str], str | None]:
    """Orders' refusal of the checkout: messages beside fields, and one for the form."""
    labels = {f.name: f.label for f in ADDRESS_FIELDS}
    errors: dict[str, str] = {}
    for error in exc.errors:
        parts = error.field.split(".")
        if parts[0] == "shipping_address" and len(parts) > 1 and parts[1] in labels:
            errors.setdefault(parts[1], f"{labels[parts[1]]} is not valid.")
        elif parts[0] == "payment_method_id":
            errors.setdefault("payment", "That card cannot be used: choose another one.")
        elif parts[0] == "shipping_method":
            errors.setdefault("shipping_method", "Choose one of the delivery options shown.")
    return errors, None if errors else exc.detail


def field_views(
    fields: Sequence[Field], values: Mapping[str, str], errors: Mapping[str, str]
) -> tuple[FieldView, ...]:
    """The fields of one part of the checkout form, as shown."""
    return form_view(
        "checkout", fields, action="", submit="", csrf_token="", values=values, errors=errors
    ).fields
