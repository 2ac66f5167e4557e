"""`/ops/returns`: the returns customers asked for, and the forms that decide them.

    GET  /ops/returns?status=&cursor=     everyone's returns, newest first, paged
    POST /ops/returns/{id}/accept         requested -> accepted (the customer may send it)
    POST /ops/returns/{id}/reject         requested -> rejected, with a reason (required:
                                          the customer is told)
    POST /ops/returns/{id}/receive        accepted -> received (orders then refunds it)

The list, its status filter, paging and refusals are `status_lists`'s, as on the
shipments page; a rejection without a reason (422) says so beside the field, with
what was typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_shipping
from mercato.web.api.backend import ApiError, Caller
from mercato.web.forms import Field, FormView, form_view
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.orders import order_href, when
from mercato.web.ops.status_lists import PAGE, Focus, StatusList, field_errors
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["LIST", "REASON_FIELDS", "STATUSES", "ReturnRow", "router"]

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


def _row(ret: ops_shipping.Return, status: str, csrf: str, focus: Focus | None) -> ReturnRow:
    mine = focus.on(ret.id) if focus else None
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


async def _read(
    caller: Caller, status: str, cursor: str | None
) -> tuple[Sequence[ops_shipping.Return], str | None]:
    page = await ops_shipping.returns(caller, status=status, limit=PAGE, cursor=cursor)
    return page.items, page.next_cursor


LIST = StatusList("/ops/returns", "return", "Returns", "ops/returns.html", STATUSES, _read, _row)


@router.get("/ops/returns")
async def returns_page(request: Request, shopper: ShopperDep) -> Response:
    """The returns, newest first, of one status if asked."""
    await admin(shopper)
    return await LIST.shown(request, shopper)


async def _move(return_id: str, move: str, shopper: Shopper) -> Response:
    caller, posted = await admin_form(shopper)
    status = LIST.status_of(posted.stripped("status"))
    reason = posted.stripped("reason")
    values = {"reason": reason}
    if move == "reject" and not reason:
        focus = Focus(return_id, None, values, {"reason": "Reason is required."})
        return await LIST.page(shopper, status, None, focus, 422)
    try:
        async with refused_by_service():
            body = {"reason": reason} if move == "reject" else None
            await ops_shipping.move_return(caller, return_id, move, body)
    except ApiError as exc:
        errors = field_errors(exc, REASON_FIELDS) if exc.status == 422 else {}
        focus = Focus(return_id, None if errors else exc.detail, values, errors)
        return await LIST.page(shopper, status, None, focus, exc.status)
    return await LIST.moved(shopper, return_id, DONE[move], status)


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
