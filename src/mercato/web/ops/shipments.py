"""`/ops/shipments`: the shipments to pack and ship, and the forms that move them on.

    GET  /ops/shipments?status=&cursor=      everyone's shipments, newest first, paged
    POST /ops/shipments/{id}/pack            pending -> packed
    POST /ops/shipments/{id}/ship            packed -> shipped: carrier, tracking number,
                                             tracking URL (optional)
    POST /ops/shipments/{id}/deliver         shipped -> delivered

The shipping service has no status filter: the page reads its pages (`SCAN_PAGES` at
most) and keeps the shipments in the status asked for, its cursor going on from the
last page read. A move goes back to the list with a flash; a refused one (409: the
state does not allow it, or another admin moved it first) shows the list again with
the service's reason beside that shipment, a ship form's mistakes (422, ours or the
service's) beside their fields, with what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_shipping
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.forms import Field, FormView, Posted, form_view, sentence
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.ops.orders import order_href, when
from mercato.web.shopper import Shopper, ShopperDep

__all__ = [
    "PAGE",
    "SCAN_PAGES",
    "SHIP_FIELDS",
    "STATUSES",
    "Focus",
    "ShipmentRow",
    "ShipmentsView",
    "field_errors",
    "router",
]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
STATUSES = ("pending", "packed", "shipped", "delivered", "cancelled")
MOVES = {"pack": "pending", "ship": "packed", "deliver": "shipped"}  # a move, from
PAGE = 20
SCAN_PAGES = 10
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


@dataclass(frozen=True, slots=True)
class ShipmentsView:
    """The shipments page."""

    status: str
    statuses: tuple[str, ...]
    rows: tuple[ShipmentRow, ...] | None  # None: shipping is down
    next_href: str | None
    message: str | None = None


def field_errors(exc: ApiError, fields: tuple[Field, ...]) -> dict[str, str]:
    """A service's 422, by the form's field each error is about (`body.carrier`: carrier)."""
    labels = {f.name: f.label for f in fields}
    found: dict[str, str] = {}
    for error in exc.errors:
        name = next((part for part in error.field.split(".") if part in labels), None)
        if name is not None and name not in found:
            found[name] = sentence(labels[name], error.message)
    return found


def _href(status: str, cursor: str | None = None) -> str:
    query = {k: v for k, v in (("status", status), ("cursor", cursor)) if v}
    return "/ops/shipments" + (f"?{urlencode(query)}" if query else "")


@dataclass(frozen=True, slots=True)
class Focus:
    """What a refused post shows again about one shipment."""

    shipment_id: str  # or a return's id
    refusal: str | None = None
    values: Mapping[str, str] | None = None
    errors: Mapping[str, str] | None = None


def _forms(
    shipment: ops_shipping.Shipment, status: str, csrf: str, focus: Focus | None
) -> tuple[FormView, ...]:
    base = f"/ops/shipments/{shipment.id}"
    hidden = (("status", status),)
    mine = focus if focus is not None and focus.shipment_id == shipment.id else None
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
        forms=_forms(shipment, status, csrf, focus),
        refusal=focus.refusal if focus and focus.shipment_id == shipment.id else None,
    )


async def _listed(
    caller: Caller, status: str, cursor: str | None
) -> tuple[list[ops_shipping.Shipment], str | None]:
    """The shipments in `status` (any: ''), a page, and the cursor that goes on."""
    found: list[ops_shipping.Shipment] = []
    for _ in range(SCAN_PAGES):
        page = await ops_shipping.shipments(caller, limit=PAGE, cursor=cursor)
        found.extend(s for s in page.items if not status or s.status == status)
        cursor = page.next_cursor
        if cursor is None or len(found) >= PAGE:
            break
    return found, cursor


async def _page(
    shopper: Shopper, status: str, cursor: str | None, focus: Focus | None = None, code: int = 200
) -> Response:
    caller = await shopper.caller()
    rows: tuple[ShipmentRow, ...] | None
    next_href = message = None
    try:
        async with refused_by_service():
            found, after = await _listed(caller, status, cursor)
        csrf = await shopper.csrf_token()
        rows = tuple(_row(s, status, csrf, focus) for s in found)
        next_href = _href(status, after) if after else None
        if focus and focus.refusal and all(row.id != focus.shipment_id for row in rows):
            message = f"Shipment {focus.shipment_id}: {focus.refusal}"
    except BackendDown as exc:
        rows, message = None, f"{exc.part} is unavailable right now: no shipment can be listed."
    except ApiError as exc:
        if exc.status != 422:  # a cursor that is not the service's
            raise
        rows, message = (), "This page of shipments cannot be read: start from the first."
    view = ShipmentsView(status, STATUSES, rows, next_href, message)
    return await ops_page(shopper, "ops/shipments.html", "Shipments", view, status=code)


@router.get("/ops/shipments")
async def shipments_page(request: Request, shopper: ShopperDep) -> Response:
    """The shipments, newest first, of one status if asked."""
    await admin(shopper)
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    cursor = request.query_params.get("cursor", "")[:500] or None
    return await _page(shopper, status, cursor)


def _ship_body(posted: Posted) -> tuple[dict[str, str], dict[str, str]]:
    body = {f.name: posted.stripped(f.name) for f in SHIP_FIELDS if posted.stripped(f.name)}
    errors = {
        f.name: f"{f.label} is required." for f in SHIP_FIELDS if f.required and f.name not in body
    }
    return body, errors


async def _move(shipment_id: str, move: str, shopper: Shopper) -> Response:
    caller, posted = await admin_form(shopper)
    status = posted.stripped("status")
    status = status if status in STATUSES else ""
    body, errors = _ship_body(posted) if move == "ship" else ({}, {})
    values = {f.name: posted.stripped(f.name) for f in SHIP_FIELDS}
    if errors:
        return await _page(shopper, status, None, Focus(shipment_id, None, values, errors), 422)
    try:
        async with refused_by_service():
            await ops_shipping.move_shipment(caller, shipment_id, move, body or None)
    except ApiError as exc:
        errors = field_errors(exc, SHIP_FIELDS) if exc.status == 422 else {}
        refusal = None if errors else exc.detail
        focus = Focus(shipment_id, refusal, values, errors)
        return await _page(shopper, status, None, focus, exc.status)
    done = {"pack": "packed", "ship": "shipped", "deliver": "delivered"}[move]
    await shopper.flash(f"The shipment {shipment_id} was {done}.")
    return RedirectResponse(_href(status), status_code=303)


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
