"""Service tests of auth's tokens: verification, JWKS, key rotation, client credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from tests.support.apps import running
from tests.support.auth import (
    ADMIN,
    API,
    JWKS,
    auth_app,
    bearer,
    fields,
    keys_of,
    problem,
    register,
    tokens_for,
)

CLIENTS = "users:users-secret-1234,gateway:gateway-secret-5678"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return auth_app(tmp_path, clients=CLIENTS)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        yield client


async def admin_tokens(client: httpx.AsyncClient) -> dict[str, Any]:
    return await tokens_for(client, **ADMIN)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def mint(app: FastAPI, claims: dict[str, Any], **changes: Any) -> str:
    """A token signed with auth's own active key, with some claims changed."""
    key = keys_of(app).active
    payload = {**claims, "jti": uuid.uuid4().hex, **changes}
    return jwt.encode(payload, key.private_key, algorithm="RS256", headers={"kid": key.kid})


async def assert_refused(client: httpx.AsyncClient, token: str) -> str:
    detail: str = problem(await client.get(f"{API}/me", headers=bearer(token)), 401)["detail"]
    return detail


async def test_a_valid_token_is_accepted(app: FastAPI, client: httpx.AsyncClient) -> None:
    claims = claims_of((await admin_tokens(client))["access_token"])
    response = await client.get(f"{API}/me", headers=bearer(mint(app, claims)))
    assert response.status_code == 200


async def test_a_tampered_signature_is_refused(client: httpx.AsyncClient) -> None:
    token = (await admin_tokens(client))["access_token"]
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    await assert_refused(client, f"{head}.{payload}.{flipped}")


async def test_a_tampered_payload_is_refused(client: httpx.AsyncClient) -> None:
    token = (await admin_tokens(client))["access_token"]
    head, _, signature = token.split(".")
    claims = {**claims_of(token), "roles": ["admin", "customer"]}
    await assert_refused(client, f"{head}.{b64(orjson.dumps(claims))}.{signature}")


async def test_an_expired_token_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    claims = claims_of((await admin_tokens(client))["access_token"])
    past = int(time.time()) - 120
    detail = await assert_refused(client, mint(app, claims, iat=past - 900, exp=past))
    assert "expired" in detail


@pytest.mark.parametrize("changes", [{"aud": "catalog"}, {"iss": "someone-else"}])
async def test_a_token_for_elsewhere_is_refused(
    app: FastAPI, client: httpx.AsyncClient, changes: dict[str, Any]
) -> None:
    claims = claims_of((await admin_tokens(client))["access_token"])
    await assert_refused(client, mint(app, claims, **changes))


@pytest.mark.parametrize("missing", ["exp", "sub", "jti", "iss", "aud"])
async def test_a_token_without_a_required_claim_is_refused(
    app: FastAPI, client: httpx.AsyncClient, missing: str
) -> None:
    claims = claims_of((await admin_tokens(client))["access_token"])
    key = keys_of(app).active
    payload = {k: v for k, v in claims.items() if k != missing}
    token = jwt.encode(payload, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    await assert_refused(client, token)


async def test_alg_none_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    claims = claims_of((await admin_tokens(client))["access_token"])
    header = {"alg": "none", "typ": "JWT", "kid": keys_of(app).active.kid}
    token = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(claims))}."
    await assert_refused(client, token)


async def test_hs256_signed_with_the_public_key_is_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    claims = claims_of((await admin_tokens(client))["access_token"])
    key = keys_of(app).active
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(claims))}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    await assert_refused(client, f"{signing_input}.{b64(signature)}")


async def test_an_unknown_key_id_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    claims = claims_of((await admin_tokens(client))["access_token"])
    key = keys_of(app).active
    token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": "forged"})
    await assert_refused(client, token)


