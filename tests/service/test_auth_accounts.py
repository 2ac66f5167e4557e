"""Service tests of auth's accounts: register, me, roles, and the first admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mercato.auth.passwords import MIN_LENGTH
from mercato.auth.service import create_admin
from tests.support.apps import running
from tests.support.auth import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    API,
    PASSWORD,
    auth_app,
    auth_settings,
    bearer,
    fields,
    login,
    outbox,
    problem,
    register,
    tokens_for,
)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return auth_app(tmp_path)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        yield client


async def bearer_for(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    return bearer(await tokens_for(client, email, password))


async def test_register_creates_a_customer(client: httpx.AsyncClient) -> None:
    body = await register(client, email="  Ann.Lee@Example.COM ")
    assert set(body) == {"id", "email", "name", "roles"}
    assert body["email"] == "ann.lee@example.com"
    assert body["name"] == "Ann"
    assert body["roles"] == ["customer"]


async def test_register_writes_user_registered_in_the_outbox(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    events = [e for e in await outbox(app, "user.registered") if e["subject"] == user["id"]]
    assert len(events) == 1
    assert events[0]["version"] == 1
    assert events[0]["source"] == "auth"
    assert events[0]["data"] == {
        "user_id": user["id"],
        "email": "ann@example.com",
        "name": "Ann",
        "roles": ["customer"],
    }


async def test_register_twice_is_a_conflict(client: httpx.AsyncClient) -> None:
    await register(client)
    response = await client.post(
        f"{API}/register",
        json={"email": "ANN@example.com", "password": PASSWORD, "name": "Other"},
    )
    problem(response, 409)


@pytest.mark.parametrize(
    "password",
    ["Short1!", "alllowercaseletters", "1234567890", "Password123", "xann@exampleX1"],
)
async def test_register_refuses_a_weak_password(client: httpx.AsyncClient, password: str) -> None:
    response = await client.post(
        f"{API}/register",
        json={"email": "ann@example.com", "password": password, "name": "Ann"},
    )
    body = problem(response, 422)
    assert fields(body) and set(fields(body)) == {"password"}
    assert "password" in body["detail"]


@pytest.mark.parametrize("email", ["not-an-email", "ann@", "@example.com", "ann@@example.com"])
async def test_register_refuses_a_bad_email(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(
        f"{API}/register", json={"email": email, "password": PASSWORD, "name": "Ann"}
    )
    assert fields(problem(response, 422)) == ["email"]


async def test_register_names_every_missing_field(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/register", json={"name": ""})
    assert set(fields(problem(response, 422))) == {"email", "password", "name"}


async def test_register_refuses_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/register",
        content=b'{"email": "ann@example.com",',
        headers={"content-type": "application/json"},
    )
    problem(response, 400)


async def test_register_refuses_a_form_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/register", data={"email": "ann@example.com", "password": PASSWORD, "name": "A"}
    )
    problem(response, 415)


async def test_me_answers_the_account_of_the_token(client: httpx.AsyncClient) -> None:
    user = await register(client)
    response = await client.get(
        f"{API}/me", headers=await bearer_for(client, "ann@example.com", PASSWORD)
    )
    assert response.status_code == 200
    assert response.json() == user


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer not.a.jwt"}],
)
async def test_me_needs_a_valid_bearer_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(f"{API}/me", headers=headers)
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_admin_from_settings_can_log_in(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"{API}/me", headers=await bearer_for(client, ADMIN_EMAIL.upper(), ADMIN_PASSWORD)
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["admin"]


async def test_admin_sets_roles_and_it_is_published(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    admin = await bearer_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    response = await client.put(
        f"{API}/users/{user['id']}/roles", json={"roles": ["admin", "customer"]}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["admin", "customer"]
    events = await outbox(app, "user.roles_changed")
    assert [e["data"] for e in events] == [{"user_id": user["id"], "roles": ["admin", "customer"]}]
    promoted = await bearer_for(client, "ann@example.com", PASSWORD)
    me = await client.get(f"{API}/me", headers=promoted)
    assert me.json()["roles"] == ["admin", "customer"]


async def test_removing_a_role_ends_the_accounts_sessions(client: httpx.AsyncClient) -> None:
    user = await register(client)
    admin = await bearer_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    url = f"{API}/users/{user['id']}/roles"
    await client.put(url, json={"roles": ["admin", "customer"]}, headers=admin)
    session = await bearer_for(client, "ann@example.com", PASSWORD)
    response = await client.put(url, json={"roles": ["customer"]}, headers=admin)
    assert response.status_code == 200
    problem(await client.get(f"{API}/me", headers=session), 401)


async def test_a_customer_cannot_set_roles(client: httpx.AsyncClient) -> None:
    user = await register(client)
    customer = await bearer_for(client, "ann@example.com", PASSWORD)
    response = await client.put(
        f"{API}/users/{user['id']}/roles", json={"roles": ["admin"]}, headers=customer
    )
    problem(response, 403)


async def test_set_roles_failures(client: httpx.AsyncClient) -> None:
    user = await register(client)
    admin = await bearer_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    url = f"{API}/users/{user['id']}/roles"
    problem(await client.put(url, json={"roles": []}, headers=admin), 422)
    body = problem(await client.put(url, json={"roles": ["root"]}, headers=admin), 422)
    assert fields(body) == ["roles.0"]
    missing = await client.put(
        f"{API}/users/nobody/roles", json={"roles": ["admin"]}, headers=admin
    )
    problem(missing, 404)
    problem(await client.put(url, json={"roles": ["admin"]}), 401)


async def test_the_last_admin_keeps_the_admin_role(client: httpx.AsyncClient) -> None:
    admin = await bearer_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    me = (await client.get(f"{API}/me", headers=admin)).json()
    response = await client.put(
        f"{API}/users/{me['id']}/roles", json={"roles": ["customer"]}, headers=admin
    )
    problem(response, 409)


async def test_development_admin_is_generated_and_shown_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running(auth_app(tmp_path, admin_email="", admin_password="")) as client:
        out = capsys.readouterr().out.splitlines()  # the terminal line and the JSON logs
        lines = [line for line in out if "created admin" in line]
        assert len(lines) == 1 and "admin@mercato.local" in lines[0]
        password = lines[0].split(" with password ")[1].split()[0]
        # Shown on the terminal once, never in a log line (logs are shipped and kept).
        logged = [line for line in out if line.startswith("{")]
        assert any("created development admin" in line for line in logged)
        assert not any(password in line for line in logged)
        me = await client.get(
            f"{API}/me", headers=await bearer_for(client, "admin@mercato.local", password)
        )
        assert me.json()["roles"] == ["admin"]
    async with running(auth_app(tmp_path, admin_email="", admin_password="")):
        assert "with password" not in capsys.readouterr().out


async def test_production_without_an_admin_creates_none(tmp_path: Path) -> None:
    app = auth_app(
        tmp_path,
        env="production",
        admin_email="",
        admin_password="",
        client_secret="a-real-secret-of-some-length",
        signing_key_passphrase="a-real-passphrase-of-some-length",
        password_memory_kib=19_456,
    )
    async with running(app) as client:
        response = await client.post(
            f"{API}/login", json={"email": "admin@mercato.local", "password": "whatever"}
        )
        problem(response, 401)


async def test_create_admin_creates_then_promotes_and_sets_the_password(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path)
    await create_admin(settings, "Boss@Example.com", "Fr3sh-passphrase")
    async with running(auth_app(tmp_path)) as client:
        await register(client, email="ann@example.com")
        boss = await bearer_for(client, "boss@example.com", "Fr3sh-passphrase")
        assert (await client.get(f"{API}/me", headers=boss)).json()["roles"] == ["admin"]
    await create_admin(settings, "ann@example.com", "N3w-passphrase")
    async with running(auth_app(tmp_path)) as client:
        problem(await login(client, "ann@example.com", PASSWORD), 401)
        ann = await bearer_for(client, "ann@example.com", "N3w-passphrase")
        assert (await client.get(f"{API}/me", headers=ann)).json()["roles"] == [
            "admin",
            "customer",
        ]


@pytest.mark.parametrize(
    ("email", "password"), [("not an email", "Fr3sh-passphrase"), ("boss@example.com", "short")]
)
async def test_create_admin_refuses_bad_input(tmp_path: Path, email: str, password: str) -> None:
    with pytest.raises(ValueError):
        await create_admin(auth_settings(tmp_path), email, password)


async def test_configured_admin_promotes_an_existing_account(tmp_path: Path) -> None:
    async with running(auth_app(tmp_path, admin_email="", admin_password="")) as client:
        await register(client, email=ADMIN_EMAIL)
    app = auth_app(tmp_path)
    async with running(app) as client:
        admin = await bearer_for(client, ADMIN_EMAIL, PASSWORD)  # the password is kept
        assert (await client.get(f"{API}/me", headers=admin)).json()["roles"] == [
            "admin",
            "customer",
        ]
    assert len(await outbox(app, "user.roles_changed")) == 1


async def test_openapi_documents_every_route(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert paths >= {
        f"{API}/register",
        f"{API}/login",
        f"{API}/refresh",
        f"{API}/logout",
        f"{API}/me",
        f"{API}/token",
        f"{API}/users/{{user_id}}/roles",
        f"{API}/keys/rotate",
        "/.well-known/jwks.json",
    }


async def test_the_document_states_the_password_policy(client: httpx.AsyncClient) -> None:
    """Clients generated from the document ask for what the policy accepts."""
    schemas = (await client.get(f"{API}/openapi.json")).json()["components"]["schemas"]
    new = schemas["RegisterIn"]["properties"]["password"]
    assert new["minLength"] == MIN_LENGTH
    assert "common password" in new["description"]
    assert schemas["LoginIn"]["properties"]["password"]["minLength"] == 1  # any old password


BODY_ROUTES = [
    ("POST", f"{API}/register"),
    ("POST", f"{API}/login"),
    ("POST", f"{API}/refresh"),
    ("POST", f"{API}/token"),
    ("PUT", f"{API}/users/some-id/roles"),
]


@pytest.mark.parametrize(("method", "url"), BODY_ROUTES)
async def test_every_body_is_checked(client: httpx.AsyncClient, method: str, url: str) -> None:
    admin = await bearer_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    json_type = {"content-type": "application/json", **admin}
    malformed = await client.request(method, url, content=b'{"a": ', headers=json_type)
    problem(malformed, 400)
    form = await client.request(method, url, content=b"a=1", headers={"content-type": "text/plain"})
    problem(form, 415)
    huge = await client.request(method, url, content=b" " * 1_100_000, headers=json_type)
    problem(huge, 413)
    schema = await client.request(method, url, json={"unexpected": True}, headers=admin)
    assert fields(problem(schema, 422))
