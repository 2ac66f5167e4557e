"""Unit tests of auth's token minting and key helpers."""

from __future__ import annotations

import base64
import hashlib
import time

import jwt
import pytest

from mercato.auth.keys import LoadedKey, new_rsa_key, thumbprint
from mercato.auth.tokens import hash_refresh_token, mint_access_token, new_refresh_token


@pytest.fixture(scope="module")
def key() -> LoadedKey:
    private_key = new_rsa_key()
    public_key = private_key.public_key()
    return LoadedKey(thumbprint(public_key), private_key, public_key, {}, 0.0, None)


def test_access_token_claims(key: LoadedKey) -> None:
    now = time.time()
    issued = mint_access_token(
        key=key,
        issuer="mercato",
        audience="mercato",
        subject="user-1",
        roles=["customer"],
        ttl=900,
        now=now,
        extra={"email": "ann@example.com", "aud": "ignored", "sub": "ignored"},
    )
    assert jwt.get_unverified_header(issued.token) == {
        "alg": "RS256",
        "typ": "JWT",
        "kid": key.kid,
    }
    claims = jwt.decode(issued.token, key.public_key, algorithms=["RS256"], audience="mercato")
    assert claims == {
        "iss": "mercato",
        "aud": "mercato",
        "sub": "user-1",
        "roles": ["customer"],
        "jti": issued.jti,
        "iat": int(now),
        "exp": int(now) + 900,
        "email": "ann@example.com",
    }
    assert issued.expires_at == int(now) + 900


def test_token_ids_are_unique(key: LoadedKey) -> None:
    ids = {
        mint_access_token(
            key=key,
            issuer="i",
            audience="a",
            subject="s",
            roles=[],
            ttl=60,
            now=time.time(),
        ).jti
        for _ in range(50)
    }
    assert len(ids) == 50


def test_refresh_tokens_are_opaque_and_stored_hashed() -> None:
    token, stored = new_refresh_token()
    assert len(token) >= 43
    assert stored == hashlib.sha256(token.encode()).hexdigest() == hash_refresh_token(token)
    assert new_refresh_token()[0] != token


def test_kid_is_the_rfc_7638_thumbprint(key: LoadedKey) -> None:
    assert len(key.kid) == 43
    assert base64.urlsafe_b64decode(key.kid + "=")
    assert thumbprint(key.public_key) == key.kid
