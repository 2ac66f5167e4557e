"""Minting tokens: RS256 access tokens for users and services, opaque refresh tokens.

Access tokens carry `kid` in the header and `iss`, `aud`, `sub`, `roles`, `jti`,
`iat`, `exp` as claims (plus `email` and `name` for users, so that the users service
can create a profile on demand, and `typ: "service"` for client-credentials tokens).
Refresh tokens are random and opaque; only their SHA-256 hash is ever stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from mercato.auth.keys import LoadedKey

__all__ = ["IssuedToken", "hash_refresh_token", "mint_access_token", "new_refresh_token"]

ALGORITHM = "RS256"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An encoded access token and the claims needed to track it."""

    token: str
    jti: str
    expires_at: float


def mint_access_token(
    *,
    key: LoadedKey,
    issuer: str,
    audience: str,
    subject: str,
    roles: list[str],
    ttl: int,
    now: float,
    extra: dict[str, Any] | None = None,
) -> IssuedToken:
    """Sign an access token with `key`."""
    jti = uuid.uuid4().hex
    issued_at = int(now)
    expires_at = issued_at + ttl
    claims: dict[str, Any] = {
        **(extra or {}),
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "roles": roles,
        "jti": jti,
        "iat": issued_at,
        "exp": expires_at,
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return IssuedToken(token=token, jti=jti, expires_at=float(expires_at))


def new_refresh_token() -> tuple[str, str]:
    """A new opaque refresh token and the hash to store for it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """The stored form of a refresh token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()
