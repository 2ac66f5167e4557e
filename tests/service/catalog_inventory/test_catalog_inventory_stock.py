"""Service tests of the catalog's stock numbers: restock, edits, batch lookup, migration.

Products keep `on_hand` and `reserved`; everyone sees `stock` (available), admins
also the split. The app runs in-process on SQLite in `tmp_path` without a broker.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from mercato.catalog.app import create_app
from mercato.catalog.models import MIGRATIONS
from mercato.catalog.settings import load_settings
from mercato.chassis.data.database import Database
from mercato.contracts.events import validate
from tests.support.apps import running
from tests.support.catalog_inventory import (
    API,
    RESERVATIONS,
    Headers,
    levels,
    make_product,
    order,
    outbox,
)
from tests.support.migrations import to_first_revision
from tests.support.tokens import TokenFactory


async def test_restock_and_correct(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers, tokens: TokenFactory
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    await client.post(RESERVATIONS, json=order(mug, 4, order_id="o-1"), headers=svc)
    url = f"{API}/products/{mug}/stock"
    restocked = await client.post(url, json={"delta": 5}, headers=admin)
    assert restocked.status_code == 200
    body = restocked.json()
    assert (body["stock"], body["on_hand"], body["reserved"]) == (11, 15, 4)
    corrected = await client.post(url, json={"delta": -11}, headers=admin)
    assert corrected.status_code == 200 and corrected.json()["stock"] == 0
    below = await client.post(url, json={"delta": -1}, headers=admin)
    assert below.status_code == 422
    assert [e["field"] for e in below.json()["errors"]] == ["delta"]
    assert await levels(client, admin, mug) == (0, 4, 4)
    customer = tokens.headers(roles=["customer"])
    assert (await client.post(url, json={"delta": 1}, headers=customer)).status_code == 403
    assert (await client.post(url, json={"delta": 1}, headers=svc)).status_code == 403
    assert (await client.post(url, json={"delta": 1})).status_code == 401
    assert (await client.post(url, json={"delta": 1.5}, headers=admin)).status_code == 422
    missing = await client.post(f"{API}/products/nope/stock", json={"delta": 1}, headers=admin)
    assert missing.status_code == 404
    changes = [e["data"] for e in await outbox(app) if e["type"] == "product.stock_changed"]
    assert [(c["on_hand"], c["reserved"], c["available"]) for c in changes] == [
        (10, 4, 6),
        (15, 4, 11),
        (4, 4, 0),
    ]


async def test_edits_set_on_hand_but_never_below_reserved(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    await client.post(RESERVATIONS, json=order(mug, 6, order_id="o-2"), headers=svc)
    url = f"{API}/products/{mug}"
    patched = await client.patch(url, json={"stock": 8}, headers=admin)
    assert patched.status_code == 200
    assert (patched.json()["stock"], patched.json()["on_hand"]) == (2, 8)
    below = await client.patch(url, json={"stock": 5}, headers=admin)
    assert below.status_code == 422
    assert [e["field"] for e in below.json()["errors"]] == ["stock"]
    whole = {"sku": "MUG", "title": "Mug", "price": {"amount": 1, "currency": "USD"}}
    replaced = await client.put(url, json={**whole, "stock": 3}, headers=admin)
    assert replaced.status_code == 422
    assert await levels(client, admin, mug) == (2, 8, 6)
    deleted = await client.delete(url, headers=admin)
    assert deleted.status_code == 409  # units are reserved for an order
    await client.post(f"{RESERVATIONS}/o-2/release", headers=svc)
    assert (await client.delete(url, headers=admin)).status_code == 204


async def test_a_price_change_writes_its_event(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10, amount=1000)
    new_price = {"amount": 1200, "currency": "USD"}
    response = await client.patch(f"{API}/products/{mug}", json={"price": new_price}, headers=admin)
    assert response.status_code == 200
    events = await outbox(app)
    assert [e["type"] for e in events] == [
        "product.created",
        "product.updated",
        "product.price_changed",
    ]
    changed = events[-1]
    assert changed["subject"] == mug
    assert validate(changed["type"], changed["version"], changed["data"]) is not None
    assert changed["data"]["old_price"] == {"amount": 1000, "currency": "USD"}
    assert changed["data"]["new_price"] == new_price


async def test_an_import_may_not_go_below_reserved(
    client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    await client.post(RESERVATIONS, json=order(mug, 6, order_id="o-3"), headers=svc)
    items = [
        {"sku": "NEW-1", "title": "New", "price": 1, "stock": 1},
        {"sku": "MUG", "title": "Mug", "price": 25, "stock": 5},
    ]
    response = await client.post(f"{API}/products/import", json={"products": items}, headers=admin)
    assert response.status_code == 422
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, "stock")]
    assert await levels(client, admin, mug) == (4, 10, 6)


async def test_only_admins_see_the_stock_split(
    client: httpx.AsyncClient, admin: Headers, svc: Headers, tokens: TokenFactory
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    await client.post(RESERVATIONS, json=order(mug, 3, order_id="o-4"), headers=svc)
    for headers in ({}, tokens.headers(roles=["customer"]), {"Authorization": "Bearer junk"}):
        [item] = (await client.get(f"{API}/products", headers=headers)).json()["items"]
        assert item["stock"] == 7 and "on_hand" not in item and "reserved" not in item
    [item] = (await client.get(f"{API}/products", headers=admin)).json()["items"]
    assert (item["stock"], item["on_hand"], item["reserved"]) == (7, 10, 3)


async def test_batch_lookup_by_ids(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.post(
        f"{API}/categories", json={"slug": "mugs", "name": "Mugs"}, headers=admin
    )
    assert response.status_code == 201
    items = [
        {"sku": f"SKU-{n}", "title": f"Item {n}", "price": 1, "category": "mugs" if n % 2 else None}
        for n in range(30)
    ]
    imported = await client.post(f"{API}/products/import", json={"products": items}, headers=admin)
    assert imported.status_code == 200
    every = (await client.get(f"{API}/products", params={"limit": 100})).json()["items"]
    ids = {p["sku"]: p["id"] for p in every}
    wanted = [ids["SKU-1"], ids["SKU-2"], "no-such-id", ids["SKU-3"]]
    found = await client.get(f"{API}/products", params={"ids": ",".join(wanted)})
    assert found.status_code == 200
    assert {p["sku"] for p in found.json()["items"]} == {"SKU-1", "SKU-2", "SKU-3"}
    in_mugs = {"ids": ",".join(wanted), "category": "mugs"}
    filtered = (await client.get(f"{API}/products", params=in_mugs)).json()["items"]
    assert {p["sku"] for p in filtered} == {"SKU-1", "SKU-3"}
    all_ids = ",".join(ids.values())
    page = (await client.get(f"{API}/products", params={"ids": all_ids})).json()
    assert len(page["items"]) == 30 and page["next_cursor"] is None  # one page for a cart
    paged = (await client.get(f"{API}/products", params={"ids": all_ids, "limit": 20})).json()
    assert len(paged["items"]) == 20 and paged["next_cursor"] is not None
    empty = (await client.get(f"{API}/products", params={"ids": ""})).json()
    assert empty["items"] == []
    too_many = ",".join(f"id-{n}" for n in range(101))
    refused = await client.get(f"{API}/products", params={"ids": too_many})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["ids"]


async def test_the_migration_keeps_stock_as_on_hand(tmp_path: Path, tokens: TokenFactory) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="")
    db = Database(settings.sqlalchemy_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_first_revision("catalog", MIGRATIONS))  # before inventory
        await connection.execute(
            text(
                "INSERT INTO products (id, sku, title, description, price_amount, currency, "
                "tags, attributes, images, stock, created_at, updated_at) VALUES ('p-1', 'OLD', "
                "'Old', '', 100, 'USD', '[]', '{}', '[]', 7, '2025-01-01 00:00:00', "
                "'2025-01-01 00:00:00')"
            )
        )
    await db.dispose()
    app = create_app(settings)
    admin = tokens.headers(roles=["admin"])
    async with running(app, tokens) as client:
        assert await levels(client, admin, "p-1") == (7, 7, 0)
        found = (await client.get(f"{API}/products", params={"q": "old"})).json()["items"]
        assert [p["id"] for p in found] == ["p-1"]  # the search index survived
