"""An order's lines and what they cost.

An order keeps its lines as JSON (`Order.items`), each `{"product_id", "title",
"quantity", "unit_price": {"amount", "currency"}}`. They are priced twice: when the
order is placed, at the catalog's current prices, and when its stock is reserved, at
the prices the catalog reserved it at (what is charged). Both build the lines with
`order_line` and total them with `items_total`; what one line costs is
`mercato.contracts.money.line_total`, as everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mercato.contracts.inventory import ReservationItemOut
from mercato.contracts.money import line_total, lines_total

__all__ = [
    "DEFAULT_CURRENCY",
    "currency_change",
    "item_total",
    "items_total",
    "order_line",
    "priced_items",
]

DEFAULT_CURRENCY = "USD"  # of a cart or order whose lines name none (an empty cart)


def order_line(
    *, product_id: str, title: str | None, quantity: int, amount: int, currency: str
) -> dict[str, Any]:
    """One line of an order as the order stores it."""
    return {
        "product_id": product_id,
        "title": title,
        "quantity": quantity,
        "unit_price": {"amount": amount, "currency": currency},
    }


def item_total(item: Mapping[str, Any]) -> int:
    """What a stored order line costs."""
    return line_total(item["unit_price"]["amount"], item["quantity"])


def items_total(items: Iterable[Mapping[str, Any]]) -> int:
    """What stored order lines cost together."""
    return lines_total((item["unit_price"]["amount"], item["quantity"]) for item in items)


def priced_items(
    ordered: list[dict[str, Any]], reserved: Sequence[ReservationItemOut]
) -> tuple[list[dict[str, Any]], int, str]:
    """The order's lines with the catalog's reserved unit prices, the total and currency."""
    titles = {item["product_id"]: item.get("title") for item in ordered}
    items: list[dict[str, Any]] = []
    currency = ""
    for line in reserved:
        unit_currency = line.unit_price.currency
        currency = currency or unit_currency
        items.append(
            order_line(
                product_id=line.product_id,
                title=titles.get(line.product_id),
                quantity=line.quantity,
                amount=line.unit_price.amount,
                currency=unit_currency,
            )
        )
    return items, items_total(items), currency or DEFAULT_CURRENCY


def currency_change(items: list[dict[str, Any]], currency: str) -> str | None:
    """Why lines priced now cannot be charged in the order's `currency`, or None."""
    moved = [item for item in items if item["unit_price"]["currency"] != currency]
    if not moved:
        return None
    names = ", ".join(
        f"{item['title'] or item['product_id']} ({item['unit_price']['currency']})"
        for item in moved
    )
    return (
        f"currency mismatch: the order was placed in {currency}, but the price of {names} "
        "is now in another currency"
    )
