"""The cart's discount code: `POST /cart/discount` puts one on, `.../remove` takes it off.

Codes belong to accounts (orders counts each customer's uses), so only a signed-in
shopper's cart has the form; a visitor's post goes to the login page. A code orders
refuses (unknown, expired, used up, below its minimum order...) comes back on the cart
page beside the field, with orders' reason and what was typed (422). The code on the
cart is priced by orders with the cart, and checkout takes it from there.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import orders
from mercato.web.api.backend import ApiError
from mercato.web.forms import FormRefused, read_form
from mercato.web.pages.cart import CodeTyped, render_cart
from mercato.web.shopper import ShopperDep

__all__ = ["router"]

log = logging.getLogger("mercato.web.cart")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
MAX_CODE = 40
NO_CODE = "Type a discount code."
APPLIED = "The code {code} is on your cart."
REMOVED = "The discount code was removed."
LOG_IN = "/login?next=/cart"


@router.post("/cart/discount")
async def apply_code(shopper: ShopperDep) -> Response:
    """Put the code typed on the cart, then back to the cart (or the form with why not)."""
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        return await render_cart(shopper, message=refused.message, status=403)
    if not shopper.signed_in:
        return RedirectResponse(LOG_IN, status_code=303)
    code = posted.stripped("code")
    if not code:
        return await render_cart(shopper, code=CodeTyped("", NO_CODE), status=422)
    typed = code[:MAX_CODE]
    try:
        cart = await orders.apply_code(await shopper.customer(), typed)
    except ApiError as exc:
        if exc.status != 422:
            raise
        log.info("the cart refused a discount code: %s", exc)
        reason = exc.field_message("discount_code") or exc.field_message("code") or exc.detail
        return await render_cart(shopper, code=CodeTyped(typed, _sentence(reason)), status=422)
    await shopper.flash(APPLIED.format(code=cart.discount_code or typed.upper()))
    return RedirectResponse("/cart", status_code=303)


@router.post("/cart/discount/remove")
async def remove_code(shopper: ShopperDep) -> Response:
    """Take the code off the cart, then back to the cart."""
    try:
        await read_form(shopper)
    except FormRefused as refused:
        return await render_cart(shopper, message=refused.message, status=403)
    if not shopper.signed_in:
        return RedirectResponse(LOG_IN, status_code=303)
    await orders.remove_code(await shopper.customer())
    await shopper.flash(REMOVED)
    return RedirectResponse("/cart", status_code=303)


def _sentence(text: str) -> str:
    text = text.strip() or "This code cannot be used."
    return text[0].upper() + text[1:].rstrip(".") + "."
