"""The cart: `/cart`, changing a line's quantity and removing it.

The cart is the signed-in shopper's, at orders, priced from the catalog now; a
visitor's is kept in their session (`guest_cart`) and priced the same way, and its
Checkout asks them to log in or create an account first. Each line has a form
that sets its quantity (`POST /cart/items/{id}`; 0 removes it) and one that removes
it (`POST /cart/items/{id}/remove`); both come back to the cart. A quantity that is
not a number, or that the cart refuses (beyond the stock), shows the cart again with
the message beside that line's field (422). A line whose product left the catalog,
or is now priced in another currency, says so, and checkout waits until it is
removed. Orders down is the 503 page that names "Cart and orders".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web import guest_cart
from mercato.web.api import orders
from mercato.web.api.backend import ApiError, Caller
from mercato.web.forms import FormRefused, Posted, read_form
from mercato.web.listing import product_url
from mercato.web.money import format_money
from mercato.web.numbers import whole_number
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep

__all__ = [
    "CartLineView",
    "CartView",
    "CodeTyped",
    "DiscountView",
    "cart_view",
    "discount_view",
    "render_cart",
    "router",
]

log = logging.getLogger("mercato.web.cart")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
BAD_QUANTITY = "Quantity must be a whole number (0 removes the item)."
GONE = "No longer sold: remove it to check out."
OTHER_CURRENCY = "Now priced in another currency: remove it to check out."
BLOCKED = "Remove the items that can no longer be bought to check out."
REMOVED = "Removed {title} from your cart."
UPDATED = "Updated the quantity of {title}."
MAX_CART_QUANTITY = 9999


@dataclass(frozen=True, slots=True)
class CartLineView:
    """A line of the cart: the product, its prices, the quantity and its message."""

    product_id: str
    index: int
    title: str
    url: str
    unit_price: str | None
    quantity: str
    line_total: str | None
    note: str | None  # why it cannot be bought now
    error: str | None  # why the quantity typed was refused

    @property
    def update_url(self) -> str:
        """Where its quantity form posts."""
        return f"/cart/items/{quote(self.product_id, safe='')}"

    @property
    def remove_url(self) -> str:
        """Where its remove button posts."""
        return f"{self.update_url}/remove"


@dataclass(frozen=True, slots=True)
class DiscountView:
    """The cart's discount code form and what the code takes off."""

    subtotal: str
    amount: str | None  # what the code takes off, e.g. '-$3.00'; None: no code on the cart
    code: str | None  # the code on the cart
    problem: str | None  # why the code on the cart takes nothing off now
    typed: str  # what the code field shows
    error: str | None  # why the code typed was refused


@dataclass(frozen=True, slots=True)
class CartView:
    """What the cart page shows."""

    signed_in: bool
    lines: tuple[CartLineView, ...]
    total: str
    count: int
    csrf_token: str
    blocked: str | None  # why checkout must wait
    message: str | None = None  # a refused post's message
    discount: DiscountView | None = None  # None: visitors (codes are for accounts)

    @property
    def empty(self) -> bool:
        """Whether the cart holds nothing."""
        return not self.lines


