"""`/ops/returns`: the returns customers asked for, and the forms that decide them.

    GET  /ops/returns?status=&cursor=     everyone's returns, newest first, paged
    POST /ops/returns/{id}/accept         requested -> accepted (the customer may send it)
    POST /ops/returns/{id}/reject         requested -> rejected, with a reason (required:
                                          the customer is told)
    POST /ops/returns/{id}/receive        accepted -> received (orders then refunds it)

As on the shipments page, the status filter is the console's (the service lists all),
a refused move (409) shows the service's reason beside that return, and a rejection
without a reason (422) says so beside the field, with what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_shipping
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.forms import Field, FormView, form_view
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.ops.orders import order_href, when
from mercato.web.ops.shipments import PAGE, SCAN_PAGES, Focus, field_errors
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["REASON_FIELDS", "STATUSES", "ReturnRow", "ReturnsView", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
STATUSES = ("requested", "accepted", "rejected", "received", "refunded")
MOVES = {"accept": "requested", "reject": "requested", "receive": "accepted"}
DONE = {"accept": "accepted", "reject": "rejected", "receive": "received"}
SUBMITS = {"accept": "Accept", "reject": "Reject", "receive": "Mark received"}
REASON_FIELDS = (
    Field("reason", "Reason", max_length=1000, hint="Why it is refused: the customer is told."),
)


@dataclass(frozen=True, slots=True)
class ReturnRow:
    """A return as the page lists it, with the forms its status allows."""

    id: str
    order_id: str
    order_href: str
    status: str
    lines: tuple[str, ...]
    reason: str
    rejection_reason: str | None
    created: str
    forms: tuple[FormView, ...]
    refusal: str | None


@dataclass(frozen=True, slots=True)
class ReturnsView:
    """The returns page."""

    status: str
    statuses: tuple[str, ...]
    rows: tuple[ReturnRow, ...] | None  # None: shipping is down
    next_href: str | None
    message: str | None = None


def _href(status: str, cursor: str | None = None) -> str:
    query = {k: v for k, v in (("status", status), ("cursor", cursor)) if v}
    return "/ops/returns" + (f"?{urlencode(query)}" if query else "")


def _row(ret: ops_shipping.Return, status: str, csrf: str, focus: Focus | None) -> ReturnRow:
    mine = focus if focus is not None and focus.shipment_id == ret.id else None
    forms = tuple(
        form_view(
            f"{move}-{ret.id}",
            REASON_FIELDS if move == "reject" else (),
            action=f"/ops/returns/{ret.id}/{move}",
            submit=SUBMITS[move],
            csrf_token=csrf,
            values=mine.values if mine and move == "reject" else None,
            errors=mine.errors if mine and move == "reject" else None,
            hidden=(("status", status),),
        )
        for move, source in MOVES.items()
        if source == ret.status
    )
    return ReturnRow(
        id=ret.id,
        order_id=ret.order_id,
        order_href=order_href(ret.order_id),
        status=ret.status,
        lines=tuple(f"{line.quantity} × {line.product_id}" for line in ret.items),
        reason=ret.reason,
        rejection_reason=ret.rejection_reason,
        created=when(ret.created_at),
        forms=forms,
        refusal=mine.refusal if mine else None,
    )


async def _listed(
    caller: Caller, status: str, cursor: str | None
) -> tuple[list[ops_shipping.Return], str | None]:
    found: list[ops_shipping.Return] = []
    for _ in range(SCAN_PAGES):
        page = await ops_shipping.returns(caller, limit=PAGE, cursor=cursor)
        found.extend(r for r in page.items if not status or r.status == status)
        cursor = page.next_cursor
        if cursor is None or len(found) >= PAGE:
            break
    return found, cursor


async def _page(
    shopper: Shopper, status: str, cursor: str | None, focus: Focus | None = None, code: int = 200
) -> Response:
    caller = await shopper.caller()
    rows: tuple[ReturnRow, ...] | None
    next_href = message = None
    try:
        async with refused_by_service():
            found, after = await _listed(caller, status, cursor)
        csrf = await shopper.csrf_token()
        rows = tuple(_row(r, status, csrf, focus) for r in found)
        next_href = _href(status, after) if after else None
        if focus and focus.refusal and all(row.id != focus.shipment_id for row in rows):
            message = f"Return {focus.shipment_id}: {focus.refusal}"
    except BackendDown as exc:
        rows, message = None, f"{exc.part} is unavailable right now: no return can be listed."
    except ApiError as exc:
        if exc.status != 422:
            raise
        rows, message = (), "This page of returns cannot be read: start from the first."
    view = ReturnsView(status, STATUSES, rows, next_href, message)
    return await ops_page(shopper, "ops/returns.html", "Returns", view, status=code)


@router.get("/ops/returns")
async def returns_page(request: Request, shopper: ShopperDep) -> Response:
    """The returns, newest first, of one status if asked."""
    await admin(shopper)
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    cursor = request.query_params.get("cursor", "")[:500] or None
    return await _page(shopper, status, cursor)


async def _move(return_id: str, move: str, shopper: Shopper) -> Response:
    caller, posted = await admin_form(shopper)
    status = posted.stripped("status")
    status = status if status in STATUSES else ""
    reason = posted.stripped("reason")
    values = {"reason": reason}
    if move == "reject" and not reason:
        focus = Focus(return_id, None, values, {"reason": "Reason is required."})
        return await _page(shopper, status, None, focus, 422)
    try:
        async with refused_by_service():
            body = {"reason": reason} if move == "reject" else None
            await ops_shipping.move_return(caller, return_id, move, body)
    except ApiError as exc:
        errors = field_errors(exc, REASON_FIELDS) if exc.status == 422 else {}
        focus = Focus(return_id, None if errors else exc.detail, values, errors)
        return await _page(shopper, status, None, focus, exc.status)
    await shopper.flash(f"The return {return_id} was {DONE[move]}.")
    return RedirectResponse(_href(status), status_code=303)


@router.post("/ops/returns/{return_id}/accept")
async def accept(return_id: str, shopper: ShopperDep) -> Response:
    """requested -> accepted."""
    return await _move(return_id, "accept", shopper)


@router.post("/ops/returns/{return_id}/reject")
async def reject(return_id: str, shopper: ShopperDep) -> Response:
    """requested -> rejected, with the reason."""
    return await _move(return_id, "reject", shopper)


@router.post("/ops/returns/{return_id}/receive")
async def receive(return_id: str, shopper: ShopperDep) -> Response:
    """accepted -> received."""
    return await _move(return_id, "receive", shopper)
