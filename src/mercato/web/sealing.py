"""A session's tokens, sealed under a key that only the shopper's cookie gives.

The sessions table is keyed by the SHA-256 of the cookie's value, never by the value,
so a copy of the table (a backup, a replica, a leaked dump) opens no session. The
tokens in it would: a refresh token is a sign-in that lasts days. So they are stored
encrypted (AES-256-GCM) under a key derived from the cookie's value with HKDF, a key
the web service itself holds only while that shopper's request is running. There is
no server-side secret to configure, rotate or leak; a lost cookie is a lost session,
as it already was.

The row's id hash is bound in as associated data, so a sealed token copied into
another row does not open there. A value that does not open (a row written before
tokens were sealed, or tampered with) is treated as an ended sign-in.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["PREFIX", "Seal", "Unsealable"]

PREFIX = "s1."  # the format's version: a later one can be told apart from this
_INFO = b"mercato web session tokens v1"
_NONCE = 12


class Unsealable(Exception):
    """A stored value that this seal does not open."""


class Seal:
    """Seals and opens the tokens of the one session whose cookie value made it."""

    __slots__ = ("_aead", "_bound")

    def __init__(self, cookie_value: str, id_hash: str) -> None:
        # The cookie value has 256 random bits: HKDF needs no salt to make a key of it.
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            cookie_value.encode()
        )
        self._aead = AESGCM(key)
        self._bound = id_hash.encode()

    def close(self, token: str) -> str:
        """The sealed form of `token`, to store."""
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, token.encode(), self._bound)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, stored: str) -> str:
        """The token `close` sealed; Unsealable for anything else."""
        if not stored.startswith(PREFIX):
            raise Unsealable("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], self._bound)
        except (ValueError, InvalidTag) as exc:
            raise Unsealable("the value does not open with this session's key") from exc
        return plain.decode()
