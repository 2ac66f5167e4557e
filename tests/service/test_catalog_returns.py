"""Service tests of the catalog's restock of returned lines, once per return id.

`POST /api/catalog/returns/{return_id}` puts units back on hand for the orders
service (a service token) or an admin; a repeat answers the same restock and adds
nothing, even when several calls race; other lines under the same id are refused.
The app runs in-process on SQLite in `tmp_path`, without a broker.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.catalog.app import create_app
from mercato.catalog.models import EVENTS, ReturnRestock
from mercato.catalog.settings import load_settings
from mercato.contracts.quantities import MAX_STOCK
from tests.support.apps import running
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

API = "/api/catalog"
PROBLEM = "application/problem+json"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(roles=["admin"])


@pytest.fixture
def orders(tokens: TokenFactory) -> dict[str, str]:
    """The orders service's token for the catalog."""
    return tokens.headers("service:orders", ["service"], typ="service", aud="catalog")


async def product(client: httpx.AsyncClient, admin: dict[str, str], stock: int = 3) -> str:
    body = {
        "sku": f"SKU-{uuid.uuid4().hex[:10]}",
        "title": "Teapot",
        "price": {"amount": 2500, "currency": "USD"},
        "stock": stock,
    }
    response = await client.post(f"{API}/products", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def on_hand(client: httpx.AsyncClient, admin: dict[str, str], product_id: str) -> int:
    response = await client.get(f"{API}/products/{product_id}", headers=admin)
    return int(response.json()["on_hand"])


def restock(product_id: str, quantity: int = 2, order_id: str = "order-1") -> dict[str, Any]:
    return {"order_id": order_id, "items": [{"product_id": product_id, "quantity": quantity}]}


async def stock_events(app: FastAPI) -> int:
    table = EVENTS.outbox
    async with app.state.runtime.database.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(table).where(table.c.type == "product.stock_changed")
        )
    return int(count or 0)


async def test_a_return_goes_back_on_hand_once_however_often_it_is_sent(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], orders: dict[str, str]
) -> None:
    teapot = await product(client, admin, stock=3)
    events_before = await stock_events(app)

    first = await client.post(f"{API}/returns/r-1", json=restock(teapot), headers=orders)
    again = await client.post(f"{API}/returns/r-1", json=restock(teapot), headers=orders)

    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json() == first.json()
    assert first.json()["items"] == [{"product_id": teapot, "quantity": 2, "restocked": True}]
    assert await on_hand(client, admin, teapot) == 5
    assert await stock_events(app) == events_before + 1


@pytest.mark.integration
@pytest.mark.parametrize("kind", DATABASES)
async def test_racing_calls_of_one_return_restock_it_once_on_a_database_server(
    tmp_path: Path, tokens: TokenFactory, kind: str
) -> None:
    async with fresh_database(kind, "restocks") as url:
        app = create_app(load_settings(data_dir=tmp_path, broker_url="", database_url=url))
        async with running(app, tokens) as client:
            admin = tokens.headers(roles=["admin"])
            orders = tokens.headers("service:orders", ["service"], typ="service", aud="catalog")
            await racing_restocks(client, admin, orders)


async def test_racing_calls_of_one_return_restock_it_once(
    client: httpx.AsyncClient, admin: dict[str, str], orders: dict[str, str]
) -> None:
    await racing_restocks(client, admin, orders)


async def racing_restocks(
    client: httpx.AsyncClient, admin: dict[str, str], orders: dict[str, str]
) -> None:
    """Six calls of one return at once: one restock (201), five answers of it (200)."""
    teapot = await product(client, admin, stock=0)
    answers = await asyncio.gather(
        *(
            client.post(f"{API}/returns/r-race", json=restock(teapot, 4), headers=orders)
            for _ in range(6)
        )
    )
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert await on_hand(client, admin, teapot) == 4


async def test_the_same_return_with_other_lines_is_refused(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], orders: dict[str, str]
) -> None:
    teapot = await product(client, admin)
    assert (
        await client.post(f"{API}/returns/r-2", json=restock(teapot, 1), headers=orders)
    ).status_code == 201
    other = await client.post(f"{API}/returns/r-2", json=restock(teapot, 2), headers=orders)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith(PROBLEM)
    assert await on_hand(client, admin, teapot) == 4


async def test_a_product_gone_from_the_catalog_is_answered_not_restocked(
    client: httpx.AsyncClient, admin: dict[str, str], orders: dict[str, str]
) -> None:
    teapot = await product(client, admin)
    body = {
        "order_id": "order-2",
        "items": [{"product_id": teapot, "quantity": 1}, {"product_id": "gone-1", "quantity": 1}],
    }
    response = await client.post(f"{API}/returns/r-3", json=body, headers=orders)
    assert response.status_code == 201, response.text
    assert {i["product_id"]: i["restocked"] for i in response.json()["items"]} == {
        teapot: True,
        "gone-1": False,
    }
    assert await on_hand(client, admin, teapot) == 4


async def test_units_beyond_the_largest_stock_are_refused_and_nothing_is_kept(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], orders: dict[str, str]
) -> None:
    teapot = await product(client, admin, stock=MAX_STOCK - 1)
    response = await client.post(f"{API}/returns/r-4", json=restock(teapot, 2), headers=orders)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items.0.quantity"
    async with app.state.runtime.database.session() as session:
        assert await session.get(ReturnRestock, "r-4") is None  # so a retry may succeed later
    assert await on_hand(client, admin, teapot) == MAX_STOCK - 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_id": "o", "items": []}, "items"),
        ({"order_id": "o", "items": [{"product_id": "p", "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{"product_id": "p", "quantity": 1}]}, "order_id"),
        ({"order_id": "o", "items": [{"product_id": "p", "quantity": 1}], "x": 1}, "x"),
    ],
)
async def test_invalid_restocks_are_422_naming_the_field(
    client: httpx.AsyncClient, orders: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{API}/returns/r-5", json=body, headers=orders)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}


async def test_only_services_and_admins_restock(
    client: httpx.AsyncClient, admin: dict[str, str], tokens: TokenFactory
) -> None:
    teapot = await product(client, admin)
    body = restock(teapot)
    anonymous = await client.post(f"{API}/returns/r-6", json=body)
    customer = await client.post(f"{API}/returns/r-6", json=body, headers=tokens.headers())
    bad_id = await client.post(f"{API}/returns/-bad id", json=body, headers=admin)
    not_json = await client.post(
        f"{API}/returns/r-6", content=b"{", headers={**admin, "content-type": "application/json"}
    )
    wrong_type = await client.post(
        f"{API}/returns/r-6", content=b"x", headers={**admin, "content-type": "text/plain"}
    )
    assert (anonymous.status_code, customer.status_code) == (401, 403)
    assert (bad_id.status_code, not_json.status_code, wrong_type.status_code) == (422, 400, 415)
    assert await on_hand(client, admin, teapot) == 3
    by_admin = await client.post(f"{API}/returns/r-6", json=body, headers=admin)
    assert by_admin.status_code == 201
