"""Idempotency keys: a write that a client may send again, done once.

A client that retries a write (checkout, a charge, a refund) sends the same
`Idempotency-Key` header each time. The service keeps, next to what the first request
made, its key (unique, in the service's own table: every service owns its storage)
and its fingerprint. A later request with the key is then one of three cases:

    replay       the same request: answer what the first one made, do nothing again
    conflict     another request under this key: 422 naming the header
    in progress  the first request is still running: 409, with `Retry-After`

What the services share is here:
- `IdempotencyKey`, the FastAPI dependency reading the header: 400 when it is missing
  or is not 1 to `MAX_KEY_LENGTH` printable characters (`KEY_PATTERN`, which the
  document states too: `key_required`);
- `fingerprint`, the stable digest of what makes two requests "the same";
- `check_replay`, the decision on a stored request, and `in_progress`, the 409 of a
  service whose "still running" is found by an atomic claim rather than read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header

from mercato.chassis.client.service_client import IDEMPOTENCY_KEY
from mercato.chassis.web.errors import BadRequest, Conflict, Unprocessable, field_error
from mercato.chassis.web.openapi import required_header

__all__ = [
    "IDEMPOTENCY_KEY",
    "KEY_PATTERN",
    "MAX_KEY_LENGTH",
    "IdempotencyKey",
    "check_key",
    "check_replay",
    "fingerprint",
    "idempotency_key",
    "in_progress",
    "key_required",
    "reused_key",
]

# Payments took 255 characters, orders 200: the longer, so that no key a client
# could use before is refused now (docs/decisions.md).
MAX_KEY_LENGTH = 255
# The characters `str.isprintable` accepts in a header's text (Latin-1, as Starlette
# decodes it): visible ASCII and space, and Latin-1's visible characters beyond it
# (not NBSP, not the soft hyphen). Orders always took these; RFC 9110 asks a
# recipient to treat such octets as opaque data rather than refuse them.
KEY_PATTERN = r"^[\x20-\x7e\xa1-\xac\xae-\xff]+$"
_KEY = re.compile(KEY_PATTERN)


def check_key(value: str | None) -> str:
    """The stripped key; 400 when it is missing, blank, too long or not printable."""
    key = (value or "").strip()  # as both services did: Python's whitespace, NEL included
    if not key:
        raise BadRequest(f"This request needs an {IDEMPOTENCY_KEY} header.")
    if len(key) > MAX_KEY_LENGTH or _KEY.fullmatch(key) is None:
        raise BadRequest(
            f"The {IDEMPOTENCY_KEY} must be 1 to {MAX_KEY_LENGTH} printable characters."
        )
    return key


async def idempotency_key(
    key: Annotated[str | None, Header(alias=IDEMPOTENCY_KEY, include_in_schema=False)] = None,
) -> str:
    """FastAPI dependency: the request's Idempotency-Key; 400 when absent or unusable.

    Read as optional and left out of the document, so that a missing key is this 400
    rather than FastAPI's 422; `key_required` documents it as required.
    """
    return check_key(key)


IdempotencyKey = Annotated[str, Depends(idempotency_key)]


def key_required(description: str) -> dict[str, Any]:
    """The `openapi_extra` of a route that takes `IdempotencyKey`."""
    return required_header(
        IDEMPOTENCY_KEY, description, max_length=MAX_KEY_LENGTH, pattern=KEY_PATTERN
    )


def fingerprint(body: Mapping[str, Any], **scope: Any) -> str:
    """A stable hex digest of a request: its JSON body and the `scope` it applies to.

    The body is the parsed, validated one (`model_dump(mode="json")`), so whitespace
    and defaults no longer tell two requests apart, and its keys are sorted, so their
    order does not either. `scope` holds what else decides the request, e.g. the
    payment a refund is of (from the path); it is hashed as keys of the body, which
    is how fingerprints were stored before there was a `scope`.
    """
    hidden = scope.keys() & body.keys()
    if hidden:
        raise ValueError(f"scope and body both name {sorted(hidden)}")
    canonical = orjson.dumps({**scope, **body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def reused_key() -> Unprocessable:
    """The 422 of a key first used with another request."""
    return Unprocessable(
        f"This {IDEMPOTENCY_KEY} was already used with a different request.",
        errors=[
            field_error(
                IDEMPOTENCY_KEY,
                "already used with a different request body",
                location="header",
                type="idempotency_mismatch",
            )
        ],
    )


def in_progress() -> Conflict:
    """The 409 of a request whose first attempt under the key is still running."""
    return Conflict(
        f"A request with this {IDEMPOTENCY_KEY} is still in progress; retry shortly.",
        headers={"Retry-After": "1"},
    )


def check_replay(*, stored: str, digest: str, running: bool = False) -> None:
    """Return when what was stored under a key may be answered again.

    `stored` is the fingerprint kept with the first request, `digest` this request's,
    `running` whether the first request still holds the work. Another request is 422
    (whether or not the first still runs: it is not this one's to wait for), the same
    one still running is 409.
    """
    if stored != digest:
        raise reused_key()
    if running:
        raise in_progress()
