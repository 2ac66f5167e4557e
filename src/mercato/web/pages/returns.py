"""An order's page with its goods, and sending delivered lines back (`POST /orders/{id}/returns`).

`order_page_response` renders `/orders/{id}`: the order (`order_view`) and its goods
(`fulfilment_view`): where they are, each shipment, the returns the shopper asked
for (from shipping; when shipping cannot answer, the page says so and offers no
return form rather than a form that might ask for too much).

The "Return items" form posts here. A refused post (CSRF, another site) shows the
order again with the form's message (403) and nothing kept; a quantity that is not a
whole number from 0 to what may go back, no quantity above 0, or no reason is the page
again (422) with the message beside its field and what was typed kept. Shipping's
own refusals come back the same way with its status: 422 beside the field it names,
409 (not delivered, past the return window, more than is left) beside the line of the
product it names, the product's id put in words as its title. Another customer's
order is the 404 page (orders answers 404 before anything is asked of shipping).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import orders, shipping
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.forms import FormRefused, Posted, read_form
from mercato.web.fulfilment_view import REASON_MAX, goods_view, quantity_field, returnable
from mercato.web.order_view import order_url, order_view
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["REQUESTED", "order_page_response", "refusal", "router"]

log = logging.getLogger("mercato.web.returns")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
REQUESTED = "Your return is requested. We will tell you where to send the items."
NONE_CHOSEN = "Choose how many of an item to return."
NO_REASON = "Reason: please tell us why the items go back."
NOTHING_DELIVERED = "Nothing of this order has been delivered yet, so nothing can be returned."
_ITEM = re.compile(r"^items\.(\d+)\.")


async def _returns(caller: Caller, order_id: str) -> tuple[shipping.Return, ...] | None:
    """The order's returns, or None when shipping cannot say just now (the page still shows)."""
    try:
        return await shipping.returns(caller, order_id)
    except (ApiError, BackendDown) as exc:
        log.warning("the returns of order %s could not be read: %s", order_id, exc)
        return None


async def order_page_response(
    shopper: Shopper,
    caller: Caller,
    order: orders.Order,
    *,
    status: int = 200,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> Response:
    """The order's page; `values`, `errors`, `message`: the return form refused."""
    layout = await layout_of(shopper)
    goods = goods_view(
        order,
        await _returns(caller, order.id),
        csrf_token=layout.csrf_token,
        values=values,
        errors=errors,
        message=message,
    )
    view = replace(order_view(order, csrf_token=layout.csrf_token), goods=goods)
    title = f"Order {view.number}"
    return shopper.ctx.templates.page(
        "shop/order.html", layout=layout, title=title, view=view, status=status
    )


def _read_quantities(
    posted: Posted, left: Mapping[str, int], titles: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, str]]:
    """The units asked for by product (0s left out), and the errors by field name."""
    chosen: dict[str, int] = {}
    errors: dict[str, str] = {}
    for product, most in left.items():
        name = quantity_field(product)
        text = posted.stripped(name) or "0"
        title = titles.get(product, "A product")
        if not text.isdigit() or int(text) > most:
            errors[name] = f"{title}: choose a whole number from 0 to {most}."
        elif int(text):
            chosen[product] = int(text)
    return chosen, errors


def refusal(
    exc: ApiError, asked: list[str], titles: Mapping[str, str]
) -> tuple[dict[str, str], str | None]:
    """Shipping's refusal as errors beside fields (the line it names), else a message."""
    errors: dict[str, str] = {}
    for error in exc.errors:
        match = _ITEM.match(error.field)
        if match and int(match.group(1)) < len(asked):
            product = asked[int(match.group(1))]
            errors[quantity_field(product)] = f"{titles.get(product, 'A product')}: {error.message}"
        elif error.field == "reason":
            errors["reason"] = f"Reason: {error.message}"
    for product in asked:  # 409 names the product by its id: say it by its title
        if product in exc.detail and not errors:
            title = titles.get(product, "this product")
            text = exc.detail.replace(f"Product {product}", title)
            errors[quantity_field(product)] = text.replace(f"product {product}", title)
    return errors, None if errors else exc.detail


@router.post("/orders/{order_id}/returns")
async def request_return(order_id: str, shopper: ShopperDep) -> Response:
    """Ask shipping to take delivered lines back, then show the order with the return."""
    caller = await shopper.customer()
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        log.info("a return post refused: %s", refused.reason)
        order = await orders.order(caller, order_id)
        return await order_page_response(
            shopper, caller, order, status=403, message=refused.message
        )
    order = await orders.order(caller, order_id)  # another's: 404, before shipping is asked
    titles = {i.product_id: i.title or "A product" for i in order.items}
    # Bounded by what was delivered: shipping, which counts the earlier returns under a
    # lock, says (409) when less is left, and its word is put beside the line.
    left = returnable(order, None)
    chosen, errors = _read_quantities(posted, left, titles)
    reason = posted.stripped("reason")[:REASON_MAX]
    if not reason:
        errors["reason"] = NO_REASON
    if not left:
        return await order_page_response(
            shopper, caller, order, status=409, message=NOTHING_DELIVERED
        )
    if not chosen and not errors:
        errors[quantity_field(next(iter(left)))] = NONE_CHOSEN
    if errors:
        return await order_page_response(
            shopper,
            caller,
            order,
            status=422,
            values=posted.values,
            errors=errors,
        )
    try:
        await shipping.request_return(caller, order.id, chosen, reason)
    except ApiError as exc:
        if exc.status not in (404, 409, 422):
            raise
        log.info("shipping refused a return of order %s: %s", order.id, exc)
        errors, message = refusal(exc, list(chosen), titles)
        if exc.status == 404:  # shipping has no shipment of it yet
            errors, message = {}, NOTHING_DELIVERED
        return await order_page_response(
            shopper,
            caller,
            order,
            status=409 if exc.status == 404 else exc.status,
            values=posted.values,
            errors=errors,
            message=message,
        )
    await shopper.flash(REQUESTED)
    return RedirectResponse(f"{order_url(order.id)}#returns-heading", status_code=303)
