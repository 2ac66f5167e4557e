"""The catalog's restock of returned lines: for the orders service (and admins).

`POST /api/catalog/returns/{return_id}` puts a received return's lines back on hand,
once per return id (`inventory.returns`). It is authorised as the checkout's
reservation calls are: a service token for the catalog, or an admin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from mercato.catalog.inventory import returns
from mercato.catalog.settings import CatalogRuntime
from mercato.chassis.security.tokens import AdminOrService
from mercato.chassis.web.dependencies import SessionDep, runtime_of
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse
from mercato.chassis.web.openapi import problems
from mercato.contracts.restocks import ReturnId, ReturnRestockIn, ReturnRestockOut

__all__ = ["router"]

router = APIRouter(prefix="/api/catalog", tags=["catalog"], route_class=StrictJsonRoute)
Catalog = Annotated[CatalogRuntime, Depends(runtime_of)]


@router.post(
    "/returns/{return_id}",
    status_code=201,
    response_model=ReturnRestockOut,
    responses={
        200: {"model": ReturnRestockOut, "description": "The return's restock, made before."},
        **problems(
            {
                422: "Invalid fields, this return restocked before with other lines, or units "
                "beyond the largest stock.",
            }
        ),
    },
)
async def restock_return(
    return_id: Annotated[ReturnId, Path(description="The return's id: one restock each.")],
    restock_in: ReturnRestockIn,
    session: SessionDep,
    runtime: Catalog,
    _: AdminOrService,
) -> Response:
    """Put a return's lines back on hand, once per return id (service, admin)."""
    body, created = await returns.restock_return(
        session, outbox=runtime.outbox, return_id=return_id, restock_in=restock_in
    )
    runtime.context.search_cache.clear()  # availability shows in listings
    return JsonResponse(body, status_code=201 if created else 200)
