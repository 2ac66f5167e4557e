"""`/ops/shipments`: the shipments to pack and ship, and the forms that move them on.

    GET  /ops/shipments?status=&cursor=      everyone's shipments, newest first, paged
    POST /ops/shipments/{id}/pack            pending -> packed
    POST /ops/shipments/{id}/ship            packed -> shipped: carrier, tracking number,
                                             tracking URL (optional)
    POST /ops/shipments/{id}/deliver         shipped -> delivered

The list, its status filter, paging and refusals are `status_lists`'s; a ship form's
mistakes (422, ours or the service's) show beside their fields, with what was typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_shipping
from mercato.web.api.backend import ApiError, Caller
from mercato.web.forms import Field, FormView, Posted, form_view
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.orders import order_href, when
from mercato.web.ops.status_lists import PAGE, Focus, StatusList, field_errors
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["LIST", "SHIP_FIELDS", "STATUSES", "ShipmentRow", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
STATUSES = ("pending", "packed", "shipped", "delivered", "cancelled")
MOVES = {"pack": "pending", "ship": "packed", "deliver": "shipped"}  # a move, from
SHIP_FIELDS = (
    Field("carrier", "Carrier", max_length=100, hint="Who carries it, e.g. DHL."),
    Field("tracking_number", "Tracking number", "text", "off", max_length=100),
    Field("tracking_url", "Tracking URL", "url", "off", required=False, max_length=2048),
)


@dataclass(frozen=True, slots=True)
class ShipmentRow:
    """A shipment as the page lists it, with the forms of the moves its status allows."""

    id: str
    order_id: str
    order_href: str
    status: str
    method: str
    lines: tuple[str, ...]
    created: str
    tracking: str | None
    forms: tuple[FormView, ...]
    refusal: str | None


def _forms(
    shipment: ops_shipping.Shipment, status: str, csrf: str, mine: Focus | None
) -> tuple[FormView, ...]:
    base = f"/ops/shipments/{shipment.id}"
    hidden = (("status", status),)
    forms = []
    for move, submit in (("pack", "Mark packed"), ("ship", "Ship"), ("deliver", "Mark delivered")):
        if MOVES[move] != shipment.status:
            continue
        fields = SHIP_FIELDS if move == "ship" else ()
        forms.append(
            form_view(
                f"{move}-{shipment.id}",
                fields,
                action=f"{base}/{move}",
                submit=submit,
                csrf_token=csrf,
                values=mine.values if mine and move == "ship" else None,
                errors=mine.errors if mine and move == "ship" else None,
                hidden=hidden,
            )
        )
    return tuple(forms)


def _row(
    shipment: ops_shipping.Shipment, status: str, csrf: str, focus: Focus | None
) -> ShipmentRow:
    mine = focus.on(shipment.id) if focus else None
    tracking = None
    if shipment.carrier:
        tracking = f"{shipment.carrier} {shipment.tracking_number or ''}".strip()
    return ShipmentRow(
        id=shipment.id,
        order_id=shipment.order_id,
        order_href=order_href(shipment.order_id),
        status=shipment.status,
        method=shipment.method,
        lines=tuple(f"{line.quantity} × {line.product_id}" for line in shipment.items),
        created=when(shipment.created_at),
        tracking=tracking,
        forms=_forms(shipment, status, csrf, mine),
        refusal=mine.refusal if mine else None,
    )


async def _read(
    caller: Caller, status: str, cursor: str | None
) -> tuple[Sequence[ops_shipping.Shipment], str | None]:
    page = await ops_shipping.shipments(caller, status=status, limit=PAGE, cursor=cursor)
    return page.items, page.next_cursor


LIST = StatusList(
    "/ops/shipments", "shipment", "Shipments", "ops/shipments.html", STATUSES, _read, _row
)


@router.get("/ops/shipments")
async def shipments_page(request: Request, shopper: ShopperDep) -> Response:
    """The shipments, newest first, of one status if asked."""
    await admin(shopper)
    return await LIST.shown(request, shopper)


def _ship_body(posted: Posted) -> tuple[dict[str, str], dict[str, str]]:
    body = {f.name: posted.stripped(f.name) for f in SHIP_FIELDS if posted.stripped(f.name)}
    errors = {
        f.name: f"{f.label} is required." for f in SHIP_FIELDS if f.required and f.name not in body
    }
    return body, errors


async def _move(shipment_id: str, move: str, shopper: Shopper) -> Response:
    caller, posted = await admin_form(shopper)
    status = LIST.status_of(posted.stripped("status"))
    body, errors = _ship_body(posted) if move == "ship" else ({}, {})
    values = {f.name: posted.stripped(f.name) for f in SHIP_FIELDS}
    if errors:
        return await LIST.page(shopper, status, None, Focus(shipment_id, None, values, errors), 422)
    try:
        async with refused_by_service():
            await ops_shipping.move_shipment(caller, shipment_id, move, body or None)
    except ApiError as exc:
        errors = field_errors(exc, SHIP_FIELDS) if exc.status == 422 else {}
        refusal = None if errors else exc.detail
        focus = Focus(shipment_id, refusal, values, errors)
        return await LIST.page(shopper, status, None, focus, exc.status)
    done = {"pack": "packed", "ship": "shipped", "deliver": "delivered"}[move]
    return await LIST.moved(shopper, shipment_id, done, status)


@router.post("/ops/shipments/{shipment_id}/pack")
async def pack(shipment_id: str, shopper: ShopperDep) -> Response:
    """pending -> packed."""
    return await _move(shipment_id, "pack", shopper)


@router.post("/ops/shipments/{shipment_id}/ship")
async def ship(shipment_id: str, shopper: ShopperDep) -> Response:
    """packed -> shipped, with the carrier and tracking."""
    return await _move(shipment_id, "ship", shopper)


@router.post("/ops/shipments/{shipment_id}/deliver")
async def deliver(shipment_id: str, shopper: ShopperDep) -> Response:
    """shipped -> delivered."""
    return await _move(shipment_id, "deliver", shopper)
