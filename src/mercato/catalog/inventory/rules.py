"""Inventory rules that need no database: lines, shortages, expiry, event data.

A reservation request may name a product more than once; `merge_lines` adds those
up into one line per product, remembering the index of the product's first item so
that a problem names the field the client sent (`items.N.quantity`). Lines are
reserved in the order of their product ids (`locking_order`) so that two requests
touching the same products lock their rows in the same order and cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from mercato.catalog.schemas import ReservationItemIn
from mercato.chassis.web.errors import Conflict, Unprocessable, field_error
from mercato.contracts.events import InventoryReleased, PriceChanged, StockChanged
from mercato.contracts.events import Money as EventMoney
from mercato.contracts.money import MAX_AMOUNT

__all__ = [
    "Line",
    "OutOfStock",
    "Shortage",
    "StockLevel",
    "costs_too_much",
    "is_expired",
    "locking_order",
    "merge_lines",
    "out_of_stock",
    "price_changed_event",
    "released_event",
    "stock_changed_event",
    "unknown_products",
]


@dataclass(frozen=True, slots=True)
class Line:
    """One product's total quantity in a request and the index of its first item."""

    product_id: str
    quantity: int
    index: int


@dataclass(frozen=True, slots=True)
class StockLevel:
    """A product's stock numbers after a change."""

    product_id: str
    sku: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        """Units that can still be reserved."""
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class Shortage:
    """A line that could not be reserved and how many units were available for it."""

    line: Line
    available: int


class OutOfStock(Conflict):
    """409: not every line of a reservation could be held, so none was."""

    title, slug = "Out of Stock", "out-of-stock"


def merge_lines(items: Sequence[ReservationItemIn]) -> list[Line]:
    """One line per product in the order first named, quantities added up."""
    merged: dict[str, Line] = {}
    for index, item in enumerate(items):
        seen = merged.get(item.product_id)
        if seen is None:
            merged[item.product_id] = Line(item.product_id, item.quantity, index)
        else:
            merged[item.product_id] = Line(
                item.product_id, seen.quantity + item.quantity, seen.index
            )
    return list(merged.values())


def locking_order(lines: Iterable[Line]) -> list[Line]:
    """Lines sorted by product id: the order their product rows are locked in."""
    return sorted(lines, key=lambda line: line.product_id)


def unknown_products(lines: Sequence[Line], known: Iterable[str]) -> Unprocessable | None:
    """422 naming `items.N.product_id` of every unknown product, or None."""
    found = set(known)
    missing = [line for line in lines if line.product_id not in found]
    if not missing:
        return None
    names = ", ".join(line.product_id for line in missing)
    return Unprocessable(
        f"There is no product {names}.",
        errors=[
            field_error(
                f"items.{line.index}.product_id", "no such product", product_id=line.product_id
            )
            for line in missing
        ],
    )


def costs_too_much(total: int) -> Unprocessable | None:
    """422 on `items` when a reservation's total is more than any amount may be, or None.

    Each price and quantity is within bounds, but their products add up past what
    payments would charge (and, far enough, past a 64-bit column).
    """
    if total <= MAX_AMOUNT:
        return None
    return Unprocessable(
        f"The reservation's total, {total} minor units, is more than {MAX_AMOUNT}.",
        errors=[field_error("items", f"the total exceeds {MAX_AMOUNT}")],
    )


def out_of_stock(shortages: Sequence[Shortage]) -> OutOfStock:
    """409 `out-of-stock` naming `items.N.quantity` of every short line."""
    ordered = sorted(shortages, key=lambda s: s.line.index)
    names = ", ".join(s.line.product_id for s in ordered)
    return OutOfStock(
        f"Not enough stock for {names}; nothing was reserved.",
        errors=[
            field_error(
                f"items.{s.line.index}.quantity",
                f"only {s.available} available",
                product_id=s.line.product_id,
                available=s.available,
            )
            for s in ordered
        ],
    )


def is_expired(expires_at: datetime, now: datetime) -> bool:
    """Whether a reservation expiring at `expires_at` has expired at `now`."""
    return expires_at <= now


def stock_changed_event(level: StockLevel) -> StockChanged:
    """The `product.stock_changed` event of a stock level."""
    return StockChanged(
        product_id=level.product_id,
        sku=level.sku,
        on_hand=level.on_hand,
        reserved=level.reserved,
        available=level.available,
    )


def price_changed_event(
    *, product_id: str, sku: str, old: tuple[int, str], new: tuple[int, str]
) -> PriceChanged:
    """The `product.price_changed` event of a new price (prices as amount and currency)."""
    return PriceChanged(
        product_id=product_id,
        sku=sku,
        old_price=EventMoney(amount=old[0], currency=old[1]),
        new_price=EventMoney(amount=new[0], currency=new[1]),
    )


def released_event(order_id: str, reason: str) -> InventoryReleased:
    """The `inventory.released` event of a reservation given back."""
    return InventoryReleased(order_id=order_id, reason=reason)
