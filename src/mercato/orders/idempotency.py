"""Idempotency keys of checkout: what makes two requests "the same".

A retried `POST /api/orders` carries the same `Idempotency-Key`; its body is
reduced to a fingerprint (a SHA-256 of canonical JSON) kept with the order, so
that a replay with the same body answers the first order again and a reuse of
the key for another body is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from mercato.chassis.errors import BadRequest

__all__ = ["MAX_KEY_LENGTH", "fingerprint", "require_key"]

MAX_KEY_LENGTH = 200


def fingerprint(body: Mapping[str, Any]) -> str:
    """A stable hex digest of a JSON body: key order and whitespace do not matter."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def require_key(key: str | None) -> str:
    """The stripped idempotency key; 400 when it is missing, blank or too long."""
    value = (key or "").strip()
    if not value:
        raise BadRequest("Send an Idempotency-Key header to place an order.")
    if len(value) > MAX_KEY_LENGTH or not value.isprintable():
        raise BadRequest(f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable chars.")
    return value
