"""HTTP routes of methods, rates and quotes: thin, parse and delegate to `methods`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from mercato.chassis.security.tokens import Admin
from mercato.chassis.web.dependencies import SessionDep
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.contracts.shipping import QuoteList, QuoteQuery
from mercato.shipping import methods, store
from mercato.shipping.schemas import (
    MethodIn,
    MethodList,
    MethodOut,
    MethodPatch,
    RateIn,
    RateList,
    RateOut,
    RatePatch,
    method_out,
    rate_out,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/shipping", tags=["shipping"], route_class=StrictJsonRoute)
MethodCodePath = Annotated[str, Path(max_length=40, description="The method's code.")]
RateIdPath = Annotated[str, Path(max_length=32, description="The rate's id.")]
NO_METHOD = "No method with this code."
NO_RATE = "No rate with this id."


@router.get(
    "/quotes",
    summary="Price a parcel: every method that ships it, cheapest first",
    responses=problems({422: "A missing or invalid parameter."}, never=(401, 403)),
)
async def get_quotes(query: Annotated[QuoteQuery, Query()], session: SessionDep) -> QuoteList:
    """Anyone may ask (the storefront, orders at checkout); an empty list: not shipped there."""
    return await methods.get_quotes(session, query)


@router.get("/methods", summary="Every shipping method (admin)")
async def list_methods(_: Admin, session: SessionDep) -> MethodList:
    """Methods by code, active or not."""
    return MethodList(items=[method_out(m) for m in await store.list_methods(session)])


@router.post(
    "/methods",
    status_code=201,
    summary="Add a shipping method (admin)",
    responses=problems({409: "A method with this code exists.", 422: "Invalid fields."}),
)
async def create_method(method_in: MethodIn, _: Admin, session: SessionDep) -> MethodOut:
    """A new method; it is quoted once it has rates."""
    return method_out(await methods.create_method(session, method_in))


@router.patch(
    "/methods/{code}",
    summary="Change a shipping method (admin)",
    responses=problems({404: NO_METHOD, 422: "Invalid fields, or days out of order."}),
)
async def update_method(
    code: MethodCodePath, patch: MethodPatch, _: Admin, session: SessionDep
) -> MethodOut:
    """Rename it, change its days, or (de)activate it."""
    return method_out(await methods.update_method(session, code, patch))


@router.get("/rates", summary="Rates, of one method if given (admin)")
async def list_rates(
    _: Admin,
    session: SessionDep,
    method: Annotated[str | None, Query(max_length=40, description="A method's code.")] = None,
) -> RateList:
    """Rates by method, currency and weight."""
    return RateList(items=[rate_out(r) for r in await store.list_rates(session, method=method)])


@router.post(
    "/rates",
    status_code=201,
    summary="Add a rate (admin)",
    responses=problems({422: "Invalid fields, or no such method."}),
)
async def create_rate(rate_in: RateIn, _: Admin, session: SessionDep) -> RateOut:
    """A price of a method for a zone, a currency and parcels up to a weight."""
    return rate_out(await methods.create_rate(session, rate_in))


@router.patch(
    "/rates/{rate_id}",
    summary="Change a rate (admin)",
    responses=problems({404: NO_RATE, 422: "Invalid fields."}),
)
async def update_rate(
    rate_id: RateIdPath, patch: RatePatch, _: Admin, session: SessionDep
) -> RateOut:
    """Change its zone, currency, weight, price or free-over threshold."""
    return rate_out(await methods.update_rate(session, rate_id, patch))


@router.delete(
    "/rates/{rate_id}",
    status_code=204,
    summary="Remove a rate (admin)",
    responses=problems({404: NO_RATE}),
)
async def delete_rate(rate_id: RateIdPath, _: Admin, session: SessionDep) -> Response:
    """The method is no longer quoted where only this rate priced it."""
    await methods.delete_rate(session, rate_id)
    return Response(status_code=204)
