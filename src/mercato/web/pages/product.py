"""A product's page, `/product/{id}`, and adding it to the cart, `POST /cart/items`.

The product comes from `PublicReads` (the same for everyone, kept a few seconds); an
unknown product is the 404 page. Adding asks orders to hold the cart's quantity plus
the one typed (the cart API sets a quantity), then goes back to the product page
with a message and the header's count updated; the cart's refusal (beyond the stock,
a product gone) shows the product page again with the message beside the quantity.

A visitor has no cart (carts are the signed-in shopper's, at orders): their add is
sent to the login page, which brings them back to the product page with the
quantity they chose filled in, to add it with one more press. That post carries no
CSRF token and needs none: it changes nothing, and so browsing never starts a
session (no row per visitor).

With JavaScript, `static/shop.js` sends the add in the background (`Accept:
application/json`) and shows the answer's message and count without leaving the page;
any refusal falls back to the ordinary post, whose page says what went wrong.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import orders
from mercato.web.api.backend import ApiError
from mercato.web.forms import FormRefused, read_form
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


async def _visitor_fields(request: Request) -> tuple[str, str]:
    """The product and quantity of a visitor's add (no token: it is not acted on)."""
    async with request.form(max_files=0, max_fields=10) as form:
        product_id, quantity = form.get("product_id", ""), form.get("quantity", "")
    if isinstance(product_id, UploadFile) or isinstance(quantity, UploadFile):
        return "", "1"
    return product_id.strip()[:MAX_ID], str(parse_quantity(quantity) or 1)


def _wants_json(request: Request) -> bool:
    return request.headers.get("accept", "").startswith("application/json")


@router.post("/cart/items")
async def add_to_cart(request: Request, shopper: ShopperDep) -> Response:
    """Add the quantity typed of a product to the cart (a visitor is sent to log in first)."""
    if not shopper.signed_in:
        product_id, typed = await _visitor_fields(request)
        back = product_url(product_id) + "?" + urlencode({"quantity": typed})
        target = "/login?" + urlencode({"next": back}) if product_id else "/login"
        return RedirectResponse(target, status_code=303)
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        product_id, _ = await _visitor_fields(request)
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
    return await _add(request, shopper, product_id, quantity)


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
    if _wants_json(request):
        return JSONResponse({"message": message, "count": cart.count})
    await shopper.flash(message)
    return RedirectResponse(product_url(product_id), status_code=303)


def _refusal(exc: ApiError, held: int) -> str:
    """The cart's refusal in a shopper's words, beside the quantity."""
    text = exc.detail.rstrip(".") + "."  # a sentence: "Only 3 of Tea are available."
    if held:
        text += f" Your cart already holds {held}."
    return text
