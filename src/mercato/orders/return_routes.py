"""HTTP routes of the returns' refund sagas, for operators (admins only).

A customer sees their returns in their order (`GET /api/orders/{id}`, `returns`);
these routes list the returns whose saga waits for an operator, and resume one where
it stalled once the cause is fixed (`return_runner.ReturnRunner.resume`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import ConfigDict, Field

from mercato.chassis.security.tokens import Admin
from mercato.chassis.web.dependencies import SessionDep, context_of
from mercato.chassis.web.errors import NotFound
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, Page, decode_time_cursor, page_size
from mercato.orders import returns_store
from mercato.orders.context import OrdersContext
from mercato.orders.fulfilment import ReturnOut, return_body
from mercato.orders.models import OrderReturn
from mercato.orders.return_saga import NEEDS_ATTENTION

__all__ = ["router"]

router = APIRouter(prefix="/api/orders/returns", tags=["returns"], route_class=StrictJsonRoute)
ContextDep = Annotated[OrdersContext, Depends(context_of)]
ADMIN_ONLY = "The token is not an administrator's."
RETURN_EXAMPLE: dict[str, Any] = {
    "id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "order_id": "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d",
    "user_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
    "status": "needs_attention",
    "stalled_in": "refunding",
    "items": [{"product_id": "0b9c6f3e-1d2a-4c5b-8e7f-6a5b4c3d2e1f", "quantity": 1}],
    "refund": {"amount": 450, "currency": "USD"},
    "whole_order": False,
    "reason": "refunding: refused for good: payments refused the refund",
    "created_at": "2026-01-09T10:00:00Z",
    "updated_at": "2026-01-09T10:00:05Z",
}


class ReturnDetailOut(ReturnOut):
    """A return with its order and customer, and where its saga stalled."""

    model_config = ConfigDict(json_schema_extra={"examples": [RETURN_EXAMPLE]})

    order_id: str = Field(description="The order the lines came from.")
    user_id: str = Field(description="The order's customer.")
    stalled_in: str | None = Field(description="The state it waits in, for an operator.")


class ReturnPage(Page[ReturnDetailOut]):
    """One page of returns, newest first; pass `next_cursor` back as `cursor`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [RETURN_EXAMPLE], "next_cursor": None}]}
    )


def _detail(row: OrderReturn) -> ReturnDetailOut:
    return ReturnDetailOut(
        **return_body(row).model_dump(),
        order_id=row.order_id,
        user_id=row.user_id,
        stalled_in=row.stalled_in if row.status == NEEDS_ATTENTION else None,
    )


@router.get(
    "/attention",
    summary="Returns waiting for an operator (admin)",
    responses=problems({403: ADMIN_ONLY}),
)
async def list_return_attention(
    _: Admin,
    session: SessionDep,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> ReturnPage:
    """Every return whose refund saga needs an operator, newest first; why is `reason`."""
    found = await returns_store.page(
        session, status=NEEDS_ATTENTION, limit=limit, after=decode_time_cursor(cursor)
    )
    return ReturnPage(items=[_detail(row) for row in found.items], next_cursor=found.next_cursor)


@router.post(
    "/{return_id}/resume",
    summary="Resume a return that needs attention (admin)",
    responses=problems(
        {
            403: ADMIN_ONLY,
            404: "No such return.",
            409: "The return does not need attention, or its saga is busy; retry.",
        }
    ),
)
async def resume_return(
    return_id: Annotated[str, Path(description="The return's id.")],
    _: Admin,
    session: SessionDep,
    parts: ContextDep,
) -> ReturnDetailOut:
    """Put the return back in the state it stalled in and drive its saga on; 409 otherwise."""
    if await returns_store.get_return(session, return_id) is None:
        raise NotFound(f"No return {return_id}.")
    await session.rollback()  # end the read: the runner writes in transactions of its own
    await parts.returns.resume(return_id)
    row = await returns_store.get_return(session, return_id)
    if row is None:  # pragma: no cover - returns are never deleted
        raise NotFound(f"No return {return_id}.")
    return _detail(row)
