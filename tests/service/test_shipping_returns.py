"""Service tests of returns: delivered lines only, within the window and the quantities
left, by the order's customer; the admin's accept, reject and receive; `order.returned`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mercato.chassis.events import Event
from tests.support.apps import running
from tests.support.auth import fields, problem
from tests.support.shipping import API, confirmed, deliver, order_event, outbox, shipping_app
from tests.support.tokens import TokenFactory

RETURNS = f"{API}/returns"
SHIP = {"carrier": "UPS", "tracking_number": "1Z999"}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The shipping service with the default 30-day window."""
    return shipping_app(tmp_path)


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers("root", ["admin"])


async def delivered_order(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory, items: dict[str, int]
) -> Event:
    """An order of ann's, confirmed and all delivered (in one shipment)."""
    event = confirmed("ann", items)
    await deliver(app, event)
    listed = await client.get(
        f"{API}/shipments", params={"order_id": event.data["order_id"]}, headers=admin(tokens)
    )
    [shipment] = listed.json()["items"]
    url = f"{API}/shipments/{shipment['id']}"
    for move, body in (("pack", None), ("ship", SHIP), ("deliver", None)):
        answer = await client.post(f"{url}/{move}", json=body, headers=admin(tokens))
        assert answer.status_code == 200, answer.text
    return event


def ask(order_id: str, reason: str = "too small", **items: int) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "items": [{"product_id": p, "quantity": q} for p, q in items.items()],
        "reason": reason,
    }


