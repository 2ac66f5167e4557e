"""Access tokens signed the way auth signs them, with a key the tests hold."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from mercato.chassis.security.tokens import StaticKeySource

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
