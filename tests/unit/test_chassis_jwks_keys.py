"""`JwksKeySource`: an unknown key id when auth's keys cannot be fetched is a 503, not a 401."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from mercato.chassis.security.tokens import JwksKeySource
from mercato.chassis.web.errors import ServiceUnavailable


def _jwks(*kids: str) -> bytes:
    keys = []
    for kid in kids:
        public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        jwk = json.loads(RSAAlgorithm.to_jwk(public))
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    return json.dumps({"keys": keys}).encode()


class Auth:
    """auth's JWKS endpoint: it answers `document`, or fails while `down`."""

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.down = False
        self.calls = 0

    async def __call__(self, url: str) -> bytes:
        self.calls += 1
        if self.down:
            raise TimeoutError("auth took too long")
        return self.document


async def test_a_key_that_could_not_be_fetched_is_a_503_to_retry() -> None:
    auth = Auth(_jwks("k1"))
    keys = JwksKeySource("http://auth/jwks", auth, min_refresh_interval=0)
    assert await keys.key("k1") is not None
    auth.document, auth.down = _jwks("k1", "k2"), True  # auth rotated, then slowed down

    with pytest.raises(ServiceUnavailable) as refused:
        await keys.key("k2")

    assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "1"
    assert await keys.key("k1") is not None  # the keys it had still verify
    auth.down = False
    assert await keys.key("k2") is not None  # fetched once auth answers again


async def test_a_key_auth_does_not_have_is_none_once_its_keys_were_fetched() -> None:
    auth = Auth(_jwks("k1"))
    keys = JwksKeySource("http://auth/jwks", auth, min_refresh_interval=0)
    assert await keys.key("forged") is None  # a 401 for the caller


async def test_unknown_kids_do_not_hammer_auth_while_it_is_away() -> None:
    auth = Auth(_jwks("k1"))
    auth.down = True
    keys = JwksKeySource("http://auth/jwks", auth, min_refresh_interval=60)
    for _ in range(20):
        with pytest.raises(ServiceUnavailable):
            await keys.key("forged")
    assert auth.calls == 1  # one fetch per interval, whatever is asked meanwhile
