"""Service tests of token verification at the gateway's edge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette

from tests.support.gateway import Upstream, gateway, upstreams
from tests.support.tokens import TokenFactory

ME = "/api/users/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"


@pytest.fixture
async def edge(
    tokens: TokenFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette, Upstream]]:
    async with upstreams("u1") as [users], gateway(tokens, {"users": [users]}) as (http, app):
        yield http, app, users


async def test_verified_identity_is_forwarded(
    edge: tuple[httpx.AsyncClient, Starlette, Upstream], tokens: TokenFactory
) -> None:
    http, _, _ = edge
    token = tokens.token("user-1", ["customer", "admin"])
    response = await http.get(
        ME, headers={"Authorization": f"Bearer {token}", "X-Mercato-User-Id": "someone-else"}
    )
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert seen["authorization"] == f"Bearer {token}"
    assert seen["x-mercato-user-id"] == "user-1"
    assert seen["x-mercato-roles"] == "admin,customer"


async def test_request_without_token_passes_through(
    edge: tuple[httpx.AsyncClient, Starlette, Upstream],
) -> None:
    http, _, _ = edge
    response = await http.get(ME, headers={"X-Mercato-Roles": "admin"})
    assert response.status_code == 200  # whether it needs a token is the service's call
    seen = response.json()["headers"]
    assert "authorization" not in seen
    assert "x-mercato-roles" not in seen


def _bad_tokens(tokens: TokenFactory) -> dict[str, str]:
    now = int(time.time())
    claims = tokens.claims("user-1", ["customer"])
    good = tokens.token("user-1")
    head, _, signature = good.split(".")
    forged = _b64(orjson.dumps({**claims, "roles": ["admin"]}))
    public_pem = tokens.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_signing_input = _unsigned({"alg": "HS256", "kid": tokens.kid, "typ": "JWT"}, claims)
    hs_signature = hmac.new(public_pem, hs_signing_input.encode(), hashlib.sha256).digest()
    return {
        "malformed": "not-a-jwt",
        "expired": tokens.token("user-1", exp=now - 3600, iat=now - 7200),
        "tampered": f"{head}.{forged}.{signature}",
        "wrong audience": tokens.token("user-1", aud="somebody-else"),
        "wrong issuer": tokens.token("user-1", iss="evil"),
        "alg none": _unsigned({"alg": "none", "kid": tokens.kid}, claims) + ".",
        "HS256 with the public key": f"{hs_signing_input}.{_b64(hs_signature)}",
        "unknown key": _unsigned({"alg": "RS256", "kid": "other"}, claims) + "." + signature,
    }


@pytest.mark.parametrize(
    "kind",
    [
        "malformed",
        "expired",
        "tampered",
        "wrong audience",
        "wrong issuer",
        "alg none",
        "HS256 with the public key",
        "unknown key",
    ],
)
async def test_bad_token_is_401_and_never_forwarded(
    edge: tuple[httpx.AsyncClient, Starlette, Upstream], tokens: TokenFactory, kind: str
) -> None:
    http, _, users = edge
    token = _bad_tokens(tokens)[kind]
    response = await http.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, kind
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401
    assert users.hits == []


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "", "Bearer    "])
async def test_authorization_that_is_not_a_bearer_token_is_401(
    edge: tuple[httpx.AsyncClient, Starlette, Upstream], value: str
) -> None:
    http, _, users = edge
    response = await http.get(ME, headers={"Authorization": value})
    assert response.status_code == 401
    assert users.hits == []


async def test_revoked_token_is_401(
    edge: tuple[httpx.AsyncClient, Starlette, Upstream], tokens: TokenFactory
) -> None:
    http, app, users = edge
    claims = tokens.claims("user-1", ["customer"])
    token = tokens.token("user-1", jti=claims["jti"])
    auth = {"Authorization": f"Bearer {token}"}
    assert (await http.get(ME, headers=auth)).status_code == 200
    app.state.runtime.revocations.revoke(claims["jti"], claims["exp"])
    response = await http.get(ME, headers=auth)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert len(users.hits) == 1
