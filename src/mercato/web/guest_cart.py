"""A visitor's cart: kept in their session until they sign in, then handed to orders.

Carts belong to accounts, at orders. A visitor who presses "Add to cart" should not
have to create an account first, so what they add is kept in their session's row
(`sessions.cart`, a JSON object of product id to quantity; the first add starts the
session). Their cart page prices it from the catalog's public answers as orders
would, and its Checkout asks them to log in or create an account. Signing in hands
each line to orders (the quantity they held there plus the visitor's), which checks
the stock again; a line it refuses is named in the message the next page shows.

A visitor's cart is bounded (`MAX_LINES` lines, each at most `MAX_QUANTITY`) and
lives as long as their session (an hour after their last page); what is stored is
only ever read back through `lines_of`, which drops anything malformed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from mercato.web.api import orders
from mercato.web.api.backend import ApiError, Caller
from mercato.web.money import Money
from mercato.web.public_reads import PublicReads

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "CartFull",
    "dump",
    "hand_over",
    "lines_of",
    "priced",
    "with_quantity",
]

log = logging.getLogger("mercato.web.guest_cart")
MAX_LINES = 50
MAX_QUANTITY = 9999
MAX_ID = 64
Lines = dict[str, int]


class CartFull(Exception):
    """A visitor's cart already holds `MAX_LINES` products."""


def lines_of(stored: str | None) -> Lines:
    """The lines kept in a session's `cart` column (nothing malformed survives)."""
    if not stored:
        return {}
    try:
        raw = json.loads(stored)
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    lines: Lines = {}
    for product_id, quantity in raw.items():
        if (
            isinstance(product_id, str)
            and 0 < len(product_id) <= MAX_ID
            and isinstance(quantity, int)
            and not isinstance(quantity, bool)
            and 0 < quantity <= MAX_QUANTITY
        ):
            lines[product_id] = quantity
        if len(lines) == MAX_LINES:
            break
    return lines


def dump(lines: Mapping[str, int]) -> str | None:
    """What to store for `lines` (None: the cart is empty)."""
    return json.dumps(dict(lines), separators=(",", ":")) if lines else None


def with_quantity(lines: Mapping[str, int], product_id: str, quantity: int) -> Lines:
    """`lines` with `product_id` at `quantity` (0 takes it out); CartFull past the bound."""
    changed = dict(lines)
    if quantity <= 0:
        changed.pop(product_id, None)
        return changed
    if product_id not in changed and len(changed) >= MAX_LINES:
        raise CartFull(f"A cart holds at most {MAX_LINES} different products.")
    changed[product_id] = min(quantity, MAX_QUANTITY)
    return changed


async def priced(public: PublicReads, lines: Mapping[str, int]) -> orders.Cart:
    """The visitor's cart priced from the catalog now, in the shape orders answers.

    A product the catalog no longer has is a line that cannot be bought; so is one
    priced in another currency than the cart's first line (the cart's total is in one
    currency, as at orders).
    """
    items: list[orders.CartItem] = []
    currency: str | None = None
    total = 0
    for product_id, quantity in lines.items():
        try:
            product = await public.product(product_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            items.append(orders.CartItem(product_id=product_id, quantity=quantity, available=False))
            continue
        currency = currency or product.price.currency
        mismatch = product.price.currency != currency
        line_total = Money(amount=product.price.amount * quantity, currency=product.price.currency)
        if not mismatch:
            total += line_total.amount
        items.append(
            orders.CartItem(
                product_id=product_id,
                title=product.title,
                quantity=quantity,
                unit_price=product.price,
                line_total=line_total,
                currency_mismatch=mismatch,
            )
        )
    return orders.Cart(items=tuple(items), total=Money(amount=total, currency=currency or "USD"))


async def hand_over(caller: Caller, lines: Mapping[str, int]) -> tuple[str, ...]:
    """Add a visitor's lines to the cart of the account just signed in to.

    Each line adds to what that cart held already. Orders checks the stock again;
    the titles (or ids) of the lines it refused are returned, to be told.
    """
    if not lines:
        return ()
    held = {item.product_id: item.quantity for item in (await orders.cart(caller)).items}
    refused: list[str] = []
    for product_id, quantity in lines.items():
        try:
            await orders.set_quantity(caller, product_id, held.get(product_id, 0) + quantity)
        except ApiError as exc:
            if exc.status not in (404, 409, 422):
                raise
            log.info("a visitor's line was not kept at sign-in: %s", exc)
            refused.append(product_id)
    return tuple(refused)
