"""Service tests of bulk import (HTTP and file), the demo catalog, and shared databases.

Imports are all or nothing and write one event per created or changed product in the
same transaction; several catalog replicas may write to one SQLite file at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.catalog import service
from mercato.catalog.app import create_app
from mercato.catalog.loading import import_file
from mercato.catalog.models import EVENTS, Category, Product, ProductFields
from mercato.catalog.settings import load_settings
from mercato.chassis.web.errors import ProblemError
from tests.support.apps import running
from tests.support.tokens import TokenFactory

API = "/api/catalog"
IMPORT = f"{API}/products/import"
MASCARA: dict[str, Any] = {
    "id": 1,
    "title": "Essence Mascara Lash Princess",
    "description": "Volumizing mascara.",
    "category": "beauty",
    "price": 9.99,
    "discountPercentage": 7.17,
    "rating": 4.94,
    "stock": 5,
    "tags": ["beauty", "mascara"],
    "brand": "Essence",
    "sku": "RCH45Q1A",
    "weight": 2,
    "dimensions": {"width": 23.17, "height": 14.43, "depth": 28.01},
    "warrantyInformation": "1 month warranty",
    "images": ["https://cdn.example.com/products/1/1.png"],
    "thumbnail": "https://cdn.example.com/products/1/thumbnail.png",
}
PALETTE: dict[str, Any] = {
    "id": 2,
    "title": "Eyeshadow Palette with Mirror",
    "category": "beauty",
    "price": 19.99,
    "stock": 44,
    "sku": "MVCFH27F",
}
KETTLE: dict[str, Any] = {"id": 3, "title": "Electric Kettle", "category": "Kitchen Appliances",
                          "price": 29.5, "stock": 0}  # fmt: skip


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    """The events in the app's outbox, oldest first, as envelopes."""
    table = EVENTS.outbox
    async with app.state.runtime.database.session() as session:
        rows = await session.execute(select(table.c.payload).order_by(table.c.created_at))
        return [orjson.loads(payload) for payload in rows.scalars()]


async def count(app: FastAPI, model: type[Product] | type[Category]) -> int:
    async with app.state.runtime.database.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(roles=["admin"])


async def test_import_creates_products_and_categories(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        IMPORT, json={"products": [MASCARA, PALETTE, KETTLE], "total": 3}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0, "errors": []}
    items = (await client.get(f"{API}/products", params={"sort": "title"})).json()["items"]
    kettle, mascara, palette = items
    assert mascara["price"] == {"amount": 999, "currency": "USD"}
    assert palette["price"]["amount"] == 1999 and kettle["price"]["amount"] == 2950
    assert mascara["attributes"] == {
        "discountPercentage": 7.17,
        "weight": 2,
        "dimensions": {"width": 23.17, "height": 14.43, "depth": 28.01},
        "warrantyInformation": "1 month warranty",
        "source_id": 1,
    }
    assert (mascara["tags"], mascara["rating"], mascara["stock"]) == (
        ["beauty", "mascara"],
        4.94,
        5,
    )
    assert kettle["sku"] == "ELECTRIC-KETTLE-3"
    categories = (await client.get(f"{API}/categories")).json()["items"]
    assert categories == [
        {"slug": "beauty", "name": "Beauty", "product_count": 2},
        {"slug": "kitchen-appliances", "name": "Kitchen Appliances", "product_count": 1},
    ]
    events = await outbox(app)
    assert [e["type"] for e in events] == ["product.created"] * 3
    assert {e["subject"] for e in events} == {i["id"] for i in items}


async def test_import_upserts_by_sku(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await client.post(IMPORT, json={"products": [MASCARA, PALETTE, KETTLE]}, headers=admin)
    cheaper = {**MASCARA, "price": 8.49}
    new = {"title": "Lip Gloss", "category": "beauty", "price": 4, "sku": "GLOSS-1"}
    response = await client.post(
        IMPORT, json={"products": [cheaper, PALETTE, KETTLE, new]}, headers=admin
    )
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 2, "errors": []}
    assert await count(app, Product) == 4
    found = (await client.get(f"{API}/products", params={"q": "mascara"})).json()["items"]
    assert [p["price"]["amount"] for p in found] == [849]
    events = await outbox(app)
    assert [e["type"] for e in events[3:]] == [
        "product.updated",
        "product.price_changed",
        "product.created",
    ]
    assert events[3]["data"]["price"] == {"amount": 849, "currency": "USD"}


async def test_an_invalid_item_is_422_naming_it_and_nothing_is_written(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    bad = {**PALETTE, "price": "cheap", "stock": -1}
    response = await client.post(
        IMPORT, json={"products": [MASCARA, bad, {**KETTLE, "sku": "RCH45Q1A"}]}, headers=admin
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "item 1 (price)" in body["detail"]
    found = {(e["index"], e["field"]) for e in body["errors"]}
    assert found == {(1, "price"), (1, "stock"), (2, "sku")}
    assert await count(app, Product) == 0
    assert await count(app, Category) == 0
    assert await outbox(app) == []


@pytest.mark.parametrize("body", [{}, {"products": {"a": 1}}, [MASCARA]])
async def test_a_body_not_in_the_format_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], body: Any
) -> None:
    response = await client.post(IMPORT, json=body, headers=admin)
    assert response.status_code == 422


