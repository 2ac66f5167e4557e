"""Helpers of the auth service tests, on SQLite and on PostgreSQL.

`auth_app` builds the auth app on a SQLite file in a test's directory with cheap
argon2 parameters and a pool of pre-generated RSA keys (generating one costs up
to a few hundred milliseconds), and without a broker: events stay in the outbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy import select

from mercato.auth.app import create_app
from mercato.auth.keys import KeyStore, new_rsa_key
from mercato.auth.models import EVENTS
from mercato.auth.settings import AuthSettings, load_settings

API = "/api/auth"
JWKS = "/.well-known/jwks.json"
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "Adm1n-passphrase"
ADMIN = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
EMAIL = "ann@example.com"
PASSWORD = "Corr3ct-horse"
TEST_SETTINGS: dict[str, Any] = {
    "broker_url": "",
    "password_time_cost": 1,
    "password_memory_kib": 64,
    "password_parallelism": 1,
    "admin_email": ADMIN_EMAIL,
    "admin_password": ADMIN_PASSWORD,
}


class KeyPool:
    """Hands out pre-generated RSA keys in order; each app gets its own pool."""

    keys: ClassVar[list[rsa.RSAPrivateKey]] = []

    def __init__(self) -> None:
        self.used = 0

    def __call__(self) -> rsa.RSAPrivateKey:
        if self.used == len(self.keys):
            self.keys.append(new_rsa_key())
        self.used += 1
        return self.keys[self.used - 1]


def auth_settings(tmp_path: Path, **overrides: Any) -> AuthSettings:
    """Test settings (ignoring the environment) with `overrides` on top."""
    return load_settings({}, data_dir=tmp_path, **{**TEST_SETTINGS, **overrides})


def keys_of(app: FastAPI) -> KeyStore:
    """The app's key store."""
    keys = app.state.runtime.verifier.keys
    assert isinstance(keys, KeyStore)
    return keys


def auth_app(tmp_path: Path, **overrides: Any) -> FastAPI:
    """The auth app for a test."""
    app = create_app(auth_settings(tmp_path, **overrides))
    keys_of(app).generate = KeyPool()
    return app


def bearer(tokens: dict[str, Any] | str) -> dict[str, str]:
    """An Authorization header for an access token (or a login answer)."""
    token = tokens if isinstance(tokens, str) else tokens["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def login(
    client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    """POST /login."""
    return await client.post(
        f"{API}/login", json={"email": email, "password": password}, headers=headers
    )


async def tokens_for(
    client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD
) -> dict[str, Any]:
    """A successful login's answer."""
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def register(
    client: httpx.AsyncClient, email: str = EMAIL, name: str = "Ann", password: str = PASSWORD
) -> dict[str, Any]:
    """A successful registration's answer."""
    response = await client.post(
        f"{API}/register", json={"email": email, "password": password, "name": name}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of an error response, checking its status and type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def fields(body: dict[str, Any]) -> list[str]:
    """The fields a problem document names."""
    return [error["field"] for error in body.get("errors", [])]


async def outbox(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    """Envelopes of the events of `event_type` in the app's outbox, oldest first."""
    table = EVENTS.outbox
    query = select(table.c.payload).where(table.c.type == event_type).order_by(table.c.created_at)
    async with app.state.runtime.database.session() as session:
        return [orjson.loads(payload) for (payload,) in await session.execute(query)]
