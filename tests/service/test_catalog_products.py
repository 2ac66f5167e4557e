"""Service tests of the catalog's product and category API: reads, admin writes, errors.

The app runs in-process on SQLite in `tmp_path` without a broker, so every event stays
in the outbox table, where the tests read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from mercato.catalog.app import create_app
from mercato.catalog.models import EVENTS
from mercato.catalog.schemas import ProductOut
from mercato.catalog.settings import load_settings
from mercato.contracts.events import validate
from tests.support.tokens import TokenFactory

API = "/api/catalog"
LAPTOP: dict[str, Any] = {
    "sku": "LAP-001",
    "title": "Northwind Aero 14 Laptop",
    "brand": "Northwind",
    "description": "A light laptop with a long battery life.",
    "price": {"amount": 129999, "currency": "USD"},
    "category": "laptops",
    "tags": ["laptop", "ultrabook"],
    "attributes": {"cpu": "Ryzen 7 7840U", "ram_gb": 32, "model": "NW-A14"},
    "images": ["https://img.mercato.dev/products/LAP-001.jpg"],
    "thumbnail": "https://img.mercato.dev/products/LAP-001-thumb.jpg",
    "stock": 12,
    "rating": 4.5,
}


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    """The events in the app's outbox, oldest first, as envelopes."""
    table = EVENTS.outbox
    async with app.state.runtime.database.session() as session:
        rows = await session.execute(select(table.c.payload).order_by(table.c.created_at))
        return [orjson.loads(payload) for payload in rows.scalars()]


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(roles=["admin"])