async def test_an_event_exists_only_if_its_change_was_committed(app: FastAPI) -> None:
    runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        good = ProductFields(
            sku="OK-1", title="Fine", brand=None, description="", price_amount=100,
            currency="USD", category=None, tags=[], attributes={}, images=[],
            thumbnail=None, on_hand=1, rating=None,
        )  # fmt: skip
        bad = ProductFields(**{**good, "sku": "BAD-1", "on_hand": -1})  # the database refuses
        async with runtime.database.session() as session:
            with pytest.raises(ProblemError):
                await service.import_products(session, outbox=runtime.outbox, products=[good, bad])
        assert await count(app, Product) == 0
        assert await outbox(app) == []


async def test_the_demo_catalog_loads_on_the_first_start_only(
    tmp_path: Path, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="", demo_data=True)
    first = create_app(settings)
    async with running(first, tokens) as client:
        assert await count(first, Product) == 300
        categories = (await client.get(f"{API}/categories")).json()["items"]
        assert len(categories) == 12
        assert sum(c["product_count"] for c in categories) == 300
        laptops = (await client.get(f"{API}/products", params={"q": "laptop"})).json()
        assert laptops["items"] and laptops["next_cursor"]
        product = laptops["items"][0]
        assert (await client.delete(f"{API}/products/{product['id']}", headers=admin)).is_success
    second = create_app(settings)
    async with running(second, tokens):
        assert await count(second, Product) == 299
        events = await outbox(second)
        assert len(events) == 301
        assert [e["type"] for e in events].count("product.created") == 300


async def test_without_the_setting_the_catalog_starts_empty(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert (await client.get(f"{API}/products")).json() == {"items": [], "next_cursor": None}


async def test_import_file_migrates_imports_and_writes_events(tmp_path: Path) -> None:
    path = tmp_path / "products.json"
    path.write_bytes(orjson.dumps({"products": [MASCARA, PALETTE]}))
    settings = load_settings(data_dir=tmp_path / "data", broker_url="", currency="EUR")
    result = await import_file(settings, path)
    assert (result.created, result.updated, result.errors) == (2, 0, [])
    again = await import_file(settings, str(path))
    assert (again.created, again.unchanged) == (0, 2)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert len(await outbox(app)) == 2
        async with app.state.runtime.database.session() as session:
            prices = (await session.execute(select(Product.currency, Product.price_amount))).all()
        assert sorted(prices) == [("EUR", 999), ("EUR", 1999)]


async def test_import_file_reports_bad_files_and_writes_nothing(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="")
    broken, wrong, invalid = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    broken.write_text("{")
    unstorable = tmp_path / "d.json"
    unstorable.write_text('{"products": [{"title": "Null\\u0000", "price": 1}]}')
    [refused] = (await import_file(settings, unstorable)).errors
    assert refused.field == "body" and "NUL character" in refused.message
    wrong.write_text('{"items": []}')
    invalid.write_bytes(orjson.dumps({"products": [MASCARA, {"title": "No price"}]}))
    assert (await import_file(settings, broken)).errors[0].field == "body"
    assert (await import_file(settings, wrong)).errors[0].field == "products"
    result = await import_file(settings, invalid)
    assert [(e.index, e.field) for e in result.errors] == [(1, "price")]
    assert result.created == 0
    with pytest.raises(FileNotFoundError):
        await import_file(settings, tmp_path / "missing.json")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert await count(app, Product) == 0


async def test_replicas_sharing_one_sqlite_file_write_concurrently(
    tmp_path: Path, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="")
    one, two = create_app(settings), create_app(settings)
    async with running(one, tokens) as first, running(two, tokens) as second:
        items = [{"title": f"Item {n}", "price": n, "sku": f"SKU-{n}"} for n in range(40)]

        async def post(client: httpx.AsyncClient, n: int) -> httpx.Response:
            if n % 4 == 0:
                batch = items[n : n + 10]  # overlapping batches: upserts of the same SKUs
                return await client.post(IMPORT, json={"products": batch}, headers=admin)
            body = {"sku": f"ONE-{n}", "title": "One", "price": {"amount": n, "currency": "USD"}}
            return await client.post(f"{API}/products", json=body, headers=admin)

        responses = await asyncio.gather(*(post(first if n % 2 else second, n) for n in range(40)))
        assert all(r.is_success for r in responses), [r.text for r in responses if r.is_error]
        created = sum(r.json().get("created", 1) for r in responses)
        assert await count(one, Product) == created == 30 + 40
        assert len(await outbox(two)) >= created
