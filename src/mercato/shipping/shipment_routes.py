"""HTTP routes of shipments: customers read their own, admins read all and move them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mercato.chassis.security.tokens import Admin, CurrentUser
from mercato.chassis.web.dependencies import OutboxDep, SessionDep
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.shipping import fulfilment
from mercato.shipping.models import Shipment
from mercato.shipping.schemas import ShipIn, ShipmentOut, ShipmentPage, SplitIn, shipment_out
from mercato.shipping.states import ShipmentStatus
from mercato.shipping.visibility import visible, visible_page

__all__ = ["router"]

router = APIRouter(
    prefix="/api/shipping/shipments", tags=["shipments"], route_class=StrictJsonRoute
)
ShipmentId = Annotated[str, Path(max_length=32, description="The shipment's id.")]
OrderQuery = Annotated[str | None, Query(max_length=64, description="One order's shipments.")]
NO_SHIPMENT = "No such shipment (or not yours)."
NOT_NOW = "The shipment's status does not allow this move, or it moved concurrently."


@router.get("", summary="Your shipments, newest first (admin: everyone's)")
async def list_shipments(
    principal: CurrentUser,
    session: SessionDep,
    *,
    order_id: OrderQuery = None,
    status: Annotated[
        ShipmentStatus | None, Query(description="Only those in this status.")
    ] = None,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> ShipmentPage:
    """Keyset paged; `order_id` narrows it to one order, `status` to one status."""
    found = await visible_page(
        session, principal, Shipment, order_id=order_id, status=status, limit=limit, cursor=cursor
    )
    return ShipmentPage(items=[shipment_out(s) for s in found.items], next_cursor=found.next_cursor)


@router.get(
    "/{shipment_id}",
    summary="One of your shipments (admin: any)",
    responses=problems({404: NO_SHIPMENT}),
)
async def read_shipment(
    shipment_id: ShipmentId, principal: CurrentUser, session: SessionDep
) -> ShipmentOut:
    """Someone else's shipment is 404."""
    return shipment_out(await visible(session, principal, Shipment, shipment_id))


@router.post(
    "/{shipment_id}/pack",
    summary="Mark a pending shipment packed (admin)",
    responses=problems({404: NO_SHIPMENT, 409: NOT_NOW}),
)
async def pack_shipment(
    shipment_id: ShipmentId, _: Admin, session: SessionDep, outbox: OutboxDep
) -> ShipmentOut:
    """pending -> packed."""
    return shipment_out(await fulfilment.move(session, outbox, shipment_id, ShipmentStatus.PACKED))


@router.post(
    "/{shipment_id}/ship",
    summary="Hand a packed shipment to its carrier (admin)",
    responses=problems({404: NO_SHIPMENT, 409: NOT_NOW, 422: "Invalid fields."}),
)
async def ship_shipment(
    shipment_id: ShipmentId, ship_in: ShipIn, _: Admin, session: SessionDep, outbox: OutboxDep
) -> ShipmentOut:
    """packed -> shipped, with the carrier and tracking number; `shipment.shipped`."""
    return shipment_out(
        await fulfilment.move(session, outbox, shipment_id, ShipmentStatus.SHIPPED, ship=ship_in)
    )


@router.post(
    "/{shipment_id}/deliver",
    summary="Mark a shipped shipment delivered (admin)",
    responses=problems({404: NO_SHIPMENT, 409: NOT_NOW}),
)
async def deliver_shipment(
    shipment_id: ShipmentId, _: Admin, session: SessionDep, outbox: OutboxDep
) -> ShipmentOut:
    """shipped -> delivered; `shipment.delivered`. Its lines may now be returned."""
    return shipment_out(
        await fulfilment.move(session, outbox, shipment_id, ShipmentStatus.DELIVERED)
    )


@router.post(
    "/{shipment_id}/split",
    status_code=201,
    summary="Move lines of an unshipped shipment to a new one (admin)",
    responses=problems(
        {
            404: NO_SHIPMENT,
            409: "The shipment has shipped (or was cancelled), or moved concurrently.",
            422: "Lines it does not hold, or every line (nothing would be left).",
        }
    ),
)
async def split_shipment(
    shipment_id: ShipmentId, split_in: SplitIn, _: Admin, session: SessionDep, outbox: OutboxDep
) -> ShipmentOut:
    """The new pending shipment, with `split_from`; `shipment.created` for it."""
    return shipment_out(await fulfilment.split(session, outbox, shipment_id, split_in.items))
