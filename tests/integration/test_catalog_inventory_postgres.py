"""Integration tests of the catalog's inventory on a real PostgreSQL and MariaDB: races and
invariants (no oversell).

Several catalog instances (each its own engine and connection pool) share one fresh
database (`tests.support.servers.fresh_database`, once per server), so concurrent reservations run
in concurrent transactions on the server, as replicas would. Skipped when the server
is not reachable, unless MERCATO_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from mercato.catalog.app import create_app
from mercato.catalog.models import MIGRATIONS
from mercato.catalog.settings import load_settings
from mercato.chassis.data.database import Database
from tests.support.apps import running
from tests.support.migrations import to_first_revision
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

API = "/api/catalog"
RESERVATIONS = f"{API}/reservations"
INSTANCES = 5
INVARIANT = """
    SELECT count(*) FROM products p
    WHERE p.reserved < 0 OR p.on_hand < p.reserved
       OR p.reserved <> coalesce((
            SELECT sum(i.quantity) FROM reservation_items i
            JOIN reservations r ON r.order_id = i.order_id
            WHERE i.product_id = p.id AND r.status = 'reserved'), 0)
"""


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with fresh_database(request.param, "inventory") as url:
        yield url


def catalog(database_url: str, **settings: Any) -> FastAPI:
    return create_app(load_settings(database_url=database_url, broker_url="", **settings))


async def instances(
    stack: AsyncExitStack, database_url: str, tokens: TokenFactory, n: int = INSTANCES
) -> list[httpx.AsyncClient]:
    """`n` catalog apps on the same database, started one after the other (migrations)."""
    return [
        await stack.enter_async_context(running(catalog(database_url), tokens)) for _ in range(n)
    ]


async def product(client: httpx.AsyncClient, admin: dict[str, str], sku: str, stock: int) -> str:
    body = {"sku": sku, "title": sku, "price": {"amount": 100, "currency": "USD"}, "stock": stock}
    response = await client.post(f"{API}/products", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def scalar(database_url: str, sql: str) -> Any:
    """One value read with a connection of its own."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar_one()
    finally:
        await db.dispose()


async def test_fifty_buyers_for_ten_units(database_url: str, tokens: TokenFactory) -> None:
    admin = tokens.headers(roles=["admin"])
    svc = tokens.headers("service:orders", ["service"], typ="service", aud="catalog")
    async with AsyncExitStack() as stack:
        clients = await instances(stack, database_url, tokens)
        mug = await product(clients[0], admin, "MUG", 10)

        async def buy(n: int) -> httpx.Response:
            body = {"order_id": f"race-{n}", "items": [{"product_id": mug, "quantity": 1}]}
            return await clients[n % len(clients)].post(RESERVATIONS, json=body, headers=svc)

        responses = await asyncio.gather(*(buy(n) for n in range(50)))
        codes = [r.status_code for r in responses]
        assert (codes.count(201), codes.count(409)) == (10, 40), codes
        body = (await clients[1].get(f"{API}/products/{mug}", headers=admin)).json()
        assert (body["stock"], body["on_hand"], body["reserved"]) == (0, 10, 10)
        assert await scalar(database_url, INVARIANT) == 0

        winners = [f"race-{n}" for n, r in enumerate(responses) if r.status_code == 201]

        async def settle(n: int, order_id: str) -> httpx.Response:
            action = "commit" if n % 2 else "release"
            client = clients[n % len(clients)]
            return await client.post(f"{RESERVATIONS}/{order_id}/{action}", headers=svc)

        settled = await asyncio.gather(
            *(settle(n, order_id) for n, order_id in enumerate(winners * 2))
        )
        assert {r.status_code for r in settled} == {200}
        body = (await clients[2].get(f"{API}/products/{mug}", headers=admin)).json()
        assert (body["stock"], body["on_hand"], body["reserved"]) == (5, 5, 0)
        assert await scalar(database_url, INVARIANT) == 0


