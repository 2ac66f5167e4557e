"""A product's page, `/product/{id}`, and adding it to the cart, `POST /cart/items`.

The product comes from `PublicReads` (the same for everyone, kept a few seconds); an
unknown product is the 404 page. Adding asks orders to hold the cart's quantity plus
the one typed (the cart API sets a quantity), then goes back to the product page
with a message and the header's count updated; the cart's refusal (beyond the stock,
a product gone) shows the product page again with the message beside the quantity.

A visitor's add goes to their cart in their session (`guest_cart`), checked against
the stock the catalog shows; orders takes it over when they sign in. Browsing starts
no session (no row per visitor): the first add does, and so it carries no CSRF token
(`forms.read_first_form` checks instead that it comes from this site's page); every
later post carries the new session's token.

With JavaScript, `static/shop.js` sends the add in the background (`Accept:
application/json`) and shows the answer's message and count without leaving the page;
any refusal falls back to the ordinary post, whose page says what went wrong.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web import guest_cart
from mercato.web.api import catalog, orders
from mercato.web.api.backend import ApiError
from mercato.web.forms import FormRefused, Posted, read_first_form, read_form
from mercato.web.listing import product_url
from mercato.web.product_view import MAX_QUANTITY, parse_quantity, product_view
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep
from mercato.web.visitor_pages import for_visitors

__all__ = ["ADDED", "BAD_QUANTITY", "router"]

log = logging.getLogger("mercato.web.product")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
ADDED = "Added {quantity} × {title} to your cart."
BAD_QUANTITY = f"Quantity must be a whole number from 1 to {MAX_QUANTITY}."
MAX_ID = 64


async def _page(
    shopper: Shopper,
    product_id: str,
    *,
    quantity: str = "1",
    error: str | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    public = shopper.ctx.public
    product = await public.product(product_id)
    category = await public.category(product.category) if product.category else None
    layout = await layout_of(shopper)
    view = product_view(
        product,
        category=category,
        csrf_token=layout.csrf_token,
        signed_in=shopper.signed_in,
        quantity=quantity,
        error=error or message,
    )
    return shopper.ctx.templates.page(
        "shop/product.html", layout=layout, title=product.title, view=view, status=status
    )


@router.get("/product/{product_id}")
async def product_page(request: Request, product_id: str, shopper: ShopperDep) -> Response:
    """A product: pictures, price, stock, facts, and the form that adds it to the cart."""
    typed = request.query_params.get("quantity", "")
    quantity = str(parse_quantity(typed) or 1)
    return await for_visitors(shopper, lambda: _page(shopper, product_id, quantity=quantity))


async def _refused_product(request: Request) -> str:
    """The product a refused add named, to show its page again (nothing else is read)."""
    async with request.form(max_files=0, max_fields=10) as form:
        product_id = form.get("product_id", "")
    return "" if isinstance(product_id, UploadFile) else product_id.strip()[:MAX_ID]


def _wants_json(request: Request) -> bool:
    return request.headers.get("accept", "").startswith("application/json")


@router.post("/cart/items")
async def add_to_cart(request: Request, shopper: ShopperDep) -> Response:
    """Add the quantity typed of a product to the cart (a visitor's: in their session)."""
    try:
        posted = await (read_form if shopper.record is not None else read_first_form)(shopper)
    except FormRefused as refused:
        product_id = await _refused_product(request)
        if not product_id:
            raise
        return await _page(shopper, product_id, message=refused.message, status=403)
    product_id = posted.stripped("product_id")[:MAX_ID]
    if not product_id:
        return RedirectResponse("/", status_code=303)
    quantity = parse_quantity(posted["quantity"])
    if quantity is None:
        return await _page(
            shopper, product_id, quantity=posted["quantity"][:8], error=BAD_QUANTITY, status=422
        )
    if not shopper.signed_in:
        return await _add_for_visitor(request, shopper, posted, product_id, quantity)
    return await _add(request, shopper, product_id, quantity)


async def _add_for_visitor(
    request: Request, shopper: Shopper, posted: Posted, product_id: str, quantity: int
) -> Response:
    """Add to a visitor's cart in their session, within the stock the catalog shows."""
    product = await shopper.ctx.public.product(product_id)
    lines = shopper.guest_lines
    held = lines.get(product_id, 0)
    try:
        if held + quantity > product.stock:
            raise ValueError(_over_stock(product, held))
        lines = guest_cart.with_quantity(lines, product_id, held + quantity)
    except (ValueError, guest_cart.CartFull) as refused:
        typed = posted["quantity"][:8]
        return await _page(shopper, product_id, quantity=typed, error=str(refused), status=422)
    await shopper.keep_guest_lines(lines)
    message = ADDED.format(quantity=quantity, title=product.title)
    return await _added(request, shopper, product_id, message=message, count=sum(lines.values()))


def _over_stock(product: catalog.Product, held: int) -> str:
    """The refusal of more than the stock, as orders words it."""
    if product.stock <= 0:
        text = f"{product.title} is out of stock."
    else:
        text = f"Only {product.stock} of {product.title} are available."
    return text + (f" Your cart already holds {held}." if held else "")


async def _added(
    request: Request, shopper: Shopper, product_id: str, *, message: str, count: int
) -> Response:
    """The answer to an add: the message and count (JSON), or back to the product."""
    if _wants_json(request):
        return JSONResponse({"message": message, "count": count})
    await shopper.flash(message)
    return RedirectResponse(product_url(product_id), status_code=303)


async def _add(request: Request, shopper: Shopper, product_id: str, quantity: int) -> Response:
    """Ask orders for the cart's quantity plus `quantity`; the answer the shopper gets."""
    caller = await shopper.customer()
    cart = await orders.full_cart(caller)
    held = next((i.quantity for i in cart.items if i.product_id == product_id), 0)
    try:
        cart = await orders.set_quantity(caller, product_id, held + quantity)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        log.info("the cart refused an add: %s", exc)
        error = _refusal(exc, held)
        return await _page(shopper, product_id, quantity=str(quantity), error=error, status=422)
    title = next((i.title for i in cart.items if i.product_id == product_id), None) or "it"
    message = ADDED.format(quantity=quantity, title=title)
    return await _added(request, shopper, product_id, message=message, count=cart.count)


def _refusal(exc: ApiError, held: int) -> str:
    """The cart's refusal in a shopper's words, beside the quantity."""
    text = exc.detail.rstrip(".") + "."  # a sentence: "Only 3 of Tea are available."
    if held:
        text += f" Your cart already holds {held}."
    return text
