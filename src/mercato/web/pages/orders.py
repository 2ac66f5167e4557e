"""The shopper's orders: `/orders` (the history), `/orders/{id}`, its status, cancelling.

Every page here is the signed-in shopper's own (a visitor is sent to log in and
back); another shopper's order, or one that does not exist, is the 404 page (orders
answers 404 for both). An order's page shows its status as a word and what it
means; while the checkout runs, `static/shop.js` asks `GET /orders/{id}/status`
every second (JSON: the status, its word, whether it is settled, and the page's
parts that change, rendered here) until it settles; without JavaScript the page
has a link that shows the status again. Cancelling (`POST /orders/{id}/cancel`)
comes back to the order with a message: orders' refusal (an order whose checkout
failed, or is still running) in its own words.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import orders
from mercato.web.api.backend import ApiError
from mercato.web.forms import FormRefused, read_form
from mercato.web.order_view import order_history as history_view
from mercato.web.order_view import order_url, order_view
from mercato.web.pages.returns import order_page_response
from mercato.web.rendering import layout_of
from mercato.web.shopper import ShopperDep

__all__ = ["CANCELLING", "router"]

log = logging.getLogger("mercato.web.orders")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
CANCELLING = "Your order is being cancelled. Any payment will be refunded."
PAGE = 20


@router.get("/orders")
async def order_history(request: Request, shopper: ShopperDep) -> Response:
    """The shopper's orders, newest first, a page at a time."""
    caller = await shopper.customer()
    cursor = request.query_params.get("after") or None
    try:
        page = await orders.orders(caller, limit=PAGE, cursor=cursor)
    except ApiError as exc:
        if exc.status != 422 or cursor is None:
            raise
        return RedirectResponse("/orders", status_code=303)  # a stale link: the first page
    layout = await layout_of(shopper)
    view = history_view(page, cursor=cursor)
    return shopper.ctx.templates.page(
        "shop/orders.html", layout=layout, title="Your orders", view=view
    )


@router.get("/orders/{order_id}")
async def order_page(order_id: str, shopper: ShopperDep) -> Response:
    """One order: its status, lines, address, history, shipments and returns."""
    caller = await shopper.customer()
    order = await orders.order(caller, order_id)
    return await order_page_response(shopper, caller, order)


@router.get("/orders/{order_id}/status")
async def order_status(order_id: str, shopper: ShopperDep) -> Response:
    """Where the order stands, for the page's script: JSON with the parts that change."""
    caller = await shopper.customer()
    order = await orders.order(caller, order_id)
    view = order_view(order, csrf_token=shopper.record_csrf())
    templates = shopper.ctx.templates
    body = {
        "status": view.status,
        "word": view.word,
        "done": not view.in_progress,
        "live": templates.render("shop/order_live.html", view=view),
        "more": templates.render("shop/order_more.html", view=view),
    }
    return JSONResponse(body)


@router.post("/orders/{order_id}/cancel")
async def cancel_order(order_id: str, shopper: ShopperDep) -> Response:
    """Cancel the order (orders refunds and releases the stock), then show it."""
    caller = await shopper.customer()
    try:
        await read_form(shopper)
    except FormRefused as refused:
        await shopper.flash(refused.message)
        return RedirectResponse(order_url(order_id), status_code=303)
    try:
        await orders.cancel(caller, order_id)
    except ApiError as exc:
        if exc.status != 409:
            raise
        log.info("a cancel orders refused: %s", exc)
        await shopper.flash(exc.detail)
        return RedirectResponse(order_url(order_id), status_code=303)
    await shopper.flash(CANCELLING)
    return RedirectResponse(order_url(order_id), status_code=303)
