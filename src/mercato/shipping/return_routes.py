"""HTTP routes of returns: a customer asks for one, admins accept, reject, receive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mercato.chassis.security.tokens import Admin, CurrentUser, UserCaller
from mercato.chassis.web.dependencies import OutboxDep, RuntimeDep, SessionDep
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.shipping import returns
from mercato.shipping.models import Return
from mercato.shipping.schemas import RejectIn, ReturnIn, ReturnOut, ReturnPage, return_out
from mercato.shipping.states import ReturnStatus
from mercato.shipping.visibility import visible, visible_page

__all__ = ["router"]

router = APIRouter(prefix="/api/shipping/returns", tags=["returns"], route_class=StrictJsonRoute)
ReturnId = Annotated[str, Path(max_length=32, description="The return's id.")]
OrderQuery = Annotated[str | None, Query(max_length=64, description="One order's returns.")]
NO_RETURN = "No such return (or not yours)."
NOT_NOW = "The return's status does not allow this move, or it changed concurrently."


@router.post(
    "",
    status_code=201,
    summary="Ask to return delivered lines of your order",
    responses=problems(
        {
            403: "A service token: returns are a customer's.",
            404: "No such order of yours (or nothing of it shipped yet).",
            409: "A line not delivered yet, past its return window, or more than is left "
            "to return.",
            422: "Invalid fields, or products that are not in the order.",
        }
    ),
)
async def request_return(
    return_in: ReturnIn,
    principal: UserCaller,
    session: SessionDep,
    outbox: OutboxDep,
    runtime: RuntimeDep,
) -> ReturnOut:
    """`requested`; an admin accepts or rejects it (`return.requested`)."""
    ret = await returns.request_return(
        session,
        outbox,
        user_id=principal.subject,
        return_in=return_in,
        window_days=runtime.settings.return_window_days,
    )
    return return_out(ret)


@router.get("", summary="Your returns, newest first (admin: everyone's)")
async def list_returns(
    principal: CurrentUser,
    session: SessionDep,
    *,
    order_id: OrderQuery = None,
    status: Annotated[ReturnStatus | None, Query(description="Only those in this status.")] = None,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> ReturnPage:
    """Keyset paged; `order_id` narrows it to one order, `status` to one status."""
    found = await visible_page(
        session, principal, Return, order_id=order_id, status=status, limit=limit, cursor=cursor
    )
    return ReturnPage(items=[return_out(r) for r in found.items], next_cursor=found.next_cursor)


@router.get(
    "/{return_id}", summary="One of your returns (admin: any)", responses=problems({404: NO_RETURN})
)
async def read_return(
    return_id: ReturnId, principal: CurrentUser, session: SessionDep
) -> ReturnOut:
    """Someone else's return is 404."""
    return return_out(await visible(session, principal, Return, return_id))


@router.post(
    "/{return_id}/accept",
    summary="Accept a requested return (admin)",
    responses=problems({404: NO_RETURN, 409: NOT_NOW}),
)
async def accept_return(
    return_id: ReturnId, _: Admin, session: SessionDep, outbox: OutboxDep
) -> ReturnOut:
    """requested -> accepted; `return.accepted`: the customer may send the parcel."""
    return return_out(await returns.move_return(session, outbox, return_id, ReturnStatus.ACCEPTED))


@router.post(
    "/{return_id}/reject",
    summary="Refuse a requested return, saying why (admin)",
    responses=problems({404: NO_RETURN, 409: NOT_NOW, 422: "No reason given."}),
)
async def reject_return(
    return_id: ReturnId, reject_in: RejectIn, _: Admin, session: SessionDep, outbox: OutboxDep
) -> ReturnOut:
    """requested -> rejected; `return.rejected`. Its lines may be asked for again."""
    return return_out(
        await returns.move_return(
            session, outbox, return_id, ReturnStatus.REJECTED, reason=reject_in.reason
        )
    )


@router.post(
    "/{return_id}/receive",
    summary="Record an accepted return's parcel as back (admin)",
    responses=problems({404: NO_RETURN, 409: NOT_NOW}),
)
async def receive_return(
    return_id: ReturnId, _: Admin, session: SessionDep, outbox: OutboxDep
) -> ReturnOut:
    """accepted -> received; `return.received`, which orders refunds."""
    return return_out(await returns.move_return(session, outbox, return_id, ReturnStatus.RECEIVED))
