"""Integration tests of the catalog on a real PostgreSQL: migrations, full-text search, paging.

Each test gets a database of its own (`mercato_test_catalog_<random>`, dropped
afterwards) on the server of MERCATO_TEST_POSTGRES_URL (default:
postgres@127.0.0.1:5432, trust auth). When the server is not reachable the tests are
skipped, unless MERCATO_REQUIRE_SERVERS=1, where they fail.

`require_server` is a local copy of the one in `tests/integration/conftest.py`, which
a test module cannot import (conftest modules are not meant to be imported).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from mercato.catalog.app import create_app
from mercato.catalog.models import EVENTS, CatalogBase
from mercato.catalog.settings import load_settings
from tests.support.apps import running
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

API = "/api/catalog"
SEARCH = "SELECT id FROM products WHERE search @@ websearch_to_tsquery('english', :q)"
MYSQL_SEARCH = "SELECT id FROM products WHERE MATCH(search) AGAINST(:q IN BOOLEAN MODE)"


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with fresh_database(request.param, "catalog") as url:
        yield url


def catalog(database_url: str, **settings: Any) -> FastAPI:
    return create_app(load_settings(database_url=database_url, broker_url="", **settings))


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    """The events in the app's outbox, oldest first, as envelopes."""
    table = EVENTS.outbox
    async with app.state.runtime.database.session() as session:
        rows = await session.execute(select(table.c.payload).order_by(table.c.created_at))
        return [orjson.loads(payload) for payload in rows.scalars()]


