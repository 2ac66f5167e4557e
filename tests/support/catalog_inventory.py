"""Helpers of the catalog's inventory tests, on SQLite and on PostgreSQL.

The catalog runs in-process without a broker, so every event stays in the outbox
table, where `outbox` reads it. Products are made through the admin API; stock
numbers are read back as an admin sees them (`stock` = available, `on_hand`,
`reserved`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import select, update

from mercato.catalog.models import EVENTS, Reservation
from tests.support.tokens import TokenFactory

API = "/api/catalog"
RESERVATIONS = f"{API}/reservations"
Headers = dict[str, str]


def service_headers(tokens: TokenFactory) -> Headers:
    """A service token of the orders service, meant for the catalog."""
    return tokens.headers("service:orders", ["service"], typ="service", aud="catalog")


async def make_product(
    client: httpx.AsyncClient,
    admin: Headers,
    *,
    sku: str,
    stock: int,
    amount: int = 2500,
    **more: Any,
) -> str:
    """Create a product through the admin API; its id."""
    body = {"sku": sku, "title": f"Item {sku}", "price": {"amount": amount, "currency": "USD"}}
    response = await client.post(
        f"{API}/products", json={**body, "stock": stock, **more}, headers=admin
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def levels(
    client: httpx.AsyncClient, admin: Headers, product_id: str
) -> tuple[int, int, int]:
    """A product's (available, on_hand, reserved), as an admin reads them."""
    body = (await client.get(f"{API}/products/{product_id}", headers=admin)).json()
    assert body["on_hand"] == body["stock"] + body["reserved"]
    return body["stock"], body["on_hand"], body["reserved"]


def order(product_id: str, quantity: int = 1, *, order_id: str, **more: Any) -> dict[str, Any]:
    """The body of a one-line reservation."""
    return {
        "order_id": order_id,
        "items": [{"product_id": product_id, "quantity": quantity}],
        **more,
    }


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    """The events in the app's outbox, oldest first, as envelopes."""
    table = EVENTS.outbox
    async with app.state.runtime.database.session() as session:
        rows = await session.execute(select(table.c.payload).order_by(table.c.created_at))
        return [orjson.loads(payload) for payload in rows.scalars()]


async def backdate(app: FastAPI, order_id: str, seconds: float = 60) -> None:
    """Make an order's reservation expire `seconds` ago."""
    past = datetime.now(UTC) - timedelta(seconds=seconds)
    async with app.state.runtime.database.session() as session:
        await session.execute(
            update(Reservation).where(Reservation.order_id == order_id).values(expires_at=past)
        )
        await session.commit()