async def test_jwks_publishes_the_active_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get(JWKS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert len(keys) == 1
    jwk = keys[0]
    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["e"]) == ("RSA", "RS256", "sig", "AQAB")
    assert jwk["kid"] == keys_of(app).active.kid
    token = (await admin_tokens(client))["access_token"]
    public_key = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="mercato")
    assert claims["roles"] == ["admin"]


async def test_rotation_keeps_old_tokens_valid(client: httpx.AsyncClient) -> None:
    old = (await admin_tokens(client))["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    response = await client.post(f"{API}/keys/rotate", headers=bearer(old))
    assert response.status_code == 201, response.text
    new_kid = response.json()["kid"]
    assert new_kid != old_kid
    assert (await client.get(f"{API}/me", headers=bearer(old))).status_code == 200
    new = (await admin_tokens(client))["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    assert (await client.get(f"{API}/me", headers=bearer(new))).status_code == 200
    published = {key["kid"] for key in (await client.get(JWKS)).json()["keys"]}
    assert published == {old_kid, new_kid}


async def test_retired_keys_leave_the_jwks_after_retention(tmp_path: Path) -> None:
    app = auth_app(tmp_path, key_retention_seconds=900)
    async with running(app) as client:
        old_kid = keys_of(app).active.kid
        admin = bearer((await admin_tokens(client))["access_token"])
        new_kid = (await client.post(f"{API}/keys/rotate", headers=admin)).json()["kid"]
        keys = keys_of(app)
        keys.clock = lambda: time.time() + 901
        assert await keys.prune() == 1
        await keys.refresh()
        assert [key["kid"] for key in keys.jwks()["keys"]] == [new_kid]
        assert old_kid != new_kid


async def test_rotation_needs_an_admin(client: httpx.AsyncClient) -> None:
    await register(client)
    customer = bearer(await tokens_for(client))
    assert (await client.post(f"{API}/keys/rotate", headers=customer)).status_code == 403
    assert (await client.post(f"{API}/keys/rotate")).status_code == 401


def client_credentials(**changes: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": "users",
        "client_secret": "users-secret-1234",
        "audience": "catalog",
        **changes,
    }


async def test_client_credentials_give_a_service_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post(f"{API}/token", json=client_credentials())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    jwk = (await client.get(JWKS)).json()["keys"][0]
    claims = jwt.decode(
        body["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience="catalog"
    )
    assert claims["sub"] == "service:users"
    assert claims["roles"] == ["service"]
    assert claims["typ"] == "service"
    assert claims["iss"] == "mercato"
    assert {"jti", "iat", "exp"} <= set(claims)


@pytest.mark.parametrize(
    "changes",
    [
        {"client_secret": "users-secret-1235"},
        {"client_secret": "gateway-secret-5678"},
        {"client_id": "orders"},
    ],
)
async def test_bad_client_credentials_are_refused(
    client: httpx.AsyncClient, changes: dict[str, str]
) -> None:
    problem(await client.post(f"{API}/token", json=client_credentials(**changes)), 401)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grant_type": "password"}, "grant_type"),
        ({"audience": "Not A Service"}, "audience"),
        ({"audience": "mercato"}, "audience"),
    ],
)
async def test_bad_token_requests_are_unprocessable(
    client: httpx.AsyncClient, changes: dict[str, str], field: str
) -> None:
    body = problem(await client.post(f"{API}/token", json=client_credentials(**changes)), 422)
    assert fields(body) == [field]


async def test_a_service_token_for_auth_has_no_account_and_no_admin_rights(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"{API}/token", json=client_credentials(audience="auth"))
    service = bearer(response.json()["access_token"])
    assert (await client.get(f"{API}/me", headers=service)).status_code == 403
    assert (await client.post(f"{API}/keys/rotate", headers=service)).status_code == 403
    catalog = await client.post(f"{API}/token", json=client_credentials())
    refused = await client.get(f"{API}/me", headers=bearer(catalog.json()["access_token"]))
    assert refused.status_code == 401
