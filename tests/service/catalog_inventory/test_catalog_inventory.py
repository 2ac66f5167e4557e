"""Service tests of the catalog's reservations: reserve, commit, release, expiry, races.

The contract is docs/commerce-contracts.md ("catalog: inventory"). The app runs
in-process on SQLite in `tmp_path` without a broker; events stay in the outbox.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from mercato.catalog.app import create_app
from mercato.catalog.settings import load_settings
from mercato.contracts.events import validate
from tests.support.apps import running
from tests.support.catalog_inventory import (
    API,
    RESERVATIONS,
    Headers,
    backdate,
    levels,
    make_product,
    order,
    outbox,
)
from tests.support.tokens import TokenFactory


async def test_reserve_then_commit(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10, amount=1250)
    before = datetime.now(UTC)
    response = await client.post(RESERVATIONS, json=order(mug, 3, order_id="o-1"), headers=svc)
    assert response.status_code == 201, response.text
    held = response.json()
    assert held["order_id"] == "o-1" and held["status"] == "reserved"
    assert held["items"] == [
        {"product_id": mug, "quantity": 3, "unit_price": {"amount": 1250, "currency": "USD"}}
    ]
    assert held["total"] == {"amount": 3750, "currency": "USD"}
    expires = datetime.fromisoformat(held["expires_at"])
    assert before + timedelta(seconds=899) < expires < datetime.now(UTC) + timedelta(seconds=901)
    assert await levels(client, admin, mug) == (7, 10, 3)
    public = (await client.get(f"{API}/products/{mug}")).json()
    assert public["stock"] == 7 and "on_hand" not in public and "reserved" not in public

    committed = await client.post(f"{RESERVATIONS}/o-1/commit", headers=svc)
    assert committed.status_code == 200
    assert (committed.json()["order_id"], committed.json()["status"]) == ("o-1", "committed")
    assert await levels(client, admin, mug) == (7, 7, 0)
    again = await client.post(f"{RESERVATIONS}/o-1/commit", headers=svc)
    assert again.status_code == 200 and again.json()["status"] == "committed"
    assert await levels(client, admin, mug) == (7, 7, 0)
    read = await client.get(f"{RESERVATIONS}/o-1", headers=admin)
    assert read.status_code == 200 and read.json()["status"] == "committed"
    types = [e["type"] for e in await outbox(app)][1:]
    assert types == [
        "inventory.reserved",
        "product.stock_changed",
        "inventory.committed",
        "product.stock_changed",
    ]


async def test_release_gives_the_units_back_once(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    await client.post(RESERVATIONS, json=order(mug, 4, order_id="o-2"), headers=svc)
    released = await client.post(f"{RESERVATIONS}/o-2/release", headers=svc)
    assert released.status_code == 200
    assert (released.json()["status"], released.json()["reason"]) == ("released", "requested")
    assert await levels(client, admin, mug) == (10, 10, 0)
    count = len(await outbox(app))
    again = await client.post(f"{RESERVATIONS}/o-2/release", json={"reason": "x"}, headers=svc)
    assert again.status_code == 200 and again.json()["reason"] == "requested"
    assert len(await outbox(app)) == count  # idempotent: nothing changed, no event
    assert await levels(client, admin, mug) == (10, 10, 0)
    late = await client.post(f"{RESERVATIONS}/o-2/commit", headers=svc)
    assert late.status_code == 409
    assert (await client.post(f"{RESERVATIONS}/nope/release", headers=svc)).status_code == 404
    assert (await client.post(f"{RESERVATIONS}/nope/commit", headers=svc)).status_code == 404
    assert (await client.get(f"{RESERVATIONS}/nope", headers=svc)).status_code == 404


async def test_release_after_commit_puts_stock_back_on_hand(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    await client.post(RESERVATIONS, json=order(mug, 2, order_id="o-3"), headers=svc)
    await client.post(f"{RESERVATIONS}/o-3/commit", headers=svc)
    assert await levels(client, admin, mug) == (8, 8, 0)
    body = {"reason": "cancelled"}
    released = await client.post(f"{RESERVATIONS}/o-3/release", json=body, headers=svc)
    assert released.status_code == 200
    assert (released.json()["status"], released.json()["reason"]) == ("released", "cancelled")
    assert await levels(client, admin, mug) == (10, 10, 0)
    events = await outbox(app)
    assert events[-2]["type"] == "inventory.released"
    assert events[-2]["data"] == {"order_id": "o-3", "reason": "cancelled"}
    assert events[-1]["data"] == {
        "product_id": mug,
        "sku": "MUG",
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
    }


async def test_the_same_order_twice_is_one_reservation(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    body = order(mug, 3, order_id="o-4")
    first = await client.post(RESERVATIONS, json=body, headers=svc)
    second = await client.post(RESERVATIONS, json=body, headers=svc)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert await levels(client, admin, mug) == (7, 10, 3)
    assert [e["type"] for e in await outbox(app)].count("inventory.reserved") == 1


async def test_out_of_stock_reserves_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    pen = await make_product(client, admin, sku="PEN", stock=2)
    items = [{"product_id": mug, "quantity": 5}, {"product_id": pen, "quantity": 3}]
    body = {"order_id": "o-5", "items": items}
    response = await client.post(RESERVATIONS, json=body, headers=svc)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/out-of-stock")
    assert problem["errors"] == [
        {
            "field": "items.1.quantity",
            "in": "body",
            "message": "only 2 available",
            "product_id": pen,
            "available": 2,
        }
    ]
    assert await levels(client, admin, mug) == (10, 10, 0)
    assert await levels(client, admin, pen) == (2, 2, 0)
    assert (await client.get(f"{RESERVATIONS}/o-5", headers=svc)).status_code == 404
    assert [e["type"] for e in await outbox(app)] == ["product.created"] * 2


async def test_bad_lines_are_422_naming_the_item(
    client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    items = [{"product_id": mug, "quantity": 1}, {"product_id": "no-such", "quantity": 1}]
    unknown = await client.post(RESERVATIONS, json={"order_id": "o", "items": items}, headers=svc)
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["items.1.product_id"]
    zero = await client.post(RESERVATIONS, json=order(mug, 0, order_id="o"), headers=svc)
    assert zero.status_code == 422
    assert [e["field"] for e in zero.json()["errors"]] == ["items.0.quantity"]
    for bad in (
        {"order_id": "o", "items": []},
        order(mug, 1, order_id="o", ttl_seconds=0),
        order(mug, 1, order_id="o", ttl_seconds=86401),
        order(mug, 1, order_id=""),
    ):
        assert (await client.post(RESERVATIONS, json=bad, headers=svc)).status_code == 422
    assert await levels(client, admin, mug) == (10, 10, 0)


async def test_duplicate_products_in_one_request_are_merged(
    client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10, amount=100)
    items = [{"product_id": mug, "quantity": 2}, {"product_id": mug, "quantity": 3}]
    body = {"order_id": "o-6", "items": items, "ttl_seconds": 60}
    response = await client.post(RESERVATIONS, json=body, headers=svc)
    assert response.status_code == 201
    assert [(i["product_id"], i["quantity"]) for i in response.json()["items"]] == [(mug, 5)]
    assert response.json()["total"]["amount"] == 500
    assert await levels(client, admin, mug) == (5, 10, 5)
    short = [{"product_id": mug, "quantity": 3}, {"product_id": mug, "quantity": 3}]
    refused = await client.post(RESERVATIONS, json={"order_id": "o-7", "items": short}, headers=svc)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "items.0.quantity"


async def test_lines_adding_up_past_any_stock_or_amount_are_refused_whole(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    maximum = 2**31 - 1  # each quantity is allowed; together they are more than any stock
    mug = await make_product(client, admin, sku="MUG", stock=maximum, amount=1)
    items = [{"product_id": mug, "quantity": maximum}, {"product_id": mug, "quantity": 1}]
    short = await client.post(RESERVATIONS, json={"order_id": "o-8", "items": items}, headers=svc)
    assert short.status_code == 409, short.text
    assert short.json()["errors"][0]["field"] == "items.0.quantity"
    assert short.json()["errors"][0]["available"] == maximum

    gold = await make_product(client, admin, sku="GOLD", stock=10, amount=10**12)
    costly = await client.post(RESERVATIONS, json=order(gold, 2, order_id="o-9"), headers=svc)
    assert costly.status_code == 422, costly.text
    assert [e["field"] for e in costly.json()["errors"]] == ["items"]

    assert await levels(client, admin, mug) == (maximum, maximum, 0)
    assert await levels(client, admin, gold) == (10, 10, 0)
    for order_id in ("o-8", "o-9"):
        assert (await client.get(f"{RESERVATIONS}/{order_id}", headers=svc)).status_code == 404
    assert [e["type"] for e in await outbox(app)] == ["product.created"] * 2


async def test_only_services_and_admins_hold_stock(
    client: httpx.AsyncClient, admin: Headers, svc: Headers, tokens: TokenFactory
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    customer = tokens.headers(roles=["customer"])
    calls = [
        ("POST", RESERVATIONS, order(mug, 1, order_id="o-8")),
        ("GET", f"{RESERVATIONS}/o-8", None),
        ("POST", f"{RESERVATIONS}/o-8/commit", None),
        ("POST", f"{RESERVATIONS}/o-8/release", None),
    ]
    for method, url, body in calls:
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, url
        forbidden = await client.request(method, url, json=body, headers=customer)
        assert forbidden.status_code == 403, url
    by_admin = await client.post(RESERVATIONS, json=order(mug, 1, order_id="o-8"), headers=admin)
    assert by_admin.status_code == 201
    assert (await client.get(f"{RESERVATIONS}/o-8", headers=svc)).status_code == 200


async def test_every_event_matches_its_contract(
    app: FastAPI, client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    pen = await make_product(client, admin, sku="PEN", stock=10)
    items = [{"product_id": pen, "quantity": 1}, {"product_id": mug, "quantity": 2}]
    await client.post(RESERVATIONS, json={"order_id": "o-9", "items": items}, headers=svc)
    await client.post(f"{RESERVATIONS}/o-9/commit", headers=svc)
    await client.post(f"{RESERVATIONS}/o-9/release", headers=svc)
    events = await outbox(app)
    for event in events:
        assert validate(event["type"], event["version"], event["data"]) is not None
        assert event["source"] == "catalog"
    inventory = [e for e in events if e["type"].startswith("inventory.")]
    assert [(e["type"], e["subject"]) for e in inventory] == [
        ("inventory.reserved", "o-9"),
        ("inventory.committed", "o-9"),
        ("inventory.released", "o-9"),
    ]
    reserved = inventory[0]["data"]
    assert [(i["product_id"], i["quantity"]) for i in reserved["items"]] == [(pen, 1), (mug, 2)]
    assert reserved["items"][0]["unit_price"] == {"amount": 2500, "currency": "USD"}
    stock = [e for e in events if e["type"] == "product.stock_changed"]
    assert len(stock) == 6  # two products, three changes each
    assert all(
        e["data"]["on_hand"] == e["data"]["available"] + e["data"]["reserved"] for e in stock
    )


async def test_the_sweeper_releases_expired_reservations(
    tmp_path: Path, tokens: TokenFactory, admin: Headers, svc: Headers
) -> None:
    app = create_app(
        load_settings(data_dir=tmp_path, broker_url="", reservation_sweep_seconds=0.02)
    )
    async with running(app, tokens) as client:
        sweeper = app.state.runtime.tasks.running
        assert [task.get_name() for task in sweeper] == ["reservation-sweeper"]
        mug = await make_product(client, admin, sku="MUG", stock=10)
        await client.post(RESERVATIONS, json=order(mug, 4, order_id="o-10"), headers=svc)
        await client.post(RESERVATIONS, json=order(mug, 1, order_id="o-11"), headers=svc)
        await backdate(app, "o-10")
        deadline = time.monotonic() + 5
        while (await client.get(f"{RESERVATIONS}/o-10", headers=svc)).json()[
            "status"
        ] != "released":
            assert time.monotonic() < deadline, "the sweeper did not release o-10"
            await asyncio.sleep(0.02)
        expired = (await client.get(f"{RESERVATIONS}/o-10", headers=svc)).json()
        assert expired["reason"] == "expired"
        assert (await client.get(f"{RESERVATIONS}/o-11", headers=svc)).json()[
            "status"
        ] == "reserved"
        assert await levels(client, admin, mug) == (9, 10, 1)
        released = [e for e in await outbox(app) if e["type"] == "inventory.released"]
        assert [e["data"] for e in released] == [{"order_id": "o-10", "reason": "expired"}]
    assert all(task.done() for task in sweeper)  # stopped at shutdown


async def test_a_commit_after_expiry_is_409_and_releases(
    client: httpx.AsyncClient, app: FastAPI, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    await client.post(RESERVATIONS, json=order(mug, 3, order_id="o-12"), headers=svc)
    await backdate(app, "o-12")
    late = await client.post(f"{RESERVATIONS}/o-12/commit", headers=svc)
    assert late.status_code == 409
    assert "expired" in late.json()["detail"]
    read = (await client.get(f"{RESERVATIONS}/o-12", headers=svc)).json()
    assert (read["status"], read["reason"]) == ("released", "expired")
    assert await levels(client, admin, mug) == (10, 10, 0)
    again = await client.post(RESERVATIONS, json=order(mug, 3, order_id="o-12"), headers=svc)
    assert again.status_code == 200 and again.json()["status"] == "released"


async def test_concurrent_reservations_never_oversell(
    client: httpx.AsyncClient, admin: Headers, svc: Headers
) -> None:
    mug = await make_product(client, admin, sku="MUG", stock=10)
    responses = await asyncio.gather(
        *(
            client.post(RESERVATIONS, json=order(mug, 1, order_id=f"race-{n}"), headers=svc)
            for n in range(50)
        )
    )
    codes = [r.status_code for r in responses]
    assert (codes.count(201), codes.count(409)) == (10, 40)
    assert await levels(client, admin, mug) == (0, 10, 10)