def cart_view(
    cart: orders.Cart | None,
    *,
    signed_in: bool,
    csrf_token: str,
    errors: Mapping[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
    message: str | None = None,
    code: CodeTyped | None = None,
) -> CartView:
    """The cart page (`cart` None: an empty one); `errors` and `typed` by product id,
    `code` the discount code typed and why it was refused."""
    if cart is None:
        return CartView(signed_in, (), "", 0, csrf_token, None, message)
    errors, typed = errors or {}, typed or {}
    lines = []
    for index, item in enumerate(cart.items):
        note = GONE if not item.available else OTHER_CURRENCY if item.currency_mismatch else None
        lines.append(
            CartLineView(
                product_id=item.product_id,
                index=index,
                title=item.title or "A product no longer in the catalogue",
                url=product_url(item.product_id),
                unit_price=format_money(item.unit_price) if item.unit_price else None,
                quantity=typed.get(item.product_id, str(item.quantity)),
                line_total=format_money(item.line_total) if item.line_total else None,
                note=note,
                error=errors.get(item.product_id),
            )
        )
    blocked = BLOCKED if any(line.note for line in lines) else None
    total = format_money(cart.total)
    discount = discount_view(cart, code) if signed_in else None
    return CartView(
        signed_in, tuple(lines), total, cart.count, csrf_token, blocked, message, discount
    )


@dataclass(frozen=True, slots=True)
class CodeTyped:
    """A discount code the shopper typed and why it was refused (None: it was not)."""

    text: str
    error: str | None


def discount_view(cart: orders.Cart, typed: CodeTyped | None) -> DiscountView:
    """The discount part of the cart: the code on it, what it takes off, the form."""
    subtotal = format_money(cart.subtotal or cart.total)
    amount = None
    if cart.discount_code and cart.discount is not None:
        amount = "-" + format_money(cart.discount)
    return DiscountView(
        subtotal=subtotal,
        amount=amount,
        code=cart.discount_code,
        problem=cart.discount_problem,
        typed=typed.text if typed else "",
        error=typed.error if typed else None,
    )


async def render_cart(
    shopper: Shopper,
    *,
    errors: Mapping[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
    status: int = 200,
    message: str | None = None,
    code: CodeTyped | None = None,
) -> Response:
    """The cart page, with what a refused post typed and why (`status` 403, 422)."""
    layout = await layout_of(shopper)
    cart: orders.Cart | None = None
    if shopper.signed_in:
        cart = await orders.full_cart(await shopper.caller())
    elif lines := shopper.guest_lines:
        cart = await guest_cart.priced(shopper.ctx.public, lines)
    view = cart_view(
        cart,
        signed_in=shopper.signed_in,
        csrf_token=layout.csrf_token,
        errors=errors,
        typed=typed,
        message=message,
        code=code,
    )
    return shopper.ctx.templates.page(
        "shop/cart.html", layout=layout, title="Your cart", view=view, status=status
    )


@router.get("/cart")
async def cart_page(shopper: ShopperDep) -> Response:
    """The shopper's cart (a visitor's from their session)."""
    return await render_cart(shopper)


def _quantity(raw: str) -> int | None:
    return whole_number(raw, max_digits=len(str(MAX_CART_QUANTITY)))


@router.post("/cart/items/{product_id}")
async def update_line(product_id: str, shopper: ShopperDep) -> Response:
    """Set a line's quantity (0 removes it), then back to the cart."""
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        return await render_cart(shopper, message=refused.message, status=403)
    quantity = _quantity(posted["quantity"])
    if quantity is None:
        typed = {product_id: posted["quantity"][:8]}
        return await render_cart(
            shopper, errors={product_id: BAD_QUANTITY}, typed=typed, status=422
        )
    if not shopper.signed_in:
        return await _set_for_visitor(shopper, posted, product_id, quantity)
    caller = await shopper.customer()
    if quantity == 0:
        return await _remove(shopper, caller, product_id)
    try:
        cart = await orders.set_quantity(caller, product_id, quantity)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        log.info("the cart refused a quantity: %s", exc)
        error = exc.detail.rstrip(".") + "."
        return await render_cart(
            shopper, errors={product_id: error}, typed={product_id: str(quantity)}, status=422
        )
    await shopper.flash(UPDATED.format(title=_title(cart, product_id)))
    return RedirectResponse("/cart", status_code=303)


@router.post("/cart/items/{product_id}/remove")
async def remove_line(product_id: str, shopper: ShopperDep) -> Response:
    """Take a line out of the cart, then back to the cart."""
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        return await render_cart(shopper, message=refused.message, status=403)
    if not shopper.signed_in:
        return await _set_for_visitor(shopper, posted, product_id, 0)
    return await _remove(shopper, await shopper.customer(), product_id)


async def _set_for_visitor(
    shopper: Shopper, posted: Posted, product_id: str, quantity: int
) -> Response:
    """Set a line of a visitor's cart (0 removes it), within the stock the catalog shows."""
    lines = shopper.guest_lines
    if product_id not in lines:
        return RedirectResponse("/cart", status_code=303)  # nothing of theirs to change
    try:
        product = await shopper.ctx.public.product(product_id)
    except ApiError as exc:
        if exc.status != 404 or quantity:
            raise
        title = "the item"  # gone from the catalog: it can still be taken out
    else:
        title = product.title
        if quantity > product.stock:
            error = f"Only {product.stock} of {product.title} are available."
            typed = {product_id: posted["quantity"][:8]}
            return await render_cart(shopper, errors={product_id: error}, typed=typed, status=422)
    await shopper.keep_guest_lines(guest_cart.with_quantity(lines, product_id, quantity))
    await shopper.flash((UPDATED if quantity else REMOVED).format(title=title))
    return RedirectResponse("/cart", status_code=303)


async def _remove(shopper: Shopper, caller: Caller, product_id: str) -> Response:
    """Remove a line, with a message naming what was removed."""
    title = _title(await orders.full_cart(caller), product_id)
    await orders.remove_item(caller, product_id)
    await shopper.flash(REMOVED.format(title=title))
    return RedirectResponse("/cart", status_code=303)


def _title(cart: orders.Cart, product_id: str) -> str:
    found = next((i.title for i in cart.items if i.product_id == product_id), None)
    return found or "the item"
