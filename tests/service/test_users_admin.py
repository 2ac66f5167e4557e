"""Service tests of the admin and service lookups under `/api/users`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mercato.users.app import create_app
from mercato.users.settings import load_settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory


@pytest.fixture
async def client(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The users service on SQLite in tmp_path, without a broker."""
    app = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with running(app, tokens) as client:
        yield client


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    """Headers of an admin."""
    return tokens.headers(str(uuid.uuid4()), ["admin"])


async def make_user(client: httpx.AsyncClient, tokens: TokenFactory, email: str) -> str:
    """A customer whose profile exists (made by GET /me); their id."""
    subject = str(uuid.uuid4())
    headers = tokens.headers(subject, ["customer"], email=email, name=email.partition("@")[0])
    assert (await client.get("/api/users/me", headers=headers)).status_code == 200
    return subject


async def test_customer_gets_403_on_admin_routes(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    own = str(uuid.uuid4())
    headers = tokens.headers(own, ["customer"], email="c@example.com", name="C")
    await client.get("/api/users/me", headers=headers)
    for path in ("/api/users", f"/api/users/{own}", f"/api/users/{uuid.uuid4()}"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_admin_routes_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/users")).status_code == 401
    assert (await client.get(f"/api/users/{uuid.uuid4()}")).status_code == 401


async def test_admin_lookup(
    client: httpx.AsyncClient, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    missing = await client.get(f"/api/users/{uuid.uuid4()}", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    subject = await make_user(client, tokens, "dora@example.com")
    found = await client.get(f"/api/users/{subject}", headers=admin)
    assert found.status_code == 200
    assert found.json()["id"] == subject and found.json()["email"] == "dora@example.com"


async def test_service_token_reads_a_profile(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    subject = await make_user(client, tokens, "eve@example.com")
    service = tokens.headers("orders", ["service"], typ="service", aud="users")
    response = await client.get(f"/api/users/{subject}", headers=service)
    assert response.status_code == 200
    assert response.json()["addresses"] == []
    assert (await client.get("/api/users", headers=service)).status_code == 403


async def test_listing_pages_newest_first(
    client: httpx.AsyncClient, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    made = [await make_user(client, tokens, f"user{i}@example.com") for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/api/users", params=params, headers=admin)
        assert response.status_code == 200
        body = response.json()
        assert len(body["items"]) <= 2
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(made))


async def test_listing_filters_by_email(
    client: httpx.AsyncClient, tokens: TokenFactory, admin: dict[str, str]
) -> None:
    await make_user(client, tokens, "finn@example.com")
    gail = await make_user(client, tokens, "gail@example.com")
    response = await client.get("/api/users", params={"email": "GAIL@example.com"}, headers=admin)
    body = response.json()
    assert [item["id"] for item in body["items"]] == [gail]
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMiwzXQ"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1000"}, "limit"),
    ],
)
async def test_listing_rejects_bad_paging(
    client: httpx.AsyncClient, admin: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/users", params=params, headers=admin)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
