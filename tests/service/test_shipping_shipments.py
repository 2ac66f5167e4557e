"""Service tests of shipments: made from `order.confirmed`, moved by admins, split,
cancelled with their order, and read by their customer only; on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mercato.chassis.events import PoisonEvent
from mercato.shipping.carrier import run_carrier
from tests.support.apps import running
from tests.support.auth import problem
from tests.support.shipping import API, confirmed, deliver, order_event, outbox, shipping_app
from tests.support.tokens import TokenFactory

SHIPMENTS = f"{API}/shipments"
SHIP = {"carrier": "DHL", "tracking_number": "JD0001", "tracking_url": "https://dhl.example/JD0001"}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The shipping service, without its simulated carrier."""
    return shipping_app(tmp_path)


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers("root", ["admin"])


async def shipments_of(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str
) -> list[dict[str, Any]]:
    response = await client.get(SHIPMENTS, params={"order_id": order_id}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_confirmed_order_makes_one_shipment_once(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = confirmed("ann", {"p1": 2, "p2": 1})
    order_id = event.data["order_id"]
    await deliver(app, event)
    await deliver(app, confirmed("ann", {"p1": 2, "p2": 1}, order_id=order_id))  # again
    [shipment] = await shipments_of(client, tokens.headers("ann"), order_id)
    assert shipment["status"] == "pending" and shipment["method"] == "express"
    assert shipment["items"] == [
        {"product_id": "p1", "quantity": 2},
        {"product_id": "p2", "quantity": 1},
    ]
    assert shipment["address"]["country"] == "US"
    [created] = await outbox(app, "shipment.created")
    assert created["shipment_id"] == shipment["id"] and created["order_id"] == order_id
    assert created["user_id"] == "ann" and created["method"] == "express"
    assert [line["quantity"] for line in created["items"]] == [2, 1]


async def test_order_without_items_makes_no_shipment(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = confirmed("ann", None)
    await deliver(app, event)
    assert await shipments_of(client, admin(tokens), event.data["order_id"]) == []
    assert await outbox(app, "shipment.created") == []


async def test_broken_event_is_poison(app: FastAPI, client: httpx.AsyncClient) -> None:
    event = confirmed("ann", {"p1": 1})
    broken = event.model_copy(update={"data": {**event.data, "items": "lots"}})
    with pytest.raises(PoisonEvent):
        await deliver(app, broken)
    with pytest.raises(PoisonEvent):
        await deliver(app, event.model_copy(update={"version": 2}))


async def test_admin_moves_it_to_delivered_with_events(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = confirmed("ann", {"p1": 1})
    await deliver(app, event)
    [shipment] = await shipments_of(client, admin(tokens), event.data["order_id"])
    url = f"{SHIPMENTS}/{shipment['id']}"
    problem(await client.post(f"{url}/ship", json=SHIP, headers=admin(tokens)), 409)
    problem(await client.post(f"{url}/deliver", headers=admin(tokens)), 409)
    packed = await client.post(f"{url}/pack", headers=admin(tokens))
    assert packed.status_code == 200 and packed.json()["status"] == "packed"
    problem(await client.post(f"{url}/pack", headers=admin(tokens)), 409)
    problem(await client.post(f"{url}/ship", json={"carrier": "DHL"}, headers=admin(tokens)), 422)
    bad_url = {**SHIP, "tracking_url": "javascript:alert(1)"}
    problem(await client.post(f"{url}/ship", json=bad_url, headers=admin(tokens)), 422)
    shipped = await client.post(f"{url}/ship", json=SHIP, headers=admin(tokens))
    assert shipped.json()["tracking_number"] == "JD0001" and shipped.json()["shipped_at"]
    delivered = await client.post(f"{url}/deliver", headers=admin(tokens))
    assert delivered.json()["status"] == "delivered" and delivered.json()["delivered_at"]
    problem(await client.post(f"{url}/deliver", headers=admin(tokens)), 409)
    [sent] = await outbox(app, "shipment.shipped")
    assert (sent["carrier"], sent["tracking_number"]) == ("DHL", "JD0001")
    [done] = await outbox(app, "shipment.delivered")
    assert done["shipment_id"] == shipment["id"] and done["delivered_at"]
    # Cancelling the order now leaves the delivered shipment alone.
    await deliver(app, order_event("order.cancelled", {**_ids(event), "reason": "late"}))
    assert (await client.get(url, headers=admin(tokens))).json()["status"] == "delivered"


def _ids(event: Any) -> dict[str, str]:
    return {"order_id": event.data["order_id"], "user_id": event.data["user_id"]}


async def test_cancelled_order_cancels_unshipped_shipments(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = confirmed("ann", {"p1": 1})
    await deliver(app, event)
    await deliver(app, order_event("order.cancelled", {**_ids(event), "reason": "changed mind"}))
    [shipment] = await shipments_of(client, admin(tokens), event.data["order_id"])
    assert shipment["status"] == "cancelled"
    url = f"{SHIPMENTS}/{shipment['id']}"
    problem(await client.post(f"{url}/pack", headers=admin(tokens)), 409)
    problem(await client.post(f"{url}/split", json={"items": []}, headers=admin(tokens)), 422)


async def test_a_confirmation_after_the_cancellation_makes_no_shipment(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = confirmed("ann", {"p1": 1})
    await deliver(app, order_event("order.cancelled", {**_ids(event), "reason": "changed mind"}))
    await deliver(app, order_event("order.cancelled", {**_ids(event), "reason": "again"}))
    await deliver(app, event)
    assert await shipments_of(client, admin(tokens), event.data["order_id"]) == []
    assert await outbox(app, "shipment.created") == []


async def test_split_moves_lines_and_quantities(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = confirmed("ann", {"p1": 3, "p2": 1})
    await deliver(app, event)
    [shipment] = await shipments_of(client, admin(tokens), event.data["order_id"])
    url = f"{SHIPMENTS}/{shipment['id']}/split"
    for wrong in (
        {"items": [{"product_id": "p9", "quantity": 1}]},
        {"items": [{"product_id": "p1", "quantity": 4}]},
        {"items": [{"product_id": "p1", "quantity": 3}, {"product_id": "p2", "quantity": 1}]},
        {"items": [{"product_id": "p1", "quantity": 1}, {"product_id": "p1", "quantity": 1}]},
        {"items": [{"product_id": "p1", "quantity": 0}]},
    ):
        problem(await client.post(url, json=wrong, headers=admin(tokens)), 422)
    moved = [{"product_id": "p1", "quantity": 2}, {"product_id": "p2", "quantity": 1}]
    split = await client.post(url, json={"items": moved}, headers=admin(tokens))
    assert split.status_code == 201, split.text
    new = split.json()
    assert new["split_from"] == shipment["id"] and new["status"] == "pending"
    assert new["items"] == moved
    source = (await client.get(f"{SHIPMENTS}/{shipment['id']}", headers=admin(tokens))).json()
    assert source["items"] == [{"product_id": "p1", "quantity": 1}]
    first, second = await outbox(app, "shipment.created")
    assert second["shipment_id"] == new["id"] and first["shipment_id"] == shipment["id"]
    # The lines keep the order's unit prices, a line moved whole too.
    assert [line["unit_price"]["amount"] for line in second["items"]] == [250, 250]
    problem(
        await client.post(
            f"{SHIPMENTS}/nope/split",
            json={"items": [{"product_id": "p1", "quantity": 1}]},
            headers=admin(tokens),
        ),
        404,
    )


async def test_customers_see_only_their_own(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    mine, theirs = confirmed("ann", {"p1": 1}), confirmed("bob", {"p1": 1})
    await deliver(app, mine)
    await deliver(app, theirs)
    ann, bob = tokens.headers("ann"), tokens.headers("bob")
    [own] = await shipments_of(client, ann, mine.data["order_id"])
    assert await shipments_of(client, ann, theirs.data["order_id"]) == []
    listed = await client.get(SHIPMENTS, headers=ann)
    assert [s["id"] for s in listed.json()["items"]] == [own["id"]]
    problem(await client.get(f"{SHIPMENTS}/{own['id']}", headers=bob), 404)
    problem(await client.get(f"{SHIPMENTS}/{own['id']}"), 401)
    problem(await client.get(SHIPMENTS), 401)
    for move in ("pack", "deliver"):
        problem(await client.post(f"{SHIPMENTS}/{own['id']}/{move}", headers=ann), 403)
    problem(await client.post(f"{SHIPMENTS}/{own['id']}/ship", json=SHIP, headers=ann), 403)
    problem(await client.post(f"{SHIPMENTS}/nope/pack", headers=admin(tokens)), 404)
    problem(await client.get(f"{SHIPMENTS}/nope", headers=admin(tokens)), 404)


async def test_admin_pages_through_everyone(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    for user in ("ann", "bob", "cid"):
        await deliver(app, confirmed(user, {"p1": 1}))
    first = (await client.get(SHIPMENTS, params={"limit": 2}, headers=admin(tokens))).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await client.get(
        SHIPMENTS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin(tokens)
    )
    users = [s["user_id"] for s in first["items"] + rest.json()["items"]]
    assert sorted(users) == ["ann", "bob", "cid"] and rest.json()["next_cursor"] is None
    problem(await client.get(SHIPMENTS, params={"cursor": "!!"}, headers=admin(tokens)), 422)
    problem(await client.get(SHIPMENTS, params={"limit": 0}, headers=admin(tokens)), 422)


async def test_simulated_carrier_moves_shipments_on(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = confirmed("ann", {"p1": 1})
    await deliver(app, event)
    runtime = app.state.runtime
    statuses = []
    for _ in range(3):
        assert await run_carrier(runtime.database, runtime.outbox, delay_seconds=0) == 1
        [shipment] = await shipments_of(client, admin(tokens), event.data["order_id"])
        statuses.append(shipment["status"])
    assert statuses == ["packed", "shipped", "delivered"]
    assert shipment["tracking_number"].startswith("SIM")
    assert await run_carrier(runtime.database, runtime.outbox, delay_seconds=0) == 0
    await deliver(app, confirmed("ann", {"p1": 1}))
    assert await run_carrier(runtime.database, runtime.outbox, delay_seconds=3600) == 0
    assert len(await outbox(app, "shipment.delivered")) == 1


async def test_the_carrier_task_runs_when_its_delay_is_set(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    app = shipping_app(tmp_path / "carried", simulated_carrier_seconds=0.2)
    async with running(app, tokens) as client:
        event = confirmed("ann", {"p1": 1})
        await deliver(app, event)
        for _ in range(100):  # 0.5 s rounds, three moves: about 2 s
            [shipment] = await shipments_of(client, admin(tokens), event.data["order_id"])
            if shipment["status"] == "delivered":
                break
            await asyncio.sleep(0.1)
        assert shipment["status"] == "delivered"
        ready = (await client.get("/health/ready")).json()
        assert ready["tasks"]["shipping-carrier"]["state"] == "running"


async def test_the_carrier_task_is_off_by_default(app: FastAPI, client: httpx.AsyncClient) -> None:
    ready = (await client.get("/health/ready")).json()
    assert "shipping-carrier" not in ready.get("tasks", {})


async def test_the_list_narrows_to_one_status_and_pages_within_it(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    for user in ("ann", "bob", "cid", "ann"):
        await deliver(app, confirmed(user, {"p1": 1}))
    everyone = (await client.get(SHIPMENTS, headers=admin(tokens))).json()["items"]
    packed = everyone[1::2]  # the second and fourth newest
    for shipment in packed:
        answer = await client.post(f"{SHIPMENTS}/{shipment['id']}/pack", headers=admin(tokens))
        assert answer.status_code == 200, answer.text
    params: dict[str, str | int] = {"status": "packed", "limit": 1}
    first = (await client.get(SHIPMENTS, params=params, headers=admin(tokens))).json()
    params["cursor"] = first["next_cursor"]
    rest = (await client.get(SHIPMENTS, params=params, headers=admin(tokens))).json()
    assert [s["id"] for s in first["items"] + rest["items"]] == [s["id"] for s in packed]
    assert rest["next_cursor"] is None
    pending = await client.get(SHIPMENTS, params={"status": "pending"}, headers=admin(tokens))
    assert {s["status"] for s in pending.json()["items"]} == {"pending"}
    assert len(pending.json()["items"]) == 2
    # A customer's filter is within their own shipments only.
    anns = await client.get(SHIPMENTS, params={"status": "packed"}, headers=tokens.headers("ann"))
    assert {(s["user_id"], s["status"]) for s in anns.json()["items"]} <= {("ann", "packed")}
    assert len(anns.json()["items"]) == sum(s["user_id"] == "ann" for s in packed)
    for bad in ("shipped!", "PACKED", "refunded"):
        answer = await client.get(SHIPMENTS, params={"status": bad}, headers=admin(tokens))
        assert "status" in str(problem(answer, 422)["errors"])
