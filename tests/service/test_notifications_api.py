"""Service tests of the notifications API: messages (own), preferences, templates (admin).

Every route's failure cases: no token (401), the wrong caller (403), someone else's
message (404, never 403), bad input (400, 415, 422).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.apps import running
from tests.support.mail_server import MailServer
from tests.support.notifications import (
    confirmed,
    consumer,
    notifications_app,
    registered,
    shipped,
)
from tests.support.tokens import TokenFactory

BASE = "/api/notifications"
MESSAGES = f"{BASE}/messages"
PREFERENCES = f"{BASE}/preferences"
TEMPLATES = f"{BASE}/templates"
KINDS = [
    "account_created",
    "order_confirmed",
    "payment_failed",
    "shipment_shipped",
    "shipment_delivered",
    "refund_issued",
]


@pytest.fixture
def app(tmp_path: Path, smtp: MailServer) -> FastAPI:
    """The notifications service mailing through `smtp`."""
    return notifications_app(tmp_path, smtp)


@pytest.fixture
async def client(app: FastAPI, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The started app's client."""
    async with running(app, tokens) as client:
        yield client


async def mailed(app: FastAPI, user_id: str, orders: int = 1) -> list[str]:
    """Register `user_id` and confirm `orders` orders of theirs; the order ids."""
    handle = consumer(app).handle
    await handle(registered(user_id, f"{user_id[:8]}@example.com", "Pat"))
    order_ids = []
    for _ in range(orders):
        event = confirmed(user_id)
        await handle(event)
        order_ids.append(str(event.data["order_id"]))
    return order_ids


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    """The problem+json body of `response`, which must have `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", MESSAGES),
        ("GET", f"{MESSAGES}/abc"),
        ("GET", PREFERENCES),
        ("PUT", PREFERENCES),
        ("GET", TEMPLATES),
    ],
)
async def test_every_route_needs_a_token(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={"kinds": {}})
    problem(response, 401)
    bad = await client.request(method, path, headers={"Authorization": "Bearer nope"})
    problem(bad, 401)


async def test_own_messages_only_and_someone_elses_is_404(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    ann, bob = str(uuid.uuid4()), str(uuid.uuid4())
    await mailed(app, ann)
    await mailed(app, bob)
    ann_headers = tokens.headers(ann, ["customer"])
    ann_items = (await client.get(MESSAGES, headers=ann_headers)).json()["items"]
    bob_items = (await client.get(MESSAGES, headers=tokens.headers(bob, ["customer"]))).json()[
        "items"
    ]
    assert {i["user_id"] for i in ann_items} == {ann} and len(ann_items) == 2
    assert {i["user_id"] for i in bob_items} == {bob}
    own = await client.get(f"{MESSAGES}/{ann_items[0]['id']}", headers=ann_headers)
    assert own.status_code == 200 and own.json() == ann_items[0]
    assert own.headers["cache-control"] == "no-store"
    problem(await client.get(f"{MESSAGES}/{bob_items[0]['id']}", headers=ann_headers), 404)
    problem(await client.get(f"{MESSAGES}/{uuid.uuid4().hex}", headers=ann_headers), 404)
    # Bob's order id as a filter shows Ann nothing of his.
    theirs = await client.get(
        MESSAGES, params={"order_id": bob_items[0]["order_id"]}, headers=ann_headers
    )
    assert theirs.status_code == 200 and theirs.json()["items"] == []
    # Asking for another user's list is for admins only.
    problem(await client.get(MESSAGES, params={"user_id": bob}, headers=ann_headers), 403)
    mine = await client.get(MESSAGES, params={"user_id": ann}, headers=ann_headers)
    assert mine.status_code == 200 and len(mine.json()["items"]) == 2


async def test_admin_reads_and_filters_anyones_messages(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    ann, bob = str(uuid.uuid4()), str(uuid.uuid4())
    [order_id] = await mailed(app, ann)
    await consumer(app).handle(shipped(ann, order_id))
    await mailed(app, bob)
    admin = tokens.headers(str(uuid.uuid4()), ["admin"])
    everyone = (await client.get(MESSAGES, headers=admin)).json()["items"]
    assert {i["user_id"] for i in everyone} == {ann, bob} and len(everyone) == 5
    by_user = (await client.get(MESSAGES, params={"user_id": bob}, headers=admin)).json()
    assert {i["user_id"] for i in by_user["items"]} == {bob} and len(by_user["items"]) == 2
    by_order = (await client.get(MESSAGES, params={"order_id": order_id}, headers=admin)).json()
    assert [i["kind"] for i in by_order["items"]] == ["shipment_shipped", "order_confirmed"]
    one = await client.get(f"{MESSAGES}/{everyone[0]['id']}", headers=admin)
    assert one.status_code == 200


async def test_messages_are_cursor_paged(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id = str(uuid.uuid4())
    await mailed(app, user_id, orders=4)
    headers = tokens.headers(user_id, ["customer"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(MESSAGES, params=params, headers=headers)).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 == len(set(seen))


async def test_bad_list_queries_are_422(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    headers = tokens.headers(str(uuid.uuid4()), ["customer"])
    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "not-a-cursor"}, {"order_id": ""}):
        problem(await client.get(MESSAGES, params=params, headers=headers), 422)
    problem(await client.get(f"{MESSAGES}/{'x' * 65}", headers=headers), 422)


async def test_a_service_token_has_no_mail(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    service = tokens.headers("service:orders", ["service"], typ="service", aud="notifications")
    for path in (MESSAGES, PREFERENCES, f"{MESSAGES}/{uuid.uuid4().hex}"):
        problem(await client.get(path, headers=service), 403)
    problem(await client.put(PREFERENCES, json={"kinds": {}}, headers=service), 403)


async def test_preferences_turn_kinds_on_and_off(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    headers = tokens.headers(str(uuid.uuid4()), ["customer"])
    initial = (await client.get(PREFERENCES, headers=headers)).json()
    assert initial == {"kinds": dict.fromkeys(KINDS, True), "always_on": ["account_created"]}
    off = await client.put(
        PREFERENCES,
        json={"kinds": {"payment_failed": False, "shipment_shipped": False}},
        headers=headers,
    )
    assert off.status_code == 200, off.text
    assert [k for k, on in off.json()["kinds"].items() if not on] == [
        "payment_failed",
        "shipment_shipped",
    ]
    back = await client.put(PREFERENCES, json={"kinds": {"payment_failed": True}}, headers=headers)
    assert [k for k, on in back.json()["kinds"].items() if not on] == ["shipment_shipped"]
    again = (await client.get(PREFERENCES, headers=headers)).json()
    assert again == back.json()
    # Another customer's choices are their own.
    other = (await client.get(PREFERENCES, headers=tokens.headers(roles=["customer"]))).json()
    assert all(other["kinds"].values())


async def test_bad_preferences_are_refused(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    headers = tokens.headers(str(uuid.uuid4()), ["customer"])
    refusals = [
        {"kinds": {"newsletter": False}},  # no such kind
        {"kinds": {"order_confirmed": "no"}},  # not a boolean
        {"kinds": {"order_confirmed": 0}},
        {"kinds": {"account_created": False}},  # always sent
        {"kinds": {}, "extra": 1},
        {},
        [],
    ]
    for body in refusals:
        problem(await client.put(PREFERENCES, json=body, headers=headers), 422)
    problem(
        await client.put(
            PREFERENCES,
            content=b'{"kinds": {',
            headers={**headers, "content-type": "application/json"},
        ),
        400,
    )
    problem(
        await client.put(
            PREFERENCES, content=b"kinds=1", headers={**headers, "content-type": "text/plain"}
        ),
        415,
    )
    assert all((await client.get(PREFERENCES, headers=headers)).json()["kinds"].values())


async def test_templates_are_for_admins(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    problem(await client.get(TEMPLATES, headers=tokens.headers(roles=["customer"])), 403)
    response = await client.get(TEMPLATES, headers=tokens.headers(roles=["admin"]))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["kind"] for item in items] == KINDS
    by_kind = {item["kind"]: item for item in items}
    assert by_kind["order_confirmed"]["event_type"] == "order.confirmed"
    assert "Testshop" in by_kind["order_confirmed"]["subject"]
    assert "https://shop.example.com/orders/ord_0123456789" in by_kind["order_confirmed"]["text"]
    assert by_kind["shipment_shipped"]["html"].startswith("<!doctype html>")
    assert not by_kind["account_created"]["can_turn_off"]
    assert by_kind["refund_issued"]["can_turn_off"]
