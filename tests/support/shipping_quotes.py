"""A stand-in for the shipping service's quote API, served over real HTTP for orders' tests.

Orders depends on `GET /api/shipping/quotes` (`mercato.contracts.shipping`); the
shipping service itself is built on another branch, so these tests run this small
app in its place: it parses the query with the contract's `QuoteQuery` (422 on what
the contract refuses), insists on a bearer token, answers a `QuoteList` from a fixed
rate table and records every query it answered. It stands in for a dependency of
the thing under test (orders), which is always the real service.

Rates: `standard` ships to DE, GB and FR for 400 + 10 per started 100 g, free from a
subtotal of 10000; `express` ships to DE and GB for 1500. Nothing ships to AQ.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from mercato.contracts.shipping import Quote, QuoteList, QuoteMoney, QuoteQuery
from tests.support.orders import Server

__all__ = ["FREE_FROM", "QuoteServer", "express_price", "quote_server", "standard_price"]

STANDARD = ("DE", "GB", "FR")
EXPRESS = ("DE", "GB")
FREE_FROM = 10_000
EXPRESS_PRICE = 1500


def standard_price(weight_grams: int, subtotal: int) -> int:
    """What the stand-in charges for `standard`."""
    if subtotal >= FREE_FROM:
        return 0
    return 400 + 10 * -(-weight_grams // 100)


def express_price() -> int:
    """What the stand-in charges for `express`."""
    return EXPRESS_PRICE


@dataclass
class QuoteServer:
    """The stand-in's app served on a local port, and what it was asked."""

    server: Server
    queries: list[QuoteQuery] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    broken: bool = False  # answer a body outside the contract

    @property
    def url(self) -> str:
        """Its base URL."""
        return self.server.url


def _claims(authorization: str) -> dict[str, Any]:
    """The claims of a bearer JWT (read, not verified: the test minted it)."""
    payload = authorization.removeprefix("Bearer ").split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def _quotes(query: QuoteQuery) -> QuoteList:
    items = []
    if query.country in STANDARD:
        price = standard_price(query.weight_grams, query.subtotal)
        items.append(
            Quote(
                method="standard",
                name="Standard delivery",
                price=QuoteMoney(amount=price, currency=query.currency),
                min_days=3,
                max_days=5,
            )
        )
    if query.country in EXPRESS:
        items.append(
            Quote(
                method="express",
                name="Express delivery",
                price=QuoteMoney(amount=express_price(), currency=query.currency),
                min_days=1,
                max_days=2,
            )
        )
    return QuoteList(items=sorted(items, key=lambda quote: quote.price.amount))


def _app(state: dict[str, QuoteServer]) -> FastAPI:
    app = FastAPI()

    @app.get("/api/shipping/quotes")
    async def quotes(request: Request) -> JSONResponse:
        served = state["server"]
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        try:
            query = QuoteQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            return JSONResponse({"title": "Unprocessable", "detail": str(exc)}, status_code=422)
        served.queries.append(query)
        served.tokens.append(_claims(authorization))
        if served.broken:
            return JSONResponse({"items": [{"method": "Not A Code"}]})
        return JSONResponse(_quotes(query).model_dump(mode="json"))

    return app


@contextlib.asynccontextmanager
async def quote_server() -> AsyncIterator[QuoteServer]:
    """The stand-in serving on a free local port until the block ends."""
    state: dict[str, QuoteServer] = {}
    server = Server(_app(state))
    state["server"] = served = QuoteServer(server)
    await server.start()
    try:
        yield served
    finally:
        await server.stop()
