"""Test helpers shared by every level: a token factory and an in-process app runner."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from mercato.chassis.security import StaticKeySource

ISSUER = "mercato"
AUDIENCE = "mercato"


class TokenFactory:
    """Mints RS256 access tokens the way auth does, with a key tests control."""

    def __init__(self) -> None:
        self.kid = "test-key"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys = StaticKeySource({self.kid: self.private_key.public_key()})

    def claims(self, subject: str, roles: list[str], **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "roles": roles,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 900,
            **extra,
        }

    def token(
        self, subject: str | None = None, roles: list[str] | None = None, **extra: Any
    ) -> str:
        """A valid access token; `extra` overrides or adds claims."""
        claims = self.claims(subject or str(uuid.uuid4()), roles or ["customer"], **extra)
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def headers(
        self, subject: str | None = None, roles: list[str] | None = None, **extra: Any
    ) -> dict[str, str]:
        """An Authorization header with a valid token."""
        return {"Authorization": f"Bearer {self.token(subject, roles, **extra)}"}


@asynccontextmanager
async def running(
    app: FastAPI, tokens: TokenFactory | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run `app`'s lifespan and give an HTTP client talking to it in-process.

    With `tokens`, the app verifies tokens against the test key instead of fetching
    auth's JWKS, which a service test does not run.
    """
    if tokens is not None:
        app.state.runtime.verifier.keys = tokens.keys
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


AppClient = Callable[[FastAPI], Any]
