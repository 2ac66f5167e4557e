"""Service tests of `GET /api/logs/events`: filters, order, paging and bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mercato.chassis.web.paging import encode_cursor
from mercato.logs.app import create_app
from mercato.logs.settings import load_settings
from tests.support.apps import running
from tests.support.logs import BASE, EVENTS_URL, deliver, event, listed
from tests.support.tokens import TokenFactory

# An order's story, delivered out of order, with other events around it.
STORY = [
    event("order.placed", subject="o-1", source="orders", at=1, user_id="u-1"),
    event("inventory.reserved", subject="o-1", source="catalog", at=2, order_id="o-1"),
    event("payment.succeeded", subject="pay-1", source="payments", at=3, order_id="o-1"),
    event("order.confirmed", subject="o-1", source="orders", at=4, user_id="u-1"),
]
OTHERS = [
    event("user.registered", subject="u-1", source="auth", at=0, user_id="u-1"),
    event("order.placed", subject="o-2", source="orders", at=2, user_id="u-2"),
    event("order_x.odd", subject="x", source="orders", at=5),
    event("giftcard.redeemed", subject="g-1", source="giftcards", at=6, user_id="u-2"),
]


@pytest.fixture
async def client(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The logs service on SQLite in tmp_path, without a broker, holding STORY and OTHERS."""
    app: FastAPI = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with running(app, tokens) as client:
        await deliver(app, *reversed(STORY), *OTHERS)
        yield client


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    """Headers of an admin."""
    return tokens.headers(str(uuid.uuid4()), ["admin"])


async def types(client: httpx.AsyncClient, admin: dict[str, str], **query: str) -> list[str]:
    """The types of the events a query lists, in order."""
    return [item["type"] for item in await listed(client, admin, **query)]


async def test_an_orders_story_reads_in_order(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    items = await listed(client, admin, order_id="o-1")
    assert [item["id"] for item in items] == [one.id for one in STORY]
    assert all("recorded_at" in item for item in items)


async def test_each_filter(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    assert len(await listed(client, admin)) == 8
    assert await types(client, admin, type="order.placed") == ["order.placed"] * 2
    assert await types(client, admin, type="order.*") == [
        "order.placed",
        "order.placed",
        "order.confirmed",
    ]  # "order_x.odd" is not an `order.` type, though `_` is a LIKE wildcard
    assert len(await types(client, admin, type="*")) == 8
    assert await types(client, admin, source="payments") == ["payment.succeeded"]
    assert await types(client, admin, user_id="u-2") == ["order.placed", "giftcard.redeemed"]
    assert await types(client, admin, subject="o-1") == [
        "order.placed",
        "inventory.reserved",
        "order.confirmed",
    ]
    assert await types(client, admin, type="nothing.here") == []


async def test_time_window_is_since_inclusive_until_exclusive(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    since = (BASE + timedelta(seconds=2)).isoformat()
    until = (BASE + timedelta(seconds=4)).isoformat()
    window = await types(client, admin, since=since, until=until)
    assert sorted(window) == ["inventory.reserved", "order.placed", "payment.succeeded"]
    naive = (BASE + timedelta(seconds=6)).replace(tzinfo=None).isoformat()  # taken as UTC
    assert await types(client, admin, since=naive) == ["giftcard.redeemed"]
    assert await types(client, admin, since=since, until=since) == []


async def test_filters_combine(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    assert await types(client, admin, type="order.*", user_id="u-1", source="orders") == [
        "order.placed",
        "order.confirmed",
    ]


@pytest.mark.parametrize("limit", [1, 3, 7, 8, 500])
async def test_paging_has_no_gaps_or_duplicates(
    client: httpx.AsyncClient, admin: dict[str, str], limit: int
) -> None:
    everything = await listed(client, admin, limit="500")
    paged = await listed(client, admin, limit=str(limit))
    assert [item["id"] for item in paged] == [item["id"] for item in everything]
    keys = [(item["occurred_at"], item["id"]) for item in paged]
    assert keys == sorted(keys) and len(set(keys)) == 8


async def test_a_page_says_when_there_is_more(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    first = (await client.get(EVENTS_URL, params={"limit": 8}, headers=admin)).json()
    assert len(first["items"]) == 8 and first["next_cursor"] is None
    short = (await client.get(EVENTS_URL, params={"limit": 3}, headers=admin)).json()
    assert len(short["items"]) == 3 and short["next_cursor"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2025-13-01T00:00:00Z"}, "until"),
        ({"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # a list, but not a key of this listing
        ({"cursor": encode_cursor(["0001-01-01T00:00:00+14:00", "x"])}, "cursor"),
        ({"until": "0001-01-01T00:00:00+14:00"}, "until"),  # before the first UTC time
        ({"since": "9999-12-31T23:59:59-14:00"}, "since"),  # after the last
        ({"type": "order.*.placed"}, "type"),
        ({"type": "order placed"}, "type"),
        ({"user_id": ""}, "user_id"),
    ],
)
async def test_bad_query_is_422_naming_the_parameter(
    client: httpx.AsyncClient, admin: dict[str, str], query: dict[str, str], field: str
) -> None:
    response = await client.get(EVENTS_URL, params=query, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]