@pytest.fixture
def customer(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(roles=["customer"])


@pytest.fixture
async def laptops(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        f"{API}/categories", json={"slug": "laptops", "name": "Laptops"}, headers=admin
    )
    assert response.status_code == 201


async def create(client: httpx.AsyncClient, admin: dict[str, str], **fields: Any) -> Any:
    response = await client.post(f"{API}/products", json={**LAPTOP, **fields}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def problem_fields(response: httpx.Response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in response.json().get("errors", [])}


@pytest.mark.usefixtures("laptops")
async def test_an_admin_creates_a_product_and_anyone_reads_it(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    assert created["sku"] == "LAP-001"
    assert created["price"] == {"amount": 129999, "currency": "USD"}
    assert created["attributes"]["cpu"] == "Ryzen 7 7840U"
    response = await client.get(f"{API}/products/{created['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (created["on_hand"], created["reserved"]) == (12, 0)  # admins see the split
    assert body == {k: v for k, v in created.items() if k not in ("on_hand", "reserved")}
    assert ProductOut.model_validate(body).model_dump(mode="json", exclude_unset=True) == body
    [listed] = (await client.get(f"{API}/products")).json()["items"]
    assert listed == body
    [event] = await outbox(app)
    assert (event["type"], event["version"], event["subject"]) == (
        "product.created",
        1,
        created["id"],
    )
    assert event["source"] == "catalog"
    data = validate("product.created", 1, event["data"])
    assert data is not None
    assert event["data"]["price"] == {"amount": 129999, "currency": "USD"}
    assert event["data"]["stock"] == 12


@pytest.mark.usefixtures("laptops")
async def test_the_location_of_a_new_product_is_its_url(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(f"{API}/products", json=LAPTOP, headers=admin)
    assert response.headers["location"] == f"{API}/products/{response.json()['id']}"


async def test_a_missing_product_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/products/3f1e6c1a-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/products"),
        ("PATCH", "/products/x"),
        ("PUT", "/products/x"),
        ("DELETE", "/products/x"),
        ("POST", "/products/import"),
        ("POST", "/categories"),
    ],
)
async def test_writes_need_a_token_and_the_admin_role(
    client: httpx.AsyncClient, customer: dict[str, str], method: str, path: str
) -> None:
    body = {"products": []} if path.endswith("import") else LAPTOP
    anonymous = await client.request(method, f"{API}{path}", json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forbidden = await client.request(method, f"{API}{path}", json=body, headers=customer)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"


@pytest.mark.usefixtures("laptops")
async def test_a_taken_sku_is_a_conflict_and_writes_no_event(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await create(client, admin)
    response = await client.post(f"{API}/products", json=LAPTOP, headers=admin)
    assert response.status_code == 409
    assert "LAP-001" in response.json()["detail"]
    assert len(await outbox(app)) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": {"amount": -1, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": 9.99, "currency": "USD"}}, "price.amount"),
        ({"price": {"amount": "999", "currency": "USD"}}, "price.amount"),
        ({"stock": True}, "stock"),
        ({"price": {"amount": 999, "currency": "usd"}}, "price.currency"),
        ({"price": {"amount": 999, "currency": "DOLLAR"}}, "price.currency"),
        ({"stock": -1}, "stock"),
        ({"title": ""}, "title"),
        ({"sku": "has space"}, "sku"),
        ({"category": "Not A Slug"}, "category"),
        ({"images": ["javascript:alert(1)"]}, "images.0"),
        ({"rating": 7}, "rating"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_invalid_products_are_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{API}/products", json={**LAPTOP, **change}, headers=admin)
    assert response.status_code == 422
    assert field in problem_fields(response)


@pytest.mark.usefixtures("laptops")
async def test_a_whole_number_written_with_a_fraction_part_is_that_integer(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """1250.0 is the number 1250 in JSON, and an `integer` in the OpenAPI document."""
    product = await create(client, admin, price={"amount": 1250.0, "currency": "EUR"}, stock=3.0)
    assert (product["price"]["amount"], product["stock"]) == (1250, 3)
    assert b'"amount":1250,' in (await client.get(f"{API}/products/{product['id']}")).content


async def test_a_missing_field_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {k: v for k, v in LAPTOP.items() if k != "price"}
    response = await client.post(f"{API}/products", json=body, headers=admin)
    assert response.status_code == 422
    assert problem_fields(response) == {"price"}


async def test_an_unknown_category_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(f"{API}/products", json=LAPTOP, headers=admin)
    assert response.status_code == 422
    assert problem_fields(response) == {"category"}


async def test_malformed_json_is_400_and_another_media_type_415(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    headers = {**admin, "content-type": "application/json"}
    broken = await client.post(f"{API}/products", content=b'{"sku": ', headers=headers)
    assert broken.status_code == 400
    assert broken.headers["content-type"] == "application/problem+json"
    form = await client.post(f"{API}/products", data={"sku": "x"}, headers=admin)
    assert form.status_code == 415


@pytest.mark.usefixtures("laptops")
async def test_patch_changes_only_the_fields_sent(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    url = f"{API}/products/{created['id']}"
    change = {"price": {"amount": 119999, "currency": "USD"}, "stock": 0}
    response = await client.patch(url, json=change, headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["price"]["amount"] == 119999 and body["stock"] == 0
    assert body["title"] == LAPTOP["title"] and body["attributes"] == LAPTOP["attributes"]
    assert body["updated_at"] > created["updated_at"]
    assert (await client.get(url, headers=admin)).json() == body
    events = await outbox(app)
    assert [e["type"] for e in events] == [
        "product.created",
        "product.updated",
        "product.price_changed",
        "product.stock_changed",
    ]
    assert events[1]["data"]["price"]["amount"] == 119999 and events[1]["data"]["stock"] == 0


@pytest.mark.usefixtures("laptops")
async def test_a_patch_that_changes_nothing_writes_no_event(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    url = f"{API}/products/{created['id']}"
    response = await client.patch(url, json={"stock": LAPTOP["stock"]}, headers=admin)
    assert response.status_code == 200
    assert response.json()["updated_at"] == created["updated_at"]
    assert len(await outbox(app)) == 1


@pytest.mark.usefixtures("laptops")
async def test_patch_errors(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    first = await create(client, admin)
    await create(client, admin, sku="LAP-002")
    url = f"{API}/products/{first['id']}"
    taken = await client.patch(url, json={"sku": "LAP-002"}, headers=admin)
    assert taken.status_code == 409
    null = await client.patch(url, json={"title": None, "stock": -2}, headers=admin)
    assert null.status_code == 422
    assert problem_fields(null) == {"title", "stock"}
    missing = await client.patch(f"{API}/products/nope", json={"stock": 1}, headers=admin)
    assert missing.status_code == 404
    cleared = await client.patch(url, json={"brand": None, "rating": None}, headers=admin)
    assert cleared.status_code == 200
    assert (cleared.json()["brand"], cleared.json()["rating"]) == (None, None)


@pytest.mark.usefixtures("laptops")
async def test_put_replaces_a_product(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    url = f"{API}/products/{created['id']}"
    replacement = {"sku": "LAP-001B", "title": "Refurbished", "price": LAPTOP["price"]}
    response = await client.put(url, json=replacement, headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert (body["sku"], body["title"], body["tags"], body["category"]) == (
        "LAP-001B",
        "Refurbished",
        [],
        None,
    )
    assert body["id"] == created["id"] and body["created_at"] == created["created_at"]
    assert (await client.put(f"{API}/products/nope", json=LAPTOP, headers=admin)).status_code == 404
    assert [e["type"] for e in await outbox(app)] == [
        "product.created",
        "product.updated",
        "product.stock_changed",  # the replacement has no stock: none on hand
    ]


@pytest.mark.usefixtures("laptops")
async def test_delete_removes_a_product_and_writes_an_event(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    url = f"{API}/products/{created['id']}"
    response = await client.delete(url, headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=admin)).status_code == 404
    events = await outbox(app)
    assert events[-1]["type"] == "product.deleted"
    assert events[-1]["data"] == {"product_id": created["id"], "sku": "LAP-001"}
    assert validate("product.deleted", 1, events[-1]["data"]) is not None
    # The SKU is free again.
    await create(client, admin)


async def test_categories_are_listed_with_product_counts(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for slug, name in [("laptops", "Laptops"), ("audio", "Audio")]:
        response = await client.post(
            f"{API}/categories", json={"slug": slug, "name": name}, headers=admin
        )
        assert response.status_code == 201
        assert response.json() == {"slug": slug, "name": name, "product_count": 0}
    await create(client, admin)
    await create(client, admin, sku="LAP-002")
    response = await client.get(f"{API}/categories")
    assert response.status_code == 200
    assert response.json()["items"] == [
        {"slug": "audio", "name": "Audio", "product_count": 0},
        {"slug": "laptops", "name": "Laptops", "product_count": 2},
    ]
    assert response.json()["next_cursor"] is None


async def test_category_errors(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {"slug": "audio", "name": "Audio"}
    assert (await client.post(f"{API}/categories", json=body, headers=admin)).status_code == 201
    duplicate = await client.post(f"{API}/categories", json=body, headers=admin)
    assert duplicate.status_code == 409
    bad = await client.post(
        f"{API}/categories", json={"slug": "Bad Slug", "name": ""}, headers=admin
    )
    assert bad.status_code == 422
    assert problem_fields(bad) == {"slug", "name"}


async def test_the_openapi_document_describes_the_product_shapes(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get(f"{API}/openapi.json")).json()
    assert f"{API}/products" in document["paths"]
    shapes = {"ProductOut", "ProductSearchPage", "ProductFacets", "Money"}
    assert shapes <= set(document["components"]["schemas"])


async def test_the_openapi_patch_shape_offers_null_only_where_it_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    """Clients generated from the document must not send a null that `PATCH` refuses."""
    document = (await client.get(f"{API}/openapi.json")).json()
    fields = document["components"]["schemas"]["ProductPatch"]["properties"]

    def nullable(shape: dict[str, Any]) -> bool:
        return any(option.get("type") == "null" for option in shape.get("anyOf", []))

    offered = {name for name, shape in fields.items() if nullable(shape)}
    assert offered == {"brand", "category", "thumbnail", "rating"}


@pytest.mark.usefixtures("laptops")
async def test_attributes_at_the_limits_come_back_exactly(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # Stored JSON is read with orjson: exact for every value a body may carry.
    deep: Any = "bottom"
    for _ in range(30):
        deep = [deep]
    attributes = {
        "u64": 2**64 - 1,
        "i64": -(2**63),
        "tenth": 0.1,
        "huge": 1e308,
        "text": "caf\u00e9 \U0001f600 \\u0000",
        "deep": deep,
    }
    created = await create(client, admin, attributes=attributes)
    assert created["attributes"] == attributes
    read = (await client.get(f"{API}/products/{created['id']}")).json()
    assert read["attributes"] == attributes
    listed = (await client.get(f"{API}/products", params={"q": "northwind"})).json()["items"]
    assert [item["attributes"] for item in listed] == [attributes]
