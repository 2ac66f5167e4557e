"""The cart: one per customer, quantities stored here, prices always the catalog's.

A cart holds one currency, the one its first line is priced in: a product priced in
another is refused with a 422 naming it (the cart unchanged), so a total never adds
yen to dollars. A line whose product later changes currency is shown, flagged
`currency_mismatch`, but not counted in the total, and checkout refuses the cart
until it is removed. Changes to the lines lock the cart first (`store.lock_cart`),
so its limits hold under concurrent requests. A discount code on the cart
(`discounts.with_discount`) is taken off the total it shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import begin_write
from mercato.chassis.web.errors import Conflict, Unprocessable, field_error
from mercato.contracts.money import line_total
from mercato.contracts.products import ProductOut
from mercato.orders import discount_store, discounts, store
from mercato.orders.clients import Catalog
from mercato.orders.models import CartLine
from mercato.orders.pricing import DEFAULT_CURRENCY
from mercato.orders.schemas import CartItemOut, CartOut, MoneyOut

__all__ = [
    "MAX_LINES",
    "clear_cart",
    "currency_error",
    "item_error",
    "price_cart",
    "priced_cart",
    "remove_item",
    "set_quantity",
    "view_cart",
]

MAX_LINES = 50


def item_error(
    product_id: str, field: str, message: str, *, type: str | None = None
) -> dict[str, Any]:
    """A validation error naming one cart item's field (`items.<product_id>.<field>`)."""
    return field_error(f"items.{product_id}.{field}", message, type=type, product_id=product_id)


def currency_error(product_id: str, priced_in: str, cart_currency: str) -> dict[str, Any]:
    """The validation error of a product priced in another currency than the cart."""
    return item_error(
        product_id,
        "product_id",
        f"priced in {priced_in}, but the cart holds {cart_currency}",
        type="currency_mismatch",
    )


def cart_currency(product_ids: Sequence[str], products: dict[str, ProductOut]) -> str | None:
    """The currency of a cart: its first line's that is still sold (None: no such line)."""
    for product_id in product_ids:
        product = products.get(product_id)
        if product is not None:
            return product.price.currency
    return None


def price_cart(lines: Sequence[CartLine], products: dict[str, ProductOut]) -> CartOut:
    """The cart's lines with the current prices of `products`, and its total."""
    items: list[CartItemOut] = []
    total = 0
    currency = cart_currency([line.product_id for line in lines], products) or DEFAULT_CURRENCY
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            items.append(
                CartItemOut(
                    product_id=line.product_id,
                    title=None,
                    quantity=line.quantity,
                    unit_price=None,
                    line_total=None,
                    available=False,
                )
            )
            continue
        cost = line_total(product.price.amount, line.quantity)
        mismatch = product.price.currency != currency
        if not mismatch:
            total += cost
        items.append(
            CartItemOut(
                product_id=line.product_id,
                title=product.title,
                quantity=line.quantity,
                unit_price=MoneyOut(amount=product.price.amount, currency=product.price.currency),
                line_total=MoneyOut(amount=cost, currency=product.price.currency),
                available=True,
                currency_mismatch=mismatch,
            )
        )
    return CartOut(items=items, total=MoneyOut(amount=total, currency=currency))


async def priced_cart(
    session: AsyncSession,
    *,
    catalog: Catalog,
    user_id: str,
    known: Mapping[str, ProductOut] | None = None,
) -> tuple[CartOut, dict[str, ProductOut]]:
    """The caller's cart at current catalog prices, its code left aside, and its products.

    `known`: products this request has just had from the catalog; when they cover every
    line, the catalog is not asked again (one round trip where two were made).
    """
    lines = await store.cart_lines(session, user_id)
    return await _priced_lines(lines, catalog=catalog, known=known)


async def _priced_lines(
    lines: Sequence[CartLine], *, catalog: Catalog, known: Mapping[str, ProductOut] | None
) -> tuple[CartOut, dict[str, ProductOut]]:
    ids = [line.product_id for line in lines]
    if known is not None and all(product_id in known for product_id in ids):
        products = {product_id: known[product_id] for product_id in ids}
    else:
        products = await catalog.products(ids) if lines else {}
    return price_cart(lines, products), products


async def view_cart(
    session: AsyncSession,
    *,
    catalog: Catalog,
    user_id: str,
    known: Mapping[str, ProductOut] | None = None,
) -> CartOut:
    """The caller's cart at current catalog prices, less its code's discount (503 when the
    catalog is down); `known` as in `priced_cart`."""
    priced, products = await priced_cart(session, catalog=catalog, user_id=user_id, known=known)
    return await discounts.with_discount(session, user_id=user_id, cart=priced, products=products)


async def set_quantity(
    session: AsyncSession, *, catalog: Catalog, user_id: str, product_id: str, quantity: int
) -> CartOut:
    """Put `quantity` of a product in the cart; 422 naming the item when it cannot be."""
    if quantity < 1:
        raise Unprocessable(
            "The quantity must be at least 1; remove the item instead.",
            errors=[item_error(product_id, "quantity", "must be at least 1")],
        )
    lines = await store.cart_lines(session, user_id)
    others = [line.product_id for line in lines if line.product_id != product_id]
    await session.rollback()  # end the read: no transaction waits on the catalog
    products = await catalog.products([product_id, *others])
    product = products.get(product_id)
    if product is None:
        raise Unprocessable(
            f"There is no product {product_id}.",
            errors=[item_error(product_id, "product_id", "no such product")],
        )
    if quantity > product.stock:
        raise Unprocessable(
            f"Only {product.stock} of {product.title or product_id} are available.",
            errors=[item_error(product_id, "quantity", f"only {product.stock} available")],
        )
    currency = cart_currency(others, products)
    if currency is not None and product.price.currency != currency:
        raise Unprocessable(
            f"A cart holds one currency: it holds {currency}, and {product.title or product_id} "
            f"is priced in {product.price.currency}. Check out or empty the cart first.",
            errors=[currency_error(product_id, product.price.currency, currency)],
        )
    await begin_write(session)
    await store.lock_cart(session, user_id)
    lines = await store.cart_lines(session, user_id)
    known = {line.product_id for line in lines}
    unseen = known - {product_id} - set(others)
    if currency is None and unseen:  # lines came meanwhile, their currency unchecked
        raise Conflict("The cart changed while the product was being added; try again.")
    if product_id not in known and len(known) >= MAX_LINES:
        raise Unprocessable(
            f"A cart holds at most {MAX_LINES} different products.",
            errors=[item_error(product_id, "product_id", "the cart is full")],
        )
    lines = store.put_line(
        session,
        lines,
        user_id=user_id,
        product_id=product_id,
        quantity=quantity,
        now=datetime.now(UTC),
    )
    await session.commit()
    # The lines as committed (this transaction held the cart's lock): not read again.
    priced, priced_products = await _priced_lines(lines, catalog=catalog, known=products)
    return await discounts.with_discount(
        session, user_id=user_id, cart=priced, products=priced_products
    )


async def remove_item(
    session: AsyncSession, *, catalog: Catalog, user_id: str, product_id: str
) -> CartOut:
    """Take a product out of the cart (absent is fine) and answer the cart."""
    await begin_write(session)
    await store.remove_line(session, user_id=user_id, product_id=product_id)
    await session.commit()
    return await view_cart(session, catalog=catalog, user_id=user_id)


async def clear_cart(session: AsyncSession, *, user_id: str) -> None:
    """Empty the caller's cart (its discount code too)."""
    await begin_write(session)
    await store.clear_cart(session, user_id)
    await discount_store.drop_cart_code(session, user_id)
    await session.commit()
