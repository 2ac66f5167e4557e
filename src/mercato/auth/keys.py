"""The signing keys: RSA keys in auth's database, parsed once and kept in memory.

`KeyStore` is auth's `KeySource`: it verifies tokens with its own public keys (no
HTTP call to itself) and signs with the active key, the newest one not retired.
Every replica reads the same table: a `kid` it does not know makes it reload (at
most once per `min_reload_interval`, so forged kids cannot hammer the database),
and a periodic `refresh` picks up a rotation made by another replica. A retired key
stays published in the JWKS for `retention` seconds (the lifetime of the tokens it
signed, plus a margin) and is then deleted.

Only new key ids are parsed on a reload, so no request ever parses a PEM.

With a passphrase every private key is stored encrypted (PKCS#8 with the best
encryption `cryptography` offers): each key `rotate` makes, the first one included,
and at `start` any key an earlier run stored in the clear (before a passphrase was
set) is encrypted in place.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import delete, or_, select, update

from mercato.auth.models import SigningKey
from mercato.chassis.data.database import Database

__all__ = ["ENCRYPTED_PEM", "KEY_SIZE", "KeyStore", "LoadedKey", "new_rsa_key", "thumbprint"]

log = logging.getLogger("mercato.auth.keys")
KEY_SIZE = 2048
ENCRYPTED_PEM = "-----BEGIN ENCRYPTED PRIVATE KEY-----"


@dataclass(frozen=True, slots=True)
class LoadedKey:
    """A parsed signing key and its public JWK."""

    kid: str
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    jwk: dict[str, Any]
    created_at: float
    retired_at: float | None


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh RSA signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 JWK thumbprint of `public_key`, used as its `kid`."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = orjson.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]})
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")


def _public_jwk(kid: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    # Only the members verifiers need: `use` and `key_ops` should not appear together.
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {"kty": "RSA", "n": jwk["n"], "e": jwk["e"], "kid": kid, "alg": "RS256", "use": "sig"}


class KeyStore:
    """Auth's signing keys, shared by every replica through the database."""

    def __init__(
        self,
        db: Database,
        *,
        retention: float,
        passphrase: str = "",
        min_reload_interval: float = 0.5,
        clock: Callable[[], float] = time.time,
        generate: Callable[[], rsa.RSAPrivateKey] = new_rsa_key,
    ) -> None:
        self.db = db
        self.generate = generate
        self.retention = retention
        self.passphrase = passphrase.encode() or None
        self.min_reload_interval = min_reload_interval
        self.clock = clock
        self._keys: dict[str, LoadedKey] = {}
        self._active: LoadedKey | None = None
        self._loaded_at = float("-inf")
        self._missed_at = float("-inf")
        self._generated: dict[str, rsa.RSAPrivateKey] = {}
        self._lock = asyncio.Lock()

    @property
    def active(self) -> LoadedKey:
        """The key that signs new tokens."""
        if self._active is None:
            raise RuntimeError("the key store has not been started")
        return self._active

    async def key(self, kid: str) -> Any:
        """The public key for `kid`, reloading from the database when it is unknown."""
        found = self._keys.get(kid)
        if found is None:
            async with self._lock:
                now = time.monotonic()
                if kid not in self._keys and now - self._missed_at >= self.min_reload_interval:
                    self._missed_at = now
                    await self._reload()
            found = self._keys.get(kid)
        return None if found is None else found.public_key

    async def start(self) -> None:
        """Load the keys, creating the first one when there is no active key."""
        if self.passphrase:
            await self._encrypt_stored_keys()
        await self.refresh()
        if self._active is None:
            await self.rotate()

    async def refresh(self, max_age: float = 0.0) -> None:
        """Reload the keys from the database if they are older than `max_age` seconds."""
        async with self._lock:
            if self._stale(max_age):
                await self._reload()

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: the active key and retired keys still within retention."""
        return {"keys": [key.jwk for key in self._keys.values()]}

    async def rotate(self) -> LoadedKey:
        """Retire the active key(s) and make a new one active."""
        private_key = await asyncio.to_thread(self.generate)
        kid = thumbprint(private_key.public_key())
        pem = self._serialize(private_key)
        now = self.clock()
        async with self.db.transaction() as session:
            await session.execute(
                update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
            )
            session.add(SigningKey(kid=kid, private_pem=pem, created_at=now))
        log.info("new signing key %s is active", kid)
        self._generated[kid] = private_key
        async with self._lock:
            await self._reload()
        return self._keys[kid]

    async def prune(self) -> int:
        """Delete keys retired longer ago than the retention; returns how many."""
        cutoff = self.clock() - self.retention
        async with self.db.transaction() as session:
            result = await session.execute(delete(SigningKey).where(SigningKey.retired_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    def _serialize(self, private_key: rsa.RSAPrivateKey) -> str:
        """The PEM to store: encrypted with the passphrase whenever there is one."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self.passphrase)
            if self.passphrase
            else serialization.NoEncryption()
        )
        return private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode()

    async def _encrypt_stored_keys(self) -> int:
        """Encrypt the keys stored in the clear by a run without a passphrase; how many."""
        done = 0
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(SigningKey).where(SigningKey.private_pem.not_like(f"{ENCRYPTED_PEM}%"))
                )
            ).scalars()
            for row in rows:
                try:
                    key = serialization.load_pem_private_key(row.private_pem.encode(), None)
                except (TypeError, ValueError) as exc:
                    log.error("signing key %s cannot be read to encrypt it: %s", row.kid, exc)
                    continue
                if isinstance(key, rsa.RSAPrivateKey):
                    row.private_pem = self._serialize(key)
                    done += 1
        if done:
            log.info("encrypted %d signing key(s) stored in the clear", done)
        return done

    def _stale(self, max_age: float) -> bool:
        return time.monotonic() - self._loaded_at >= max_age

    async def _reload(self) -> None:
        cutoff = self.clock() - self.retention
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(SigningKey).where(
                        or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff)
                    )
                )
            ).scalars()
            keys: dict[str, LoadedKey] = {}
            for row in rows:
                loaded = self._parse(row)
                if loaded is not None:
                    keys[row.kid] = loaded
        self._keys = keys
        self._loaded_at = time.monotonic()
        current = [k for k in keys.values() if k.retired_at is None]
        self._active = max(current, key=lambda k: (k.created_at, k.kid), default=None)

    def _parse(self, row: SigningKey) -> LoadedKey | None:
        known = self._keys.get(row.kid)
        if known is not None:
            if known.retired_at == row.retired_at:
                return known
            return LoadedKey(
                known.kid,
                known.private_key,
                known.public_key,
                known.jwk,
                known.created_at,
                row.retired_at,
            )
        try:
            # The key was generated by `rotate` and comes from auth's own table; the
            # consistency check (over 100 ms for RSA) guards against keys from strangers.
            private_key = self._generated.pop(row.kid, None) or serialization.load_pem_private_key(
                row.private_pem.encode(),
                password=self.passphrase,
                unsafe_skip_rsa_key_validation=True,
            )
        except (TypeError, ValueError) as exc:
            log.error("signing key %s cannot be loaded (check the passphrase): %s", row.kid, exc)
            return None
        if not isinstance(private_key, rsa.RSAPrivateKey):
            log.error("signing key %s is not an RSA key", row.kid)
            return None
        public_key = private_key.public_key()
        return LoadedKey(
            row.kid,
            private_key,
            public_key,
            _public_jwk(row.kid, public_key),
            row.created_at,
            row.retired_at,
        )