async def every_page(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/products", params=query)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


NOT_MODELLED = {
    ("remove_column", "search"),
    ("remove_index", "ix_products_search"),
    ("remove_index", "ix_products_search_named"),  # MySQL's, for relevance's tiers
    ("remove_table", "alembic_version_catalog"),
    ("remove_table", "product_name_words"),  # PostgreSQL's, kept by triggers (0011)
}


def _kind_and_name(difference: Any) -> tuple[str, str]:
    target = difference[3] if difference[0] == "remove_column" else difference[1]
    return difference[0], str(getattr(target, "name", ""))


def schema_differences(connection: Connection) -> list[Any]:
    """Autogenerate's differences, but for what the models leave out on purpose."""
    differences = compare_metadata(MigrationContext.configure(connection), CatalogBase.metadata)
    return [d for d in differences if _kind_and_name(d) not in NOT_MODELLED]


async def test_migrations_apply_and_match_the_models(database_url: str) -> None:
    app = catalog(database_url)
    async with app.router.lifespan_context(app):
        engine = app.state.runtime.database.engine
        async with engine.connect() as connection:
            assert await connection.run_sync(schema_differences) == []
            if connection.dialect.name == "mysql":
                plan = await connection.execute(text(f"EXPLAIN {MYSQL_SEARCH}"), {"q": "+laptop"})
                assert [row.key for row in plan] == ["ix_products_search"]
            else:
                await connection.execute(text("SET enable_seqscan = off"))
                plan = await connection.execute(text(f"EXPLAIN {SEARCH}"), {"q": "laptop"})
                assert "ix_products_search" in "\n".join(plan.scalars())
    again = catalog(database_url)  # a second start finds the schema at head
    async with again.router.lifespan_context(again):
        pass


async def test_full_text_search_and_paging_on_the_demo_catalog(
    database_url: str, tokens: TokenFactory
) -> None:
    async with running(catalog(database_url, demo_data=True), tokens) as client:
        laptops = await every_page(client, q="laptop", limit=7)
        assert len(laptops) >= 25
        assert all(
            "laptop" in " ".join([p["title"], p["description"], *p["tags"]]).lower()
            for p in laptops
        )
        # Relevance (catalog.ranking): the word in the name or brand first, then the
        # rest (bags and chargers "for laptops"), each tier the newest first.
        named = ["laptop" in f"{p['title']} {p['brand']}".lower() for p in laptops]
        assert named[0] and not named[-1] and named == sorted(named, reverse=True)
        for tier in (True, False):
            times = [p["created_at"] for p, n in zip(laptops, named, strict=True) if n is tier]
            assert times == sorted(times, reverse=True)
        whole = (await client.get(f"{API}/products", params={"q": "laptop", "limit": 100})).json()
        assert [p["id"] for p in laptops] == [p["id"] for p in whole["items"]]
        stemmed = await client.get(f"{API}/products", params={"q": "Laptops", "limit": 100})
        assert {p["id"] for p in stemmed.json()["items"]} == {p["id"] for p in laptops}
        gaming = (await client.get(f"{API}/products", params={"q": "laptop gaming"})).json()
        assert gaming["items"] and all("gaming" in p["tags"] for p in gaming["items"])
        websearch = await every_page(client, q="laptop -gaming", limit=50)
        assert websearch and all("gaming" not in p["tags"] for p in websearch)
        chargers = await every_page(client, q="usb-c charger", limit=50)
        assert chargers and all(p["category"] == "mobile-accessories" for p in chargers)
        by_price = await every_page(client, sort="price_asc", limit=100)
        assert len(by_price) == len({p["id"] for p in by_price}) == 300
        keys = [(p["price"]["amount"], p["id"]) for p in by_price]
        assert keys == sorted(keys)
        in_category = await every_page(client, category="footwear", sort="title", limit=6)
        assert len(in_category) == 25
        assert [p["title"] for p in in_category] == sorted(p["title"] for p in in_category)


async def test_batch_lookup_by_ids_paging_by_newest_and_categories(
    database_url: str, tokens: TokenFactory
) -> None:
    """The ids are one array parameter on PostgreSQL; the newest order's keys are instants."""
    async with running(catalog(database_url, demo_data=True), tokens) as client:
        newest = await every_page(client, limit=40)
        assert len(newest) == len({p["id"] for p in newest}) == 300
        keys = [(p["created_at"], p["id"]) for p in newest]
        assert keys == sorted(keys, reverse=True)
        wanted = [newest[5]["id"], "no-such-id", newest[0]["id"], newest[5]["id"]]
        found = await client.get(f"{API}/products", params={"ids": ",".join(wanted)})
        assert found.status_code == 200
        assert {p["id"] for p in found.json()["items"]} == {newest[0]["id"], newest[5]["id"]}
        category = newest[0]["category"]
        other = next(p for p in newest if p["category"] != category)
        both = ",".join([newest[0]["id"], other["id"]])
        filtered = await client.get(f"{API}/products", params={"ids": both, "category": category})
        assert [p["id"] for p in filtered.json()["items"]] == [newest[0]["id"]]
        empty = await client.get(f"{API}/products", params={"ids": ""})
        assert empty.status_code == 200
        assert empty.json() == {"items": [], "next_cursor": None}
        every_id = ",".join(p["id"] for p in newest[:100])
        page = (await client.get(f"{API}/products", params={"ids": every_id})).json()
        assert len(page["items"]) == 100
        assert page["next_cursor"] is None
        categories = (await client.get(f"{API}/categories")).json()["items"]
        assert sum(c["product_count"] for c in categories) == 300
        assert {c["slug"] for c in categories} >= {p["category"] for p in newest}


async def test_writes_events_and_search_follows_changes(
    database_url: str, tokens: TokenFactory
) -> None:
    admin = tokens.headers(roles=["admin"])
    app = catalog(database_url)
    async with running(app, tokens) as client:
        body = {
            "sku": "K-1",
            "title": "Copper Kettle",
            "price": {"amount": 4999, "currency": "EUR"},
        }
        created = await client.post(f"{API}/products", json=body, headers=admin)
        assert created.status_code == 201
        url = f"{API}/products/{created.json()['id']}"
        duplicate = await client.post(f"{API}/products", json=body, headers=admin)
        assert duplicate.status_code == 409
        await client.patch(url, json={"title": "Brass Kettle"}, headers=admin)
        found = (await client.get(f"{API}/products", params={"q": "brass"})).json()["items"]
        assert [p["sku"] for p in found] == ["K-1"]
        assert (await client.get(f"{API}/products", params={"q": "copper"})).json()["items"] == []
        assert (await client.delete(url, headers=admin)).status_code == 204
        types = [e["type"] for e in await outbox(app)]
        assert types == ["product.created", "product.updated", "product.deleted"]


async def test_concurrent_imports_of_the_same_skus(database_url: str, tokens: TokenFactory) -> None:
    admin = tokens.headers(roles=["admin"])
    items = [{"title": f"Item {n}", "price": n + 0.99, "sku": f"SKU-{n}"} for n in range(30)]
    one, two = catalog(database_url), catalog(database_url)
    async with running(one, tokens) as first, running(two, tokens) as second:
        responses = await asyncio.gather(
            *(
                client.post(f"{API}/products/import", json={"products": items}, headers=admin)
                for client in (first, second, first, second)
            )
        )
        assert [r.status_code for r in responses] == [200] * 4
        assert sum(r.json()["created"] for r in responses) == 30
        assert sum(r.json()["unchanged"] for r in responses) == 90
        assert len(await outbox(one)) == 30


async def test_input_postgres_cannot_store_is_refused_and_nothing_is_written(
    database_url: str, tokens: TokenFactory
) -> None:
    # Each of these reached PostgreSQL once, and failed there as a 500.
    admin = {**tokens.headers(roles=["admin"]), "content-type": "application/json"}
    kettle = b'{"sku": "K-2", "title": "Kettle", "price": {"amount": 1, "currency": "EUR"}'
    async with running(catalog(database_url), tokens) as client:
        for rest, status in (
            (b', "title": "Ket\\u0000tle"}', 400),
            # a number no column can hold: the field's 422, as for any out-of-range value
            (b', "attributes": {"litres": 123456789012345678901234567890}}', 422),
            (b', "attributes": {"litres": NaN}}', 400),
        ):
            response = await client.post(f"{API}/products", content=kettle + rest, headers=admin)
            assert response.status_code == status, rest
        imported = await client.post(
            f"{API}/products/import",
            json={"products": [{"title": "Kettle", "price": 1.5, "stock": 2**40}]},
            headers=admin,
        )
        assert imported.status_code == 422
        for params in ({"q": "a\x00b"}, {"brand": "a\x00"}, {"min_price": 2**63}):
            response = await client.get(f"{API}/products", params=params)
            assert response.status_code in (400, 422), params
        assert (await client.get(f"{API}/products/a%00b")).status_code == 400
        assert (await client.get(f"{API}/products")).json()["items"] == []
