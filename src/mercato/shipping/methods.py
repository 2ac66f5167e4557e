"""Methods and rates: the admin's changes to them, and quotes priced from them.

Functions raise `chassis.web.errors` problems and commit what they change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.web.errors import Conflict, NotFound, Unprocessable, field_error
from mercato.contracts.shipping import QuoteList, QuoteQuery
from mercato.shipping import store
from mercato.shipping.models import Method, Rate
from mercato.shipping.rates import MethodInfo, RateInfo, quote
from mercato.shipping.schemas import MethodIn, MethodPatch, RateIn, RatePatch

__all__ = [
    "create_method",
    "create_rate",
    "delete_rate",
    "get_quotes",
    "update_method",
    "update_rate",
]


def _now() -> datetime:
    return datetime.now(UTC)


async def get_quotes(session: AsyncSession, query: QuoteQuery) -> QuoteList:
    """Every active method that ships the parcel, priced, cheapest first."""
    methods = [
        MethodInfo(m.code, m.name, m.min_days, m.max_days, m.active)
        for m in await store.list_methods(session)
    ]
    rates = [
        RateInfo(r.method, tuple(r.countries), r.currency, r.max_weight_grams, r.price, r.free_over)
        for r in await store.list_rates(session)
    ]
    return quote(methods, rates, query)


async def create_method(session: AsyncSession, method_in: MethodIn) -> Method:
    """Add a method; 409 when its code is taken."""
    now = _now()
    method = Method(**method_in.model_dump(), created_at=now, updated_at=now)
    session.add(method)
    try:
        await session.commit()
    except IntegrityError:
        raise Conflict(f"A method {method_in.code!r} exists already.") from None
    return method


async def _method(session: AsyncSession, code: str) -> Method:
    method = await store.get_method(session, code)
    if method is None:
        raise NotFound(f"No shipping method {code!r}.")
    return method


async def update_method(session: AsyncSession, code: str, patch: MethodPatch) -> Method:
    """Change a method; 404 when there is none, 422 when its days end out of order."""
    method = await _method(session, code)
    for name, value in patch.model_dump(exclude_unset=True).items():
        if value is None:
            raise Unprocessable(
                f"{name} cannot be null.", errors=[field_error(name, "may not be null")]
            )
        setattr(method, name, value)
    if method.min_days > method.max_days:
        raise Unprocessable(
            "min_days is more than max_days.",
            errors=[field_error("min_days", "more than max_days")],
        )
    method.updated_at = _now()
    await session.commit()
    return method


async def create_rate(session: AsyncSession, rate_in: RateIn) -> Rate:
    """Add a rate to an existing method; 422 naming `method` when there is none."""
    if await store.get_method(session, rate_in.method) is None:
        raise Unprocessable(
            f"No shipping method {rate_in.method!r}.",
            errors=[field_error("method", "no such method")],
        )
    now = _now()
    rate = Rate(id=uuid.uuid4().hex, **rate_in.model_dump(), created_at=now, updated_at=now)
    session.add(rate)
    await session.commit()
    return rate


async def _rate(session: AsyncSession, rate_id: str) -> Rate:
    rate = await store.get_rate(session, rate_id)
    if rate is None:
        raise NotFound(f"No rate {rate_id!r}.")
    return rate


async def update_rate(session: AsyncSession, rate_id: str, patch: RatePatch) -> Rate:
    """Change a rate; `free_over: null` removes the threshold, other nulls are 422."""
    rate = await _rate(session, rate_id)
    for name, value in patch.model_dump(exclude_unset=True).items():
        if value is None and name != "free_over":
            raise Unprocessable(
                f"{name} cannot be null.", errors=[field_error(name, "may not be null")]
            )
        setattr(rate, name, value)
    rate.updated_at = _now()
    await session.commit()
    return rate


async def delete_rate(session: AsyncSession, rate_id: str) -> None:
    """Remove a rate; 404 when there is none."""
    await session.delete(await _rate(session, rate_id))
    await session.commit()
