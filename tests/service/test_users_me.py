"""Service tests of `/api/users/me`: the caller's own profile."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mercato.users.app import create_app
from mercato.users.settings import load_settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory

ME = "/api/users/me"
ADDRESS: dict[str, Any] = {
    "label": "Home",
    "name": "Ann Example",
    "line1": "Main Street 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "phone": "+49 30 1234567",
}


@pytest.fixture
async def client(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The users service on SQLite in tmp_path, without a broker."""
    app = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with running(app, tokens) as client:
        yield client


@pytest.fixture
def user(tokens: TokenFactory) -> dict[str, str]:
    """Headers of a customer whose token carries an email and a name."""
    subject = str(uuid.uuid4())
    return tokens.headers(subject, ["customer"], email="ann@example.com", name="Ann")


def error_fields(response: httpx.Response) -> list[str]:
    """The fields a problem+json validation error names."""
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


async def test_get_me_creates_the_profile_from_the_token(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    subject = str(uuid.uuid4())
    headers = tokens.headers(subject, ["customer"], email="ann@example.com", name="Ann")
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "id",
        "email",
        "name",
        "bio",
        "avatar_url",
        "preferences",
        "addresses",
        "created_at",
        "updated_at",
    }
    assert (body["id"], body["email"], body["name"]) == (subject, "ann@example.com", "Ann")
    assert body["preferences"] == {} and body["addresses"] == [] and body["bio"] is None
    again = await client.get(ME, headers=headers)
    assert again.json() == body


async def test_patch_me(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    patch = {
        "name": " Ann Example ",
        "bio": "Likes tea.",
        "avatar_url": "https://cdn.example.com/ann.png",
        "preferences": {"newsletter": True, "currency": "EUR", "language": "en", "theme": "dark"},
        "addresses": [{**ADDRESS, "is_default": True}],
    }
    response = await client.patch(ME, json=patch, headers=user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Ann Example"
    assert body["bio"] == "Likes tea."
    assert body["avatar_url"] == "https://cdn.example.com/ann.png"
    assert body["preferences"] == patch["preferences"]
    [address] = body["addresses"]
    assert address["id"] and address["is_default"] and address["line2"] is None
    assert address["country"] == "DE"
    assert body["updated_at"] >= body["created_at"]
    assert (await client.get(ME, headers=user)).json() == body


async def test_patch_is_partial(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    first = {"bio": "b", "preferences": {"newsletter": True, "language": "en"}}
    await client.patch(ME, json=first, headers=user)
    await client.patch(ME, json={"addresses": [ADDRESS]}, headers=user)
    response = await client.patch(
        ME, json={"preferences": {"language": "de", "newsletter": None}}, headers=user
    )
    body = response.json()
    assert response.status_code == 200
    assert body["bio"] == "b" and body["name"] == "Ann"
    assert body["preferences"] == {"language": "de"}
    assert len(body["addresses"]) == 1


async def test_addresses_keep_their_ids(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    first = (await client.patch(ME, json={"addresses": [ADDRESS]}, headers=user)).json()
    kept = first["addresses"][0]
    second = await client.patch(
        ME,
        json={"addresses": [{**ADDRESS, "id": kept["id"], "city": "Bonn"}, ADDRESS]},
        headers=user,
    )
    addresses = second.json()["addresses"]
    assert addresses[0]["id"] == kept["id"] and addresses[0]["city"] == "Bonn"
    assert addresses[1]["id"] != kept["id"]
    cleared = await client.patch(ME, json={"addresses": []}, headers=user)
    assert cleared.json()["addresses"] == []


async def test_unknown_address_id(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    response = await client.patch(ME, json={"addresses": [{**ADDRESS, "id": "x"}]}, headers=user)
    assert response.status_code == 422
    assert error_fields(response) == ["addresses.0.id"]


@pytest.mark.parametrize(
    ("patch", "fields"),
    [
        ({"avatar_url": "ftp://example.com/a.png"}, ["avatar_url"]),
        ({"avatar_url": "not a url"}, ["avatar_url"]),
        ({"addresses": [{**ADDRESS, "country": "XX"}]}, ["addresses.0.country"]),
        ({"addresses": [ADDRESS, {**ADDRESS, "country": "Germany"}]}, ["addresses.1.country"]),
        ({"addresses": [{**ADDRESS, "is_default": True}] * 2}, ["addresses"]),
        ({"addresses": [ADDRESS] * 11}, ["addresses"]),
        ({"addresses": [{**ADDRESS, "line1": ""}]}, ["addresses.0.line1"]),
        ({"name": ""}, ["name"]),
        ({"preferences": {"newsletter": "yes"}}, ["preferences.newsletter"]),
        ({"preferences": {"blob": "x" * 5000}}, ["preferences"]),
        ({"email": "other@example.com"}, ["email"]),
    ],
)
async def test_patch_rejects_bad_fields(
    client: httpx.AsyncClient, user: dict[str, str], patch: dict[str, Any], fields: list[str]
) -> None:
    response = await client.patch(ME, json=patch, headers=user)
    assert response.status_code == 422, response.text
    assert error_fields(response) == fields
    assert response.json()["status"] == 422


async def test_malformed_json_is_400(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    headers = {**user, "content-type": "application/json"}
    response = await client.patch(ME, content=b'{"name": ', headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_wrong_media_type_is_415(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    headers = {**user, "content-type": "application/x-www-form-urlencoded"}
    response = await client.patch(ME, content=b"name=Ann", headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    for response in (await client.get(ME), await client.patch(ME, json={"bio": "x"})):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_401(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    token = tokens.token(str(uuid.uuid4()), ["customer"], exp=int(time.time()) - 600)
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_forged_token_is_401(client: httpx.AsyncClient, user: dict[str, str]) -> None:
    forged = user["Authorization"][:-4] + "AAAA"
    response = await client.get(ME, headers={"Authorization": forged})
    assert response.status_code == 401


async def test_service_token_has_no_me(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    headers = tokens.headers("orders", ["service"], typ="service")
    assert (await client.get(ME, headers=headers)).status_code == 403


async def test_users_see_only_their_own(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    ann = tokens.headers(str(uuid.uuid4()), ["customer"], email="ann@example.com", name="Ann")
    bob = tokens.headers(str(uuid.uuid4()), ["customer"], email="bob@example.com", name="Bob")
    await client.patch(ME, json={"bio": "Ann's"}, headers=ann)
    bobs = (await client.get(ME, headers=bob)).json()
    assert bobs["name"] == "Bob" and bobs["bio"] is None


async def test_patch_before_get_creates_the_profile(
    client: httpx.AsyncClient, user: dict[str, str]
) -> None:
    response = await client.patch(ME, json={"bio": "first"}, headers=user)
    assert response.status_code == 200
    assert response.json()["email"] == "ann@example.com"


async def test_head_runs_the_get_route_and_is_counted_as_head(
    tmp_path: Path, tokens: TokenFactory, user: dict[str, str]
) -> None:
    app = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with running(app, tokens) as client:
        head = await client.head(ME, headers=user)
        got = await client.get(ME, headers=user)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(got.content)

    def count(method: str) -> float:
        return float(
            sum(
                sample.value
                for metric in app.state.metrics.registry.collect()
                for sample in metric.samples
                if sample.name == "http_requests_total"
                and sample.labels["route"] == ME
                and sample.labels["method"] == method
            )
        )

    assert (count("HEAD"), count("GET")) == (1, 1)