async def test_return_flow_to_refunded_with_events(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = await delivered_order(app, client, tokens, {"p1": 2, "p2": 1})
    order_id = event.data["order_id"]
    ann = tokens.headers("ann")
    first = await client.post(RETURNS, json=ask(order_id, p1=1), headers=ann)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "requested"
    ret = first.json()["id"]
    url = f"{RETURNS}/{ret}"
    problem(await client.post(f"{url}/receive", headers=admin(tokens)), 409)
    assert (await client.post(f"{url}/accept", headers=admin(tokens))).json()["status"] == (
        "accepted"
    )
    problem(await client.post(f"{url}/reject", json={"reason": "no"}, headers=admin(tokens)), 409)
    received = await client.post(f"{url}/receive", headers=admin(tokens))
    assert received.json()["status"] == "received"
    [requested] = await outbox(app, "return.requested")
    price = {"amount": 250, "currency": "USD"}  # the order's unit price, for the refund
    assert requested["items"] == [{"product_id": "p1", "quantity": 1, "unit_price": price}]
    assert requested["reason"] == "too small" and requested["user_id"] == "ann"
    assert len(await outbox(app, "return.accepted")) == 1
    [back] = await outbox(app, "return.received")
    assert back["whole_order"] is False and back["order_id"] == order_id
    returned = {
        "order_id": order_id,
        "user_id": "ann",
        "return_id": ret,
        "items": [{"product_id": "p1", "quantity": 1}],
        "refund": {"amount": 250, "currency": "USD"},
    }
    await deliver(app, order_event("order.returned", returned))
    await deliver(app, order_event("order.returned", returned))  # again: no change
    assert (await client.get(url, headers=ann)).json()["status"] == "refunded"
    # The rest of the order comes back: the second return is the whole order.
    rest = await client.post(RETURNS, json=ask(order_id, p1=1, p2=1), headers=ann)
    assert rest.status_code == 201, rest.text
    rest_url = f"{RETURNS}/{rest.json()['id']}"
    await client.post(f"{rest_url}/accept", headers=admin(tokens))
    await client.post(f"{rest_url}/receive", headers=admin(tokens))
    assert [r["whole_order"] for r in await outbox(app, "return.received")] == [False, True]
    problem(await client.post(RETURNS, json=ask(order_id, p1=1), headers=ann), 409)


async def test_quantities_left_and_rejection_frees_them(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = await delivered_order(app, client, tokens, {"p1": 2})
    order_id = event.data["order_id"]
    ann = tokens.headers("ann")
    problem(await client.post(RETURNS, json=ask(order_id, p1=3), headers=ann), 409)
    first = await client.post(RETURNS, json=ask(order_id, p1=2), headers=ann)
    assert first.status_code == 201
    problem(await client.post(RETURNS, json=ask(order_id, p1=1), headers=ann), 409)
    rejected = await client.post(
        f"{RETURNS}/{first.json()['id']}/reject", json={"reason": "worn"}, headers=admin(tokens)
    )
    assert rejected.json()["rejection_reason"] == "worn"
    [refusal] = await outbox(app, "return.rejected")
    assert refusal["reason"] == "worn"
    again = await client.post(RETURNS, json=ask(order_id, p1=2), headers=ann)
    assert again.status_code == 201, again.text


async def test_refusals_of_a_request(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = await delivered_order(app, client, tokens, {"p1": 1})
    order_id = event.data["order_id"]
    ann, bob = tokens.headers("ann"), tokens.headers("bob")
    problem(await client.post(RETURNS, json=ask(order_id, p1=1), headers=bob), 404)
    problem(await client.post(RETURNS, json=ask("no-such-order", p1=1), headers=ann), 404)
    problem(await client.post(RETURNS, json=ask(order_id, p1=1)), 401)
    service = tokens.headers("orders", ["service"], typ="service")
    problem(await client.post(RETURNS, json=ask(order_id, p1=1), headers=service), 403)
    unknown = problem(await client.post(RETURNS, json=ask(order_id, p9=1), headers=ann), 422)
    assert fields(unknown) == ["items.0.product_id"]
    for broken in (
        ask(order_id, reason="", p1=1),
        ask(order_id, p1=0),
        {**ask(order_id, p1=1), "items": []},
        {**ask(order_id, p1=1), "extra": True},
        {**ask(order_id, p1=1), "items": [{"product_id": "p1", "quantity": 1}] * 2},
    ):
        problem(await client.post(RETURNS, json=broken, headers=ann), 422)
    problem(
        await client.post(RETURNS, content=b"[]", headers={**ann, "content-type": "text/plain"}),
        415,
    )
    # A line not delivered yet: a second order, only confirmed.
    pending = confirmed("ann", {"p1": 1})
    await deliver(app, pending)
    problem(await client.post(RETURNS, json=ask(pending.data["order_id"], p1=1), headers=ann), 409)


async def test_return_window_closes(tmp_path: Path, tokens: TokenFactory) -> None:
    app = shipping_app(tmp_path, return_window_days=0)
    async with running(app, tokens) as client:
        event = await delivered_order(app, client, tokens, {"p1": 1})
        answer = await client.post(
            RETURNS, json=ask(event.data["order_id"], p1=1), headers=tokens.headers("ann")
        )
        assert "window" in problem(answer, 409)["detail"]


async def test_returns_are_read_by_their_customer_and_admins(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = await delivered_order(app, client, tokens, {"p1": 1})
    ann, bob = tokens.headers("ann"), tokens.headers("bob")
    made = (await client.post(RETURNS, json=ask(event.data["order_id"], p1=1), headers=ann)).json()
    url = f"{RETURNS}/{made['id']}"
    assert (await client.get(url, headers=ann)).json()["id"] == made["id"]
    assert (await client.get(url, headers=admin(tokens))).json()["user_id"] == "ann"
    problem(await client.get(url, headers=bob), 404)
    problem(await client.get(url), 401)
    assert (await client.get(RETURNS, headers=bob)).json() == {"items": [], "next_cursor": None}
    mine = await client.get(RETURNS, params={"order_id": event.data["order_id"]}, headers=ann)
    assert [r["id"] for r in mine.json()["items"]] == [made["id"]]
    everyone = await client.get(RETURNS, headers=admin(tokens))
    assert [r["id"] for r in everyone.json()["items"]] == [made["id"]]
    for move in ("accept", "receive"):
        problem(await client.post(f"{url}/{move}", headers=ann), 403)
        problem(await client.post(f"{RETURNS}/nope/{move}", headers=admin(tokens)), 404)
    problem(await client.post(f"{url}/reject", json={"reason": "x"}, headers=ann), 403)
    problem(await client.post(f"{url}/reject", json={}, headers=admin(tokens)), 422)


async def test_the_returns_list_narrows_to_one_status(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    event = await delivered_order(app, client, tokens, {"p1": 1, "p2": 1})
    ann, order_id = tokens.headers("ann"), event.data["order_id"]
    first = (await client.post(RETURNS, json=ask(order_id, p1=1), headers=ann)).json()
    second = (await client.post(RETURNS, json=ask(order_id, p2=1), headers=ann)).json()
    accepted = await client.post(f"{RETURNS}/{first['id']}/accept", headers=admin(tokens))
    assert accepted.status_code == 200, accepted.text
    for status, expected in (("accepted", [first]), ("requested", [second]), ("rejected", [])):
        for headers in (admin(tokens), ann):
            listed = await client.get(RETURNS, params={"status": status}, headers=headers)
            assert [r["id"] for r in listed.json()["items"]] == [r["id"] for r in expected]
    bob = await client.get(RETURNS, params={"status": "accepted"}, headers=tokens.headers("bob"))
    assert bob.json()["items"] == []
    answer = await client.get(RETURNS, params={"status": "packed"}, headers=admin(tokens))
    assert "status" in str(problem(answer, 422)["errors"])