async def test_crossed_multi_line_orders_do_not_deadlock(
    database_url: str, tokens: TokenFactory
) -> None:
    admin = tokens.headers(roles=["admin"])
    svc = tokens.headers("service:orders", ["service"], typ="service", aud="catalog")
    async with AsyncExitStack() as stack:
        clients = await instances(stack, database_url, tokens)
        ids = [await product(clients[0], admin, f"P-{n}", 20) for n in range(4)]

        async def buy(n: int) -> httpx.Response:
            lines = ids if n % 2 else list(reversed(ids))
            items = [{"product_id": pid, "quantity": 1 + (n % 3)} for pid in lines]
            body = {"order_id": f"x-{n}", "items": items}
            return await clients[n % len(clients)].post(RESERVATIONS, json=body, headers=svc)

        responses = await asyncio.gather(*(buy(n) for n in range(40)))
        codes = [r.status_code for r in responses]
        assert set(codes) <= {201, 409}, [r.text for r in responses if r.status_code >= 500]
        held = sum(1 + (n % 3) for n, code in enumerate(codes) if code == 201)
        for pid in ids:
            body = (await clients[0].get(f"{API}/products/{pid}", headers=admin)).json()
            assert (body["on_hand"], body["reserved"]) == (20, held)
        assert await scalar(database_url, INVARIANT) == 0
        solo = await product(clients[0], admin, "SOLO", 5)
        duplicate = await asyncio.gather(
            *(
                client.post(
                    RESERVATIONS,
                    json={"order_id": "same", "items": [{"product_id": solo, "quantity": 1}]},
                    headers=svc,
                )
                for client in clients
            )
        )
        assert sorted(r.status_code for r in duplicate) == [200] * (len(clients) - 1) + [201]
        assert len({r.json()["expires_at"] for r in duplicate}) == 1
        body = (await clients[0].get(f"{API}/products/{solo}", headers=admin)).json()
        assert (body["stock"], body["reserved"]) == (4, 1)


async def test_the_migration_splits_stock_and_adds_constraints(
    database_url: str, tokens: TokenFactory
) -> None:
    db = Database(database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_first_revision("catalog", MIGRATIONS))  # before inventory
        await connection.execute(
            text(
                "INSERT INTO products (id, sku, title, description, price_amount, currency, "
                "tags, attributes, images, stock, created_at, updated_at) VALUES ('p-1', 'OLD', "
                "'Old', '', 100, 'USD', '[]', '{}', '[]', 7, now(), now())"
            )
        )
    await db.dispose()
    admin = tokens.headers(roles=["admin"])
    async with running(catalog(database_url), tokens) as client:
        body = (await client.get(f"{API}/products/p-1", headers=admin)).json()
        assert (body["stock"], body["on_hand"], body["reserved"]) == (7, 7, 0)
        checks = await scalar(
            database_url,
            "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint "
            "WHERE conrelid = 'products'::regclass AND contype = 'c'"
            if database_url.startswith("postgresql")
            else "SELECT group_concat(constraint_name ORDER BY constraint_name) "
            "FROM information_schema.check_constraints WHERE table_name = 'products' "
            "AND constraint_schema = database() AND level = 'Table'",
        )
        assert checks.split(",") == [
            "ck_products_on_hand_not_negative",
            "ck_products_price_not_negative",
            "ck_products_reserved_within_on_hand",
        ]
        refused = await client.post(f"{API}/products/p-1/stock", json={"delta": -8}, headers=admin)
        assert refused.status_code == 422


async def test_a_restock_past_the_maximum_is_refused_not_overflowed(
    database_url: str, tokens: TokenFactory
) -> None:
    # on_hand + delta does not fit in PostgreSQL's 32-bit integer: this was a 500.
    admin = tokens.headers(roles=["admin"])
    maximum = 2**31 - 1
    async with running(catalog(database_url), tokens) as client:
        mug = await product(client, admin, "MUG", 10)
        url = f"{API}/products/{mug}/stock"
        for delta in (maximum, maximum - 9):
            refused = await client.post(url, json={"delta": delta}, headers=admin)
            assert refused.status_code == 422, refused.text
            assert [e["field"] for e in refused.json()["errors"]] == ["delta"]
        filled = await client.post(url, json={"delta": maximum - 10}, headers=admin)
        assert filled.status_code == 200 and filled.json()["on_hand"] == maximum
        emptied = await client.post(url, json={"delta": -maximum}, headers=admin)
        assert emptied.status_code == 200 and emptied.json()["on_hand"] == 0


async def test_lines_adding_up_past_a_32_bit_stock_are_short_not_overflowed(
    database_url: str, tokens: TokenFactory
) -> None:
    # Two allowed quantities of one product add up past PostgreSQL's 32-bit integer;
    # binding their sum was a 500 (found by schemathesis' stateful phase).
    admin = tokens.headers(roles=["admin"])
    svc = tokens.headers("service:orders", ["service"], typ="service", aud="catalog")
    maximum = 2**31 - 1
    async with running(catalog(database_url), tokens) as client:
        mug = await product(client, admin, "MUG", 10)
        items = [{"product_id": mug, "quantity": maximum}, {"product_id": mug, "quantity": 5}]
        short = await client.post(
            RESERVATIONS, json={"order_id": "o-big", "items": items}, headers=svc
        )
        assert short.status_code == 409, short.text
        assert short.json()["errors"][0]["available"] == 10
        assert (await client.get(f"{RESERVATIONS}/o-big", headers=svc)).status_code == 404
    assert await scalar(database_url, "SELECT reserved FROM products") == 0
