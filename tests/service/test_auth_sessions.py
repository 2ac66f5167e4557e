"""Service tests of auth's sessions: login, refresh rotation, logout (throttling:
test_auth_throttle)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.support.apps import running
from tests.support.auth import (
    ADMIN,
    API,
    EMAIL,
    auth_app,
    bearer,
    login,
    outbox,
    problem,
    register,
)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return auth_app(tmp_path)  # throttling: test_auth_throttle


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        await register(client)
        yield client


def auth(tokens: dict[str, Any]) -> dict[str, str]:
    return bearer(tokens)


async def revoked_events(app: FastAPI) -> list[dict[str, Any]]:
    return [event["data"] for event in await outbox(app, "auth.token_revoked")]


async def test_login_answers_a_token_pair(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await login(client, email="  ANN@example.com")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] == app.state.runtime.verifier.keys.active.kid
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "mercato" and claims["aud"] == "mercato"
    assert claims["roles"] == ["customer"]
    assert claims["email"] == EMAIL and claims["name"] == "Ann"
    assert len(claims["jti"]) == 32
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 5
    me = await client.get(f"{API}/me", headers=auth(body))
    assert me.json()["id"] == claims["sub"]


async def test_bad_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    wrong = problem(await login(client, password="Wr0ng-password"), 401)
    unknown = problem(await login(client, email="bob@example.com"), 401)
    assert wrong["detail"] == unknown["detail"]


@pytest.mark.parametrize(
    "body", [{}, {"email": EMAIL}, {"email": "no-at-sign", "password": "x"}, ["list"]]
)
async def test_login_refuses_bad_input(client: httpx.AsyncClient, body: Any) -> None:
    problem(await client.post(f"{API}/login", json=body), 422)


async def test_login_refuses_malformed_json_and_other_media(client: httpx.AsyncClient) -> None:
    raw = await client.post(
        f"{API}/login", content=b"{", headers={"content-type": "application/json"}
    )
    problem(raw, 400)
    text = await client.post(
        f"{API}/login", content=b"email=a", headers={"content-type": "text/plain"}
    )
    problem(text, 415)


async def test_refresh_rotates_the_token(client: httpx.AsyncClient) -> None:
    first = (await login(client)).json()
    response = await client.post(f"{API}/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await client.get(f"{API}/me", headers=auth(second))).status_code == 200
    third = await client.post(f"{API}/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200


async def test_reusing_a_refresh_token_revokes_its_family(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = (await login(client)).json()
    other_session = (await login(client)).json()
    second = (
        await client.post(f"{API}/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    reuse = await client.post(f"{API}/refresh", json={"refresh_token": first["refresh_token"]})
    problem(reuse, 401)
    # The thief's and the owner's newer tokens of that family are dead too ...
    after = await client.post(f"{API}/refresh", json={"refresh_token": second["refresh_token"]})
    problem(after, 401)
    problem(await client.get(f"{API}/me", headers=auth(second)), 401)
    problem(await client.get(f"{API}/me", headers=auth(first)), 401)
    # ... and every service hears of both access tokens of the family.
    claims = [
        jwt.decode(t["access_token"], options={"verify_signature": False}) for t in (first, second)
    ]
    events = await revoked_events(app)
    assert {e["jti"] for e in events} == {c["jti"] for c in claims}
    assert {e["reason"] for e in events} == {"refresh_reuse"}
    assert {e["expires_at"] for e in events} == {float(c["exp"]) for c in claims}
    # Another login of the same account is not affected.
    assert (await client.get(f"{API}/me", headers=auth(other_session))).status_code == 200


@pytest.mark.parametrize("token", ["unknown-token", "x" * 43])
async def test_refresh_refuses_unknown_tokens(client: httpx.AsyncClient, token: str) -> None:
    problem(await client.post(f"{API}/refresh", json={"refresh_token": token}), 401)


async def test_refresh_refuses_bad_input(client: httpx.AsyncClient) -> None:
    problem(await client.post(f"{API}/refresh", json={}), 422)
    problem(await client.post(f"{API}/refresh", json={"refresh_token": ""}), 422)
    raw = await client.post(
        f"{API}/refresh", content=b"[", headers={"content-type": "application/json"}
    )
    problem(raw, 400)


async def test_expired_refresh_token_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    tokens = (await login(client)).json()
    later = time.time() + 30 * 86_400 + 1
    app.state.runtime.context.clock = lambda: later
    response = await client.post(f"{API}/refresh", json={"refresh_token": tokens["refresh_token"]})
    problem(response, 401)


async def test_logout_revokes_the_token_and_its_family(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    tokens = (await login(client)).json()
    response = await client.post(f"{API}/logout", headers=auth(tokens))
    assert response.status_code == 204
    assert response.content == b""
    problem(await client.get(f"{API}/me", headers=auth(tokens)), 401)
    refresh = await client.post(f"{API}/refresh", json={"refresh_token": tokens["refresh_token"]})
    problem(refresh, 401)
    problem(await client.post(f"{API}/logout", headers=auth(tokens)), 401)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    events = await revoked_events(app)
    assert events == [
        {
            "jti": claims["jti"],
            "user_id": claims["sub"],
            "expires_at": float(claims["exp"]),
            "reason": "logout",
        }
    ]


async def test_logout_needs_a_token(client: httpx.AsyncClient) -> None:
    problem(await client.post(f"{API}/logout"), 401)
    problem(await client.post(f"{API}/logout", headers={"Authorization": "Bearer x.y.z"}), 401)


async def test_a_replica_refuses_a_token_revoked_by_another(tmp_path: Path) -> None:
    first, second = auth_app(tmp_path), auth_app(tmp_path)
    async with running(first) as one, running(second) as two:
        tokens = (await login(one, **ADMIN)).json()
        assert (await two.get(f"{API}/me", headers=auth(tokens))).status_code == 200
        assert (await one.post(f"{API}/logout", headers=auth(tokens))).status_code == 204
        problem(await two.get(f"{API}/me", headers=auth(tokens)), 401)


async def test_a_replica_knows_a_key_rotated_by_another(tmp_path: Path) -> None:
    first, second = auth_app(tmp_path), auth_app(tmp_path)
    async with running(first) as one, running(second) as two:
        admin = auth((await login(one, **ADMIN)).json())
        rotated = await one.post(f"{API}/keys/rotate", headers=admin)
        assert rotated.status_code == 201
        tokens = (await login(one, **ADMIN)).json()
        assert jwt.get_unverified_header(tokens["access_token"])["kid"] == rotated.json()["kid"]
        assert (await two.get(f"{API}/me", headers=auth(tokens))).status_code == 200
        jwks = (await two.get("/.well-known/jwks.json")).json()
        assert rotated.json()["kid"] in {key["kid"] for key in jwks["keys"]}
