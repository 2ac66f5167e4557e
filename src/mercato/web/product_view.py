"""What a product page shows: pictures, price, stock, facts, and the form that adds it.

`product_view` is built from the catalog's product (public, the same for everyone)
and the shopper's side of the page: the add-to-cart form's token (a signed-in
shopper's; a visitor's form posts without one and is sent to log in, see
`pages.product`), the quantity asked for, and the message beside it when the cart
refused it. The product's free-form `attributes` become a list of facts with names
in words (`ram_gb` → `RAM (GB)`, `warrantyInformation` → `Warranty information`);
values that are not plain (nested objects) are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mercato.web.api import catalog
from mercato.web.listing import category_url, shown_fields
from mercato.web.numbers import whole_number
from mercato.web.pictures import Picture, gallery

__all__ = [
    "MAX_QUANTITY",
    "AddForm",
    "CategoryLink",
    "ProductView",
    "attribute_name",
    "attribute_value",
    "facts",
    "parse_quantity",
    "product_view",
]

MAX_QUANTITY = 99  # one add at most; the cart refuses beyond the stock anyway
HIDDEN_FACTS = frozenset({"source_id", "discountPercentage", "availabilityStatus", "sku"})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_UNITS = {
    "gb": "GB",
    "tb": "TB",
    "mb": "MB",
    "kg": "kg",
    "g": "g",
    "l": "L",
    "ml": "ml",
    "wh": "Wh",
    "mah": "mAh",
    "w": "W",
    "hz": "Hz",
    "mm": "mm",
    "cm": "cm",
    "inches": "inches",
    "mp": "MP",
}
_ACRONYMS = {"ram": "RAM", "cpu": "CPU", "gpu": "GPU", "os": "OS", "usb": "USB", "ssd": "SSD"}


def attribute_name(key: str) -> str:
    """A fact's name in words: `ram_gb` is `RAM (GB)`, `warrantyInformation` is `Warranty
    information`."""
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words:
        return key
    unit = _UNITS.get(words[-1]) if len(words) > 1 else None
    if unit:
        words = words[:-1]
    named = [_ACRONYMS.get(w, w) for w in words]
    text = " ".join(named)
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def attribute_value(value: Any) -> str | None:
    """A fact's value as text; None for what is not plain (an object, a list of objects)."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float | str):
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return text or None
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    return None


def facts(attributes: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The product's facts to show, by name."""
    shown = []
    for key, value in attributes.items():
        text = attribute_value(value)
        if key not in HIDDEN_FACTS and text is not None:
            shown.append((attribute_name(key), text))
    return tuple(shown)


def parse_quantity(raw: str) -> int | None:
    """A quantity typed: a whole number from 1 to `MAX_QUANTITY`, else None."""
    value = whole_number(raw, max_digits=4)
    return value if value is not None and 1 <= value <= MAX_QUANTITY else None


@dataclass(frozen=True, slots=True)
class AddForm:
    """The add-to-cart form: the product, the quantity typed, its message, the token."""

    product_id: str
    quantity: str
    max: int
    error: str | None
    csrf_token: str  # '' for a visitor: the post then only sends them to log in


@dataclass(frozen=True, slots=True)
class CategoryLink:
    """The product's category: its name and page."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ProductView:
    """What a product page shows."""

    id: str
    url: str
    title: str
    brand: str
    price: str
    stock: str
    in_stock: bool
    rating: str | None
    description: str
    facts: tuple[tuple[str, str], ...]
    pictures: tuple[Picture, ...]
    category: CategoryLink | None
    form: AddForm
    signed_in: bool


def product_view(
    product: catalog.Product,
    *,
    category: catalog.Category | None,
    csrf_token: str,
    signed_in: bool,
    quantity: str = "1",
    error: str | None = None,
) -> ProductView:
    """The page of `product` for a shopper (`csrf_token` '' for a visitor)."""
    link = None
    if product.category:
        name = category.name if category else product.category.replace("-", " ").title()
        link = CategoryLink(name, category_url(product.category))
    rating = f"Rated {product.rating:.1f} out of 5" if product.rating is not None else None
    return ProductView(
        **shown_fields(product),
        rating=rating,
        description=product.description,
        facts=facts(product.attributes),
        pictures=gallery(product.title, product.thumbnail, product.images),
        category=link,
        form=AddForm(
            product.id,
            quantity,
            max(1, min(product.stock, MAX_QUANTITY)),
            error,
            csrf_token,
        ),
        signed_in=signed_in,
    )
