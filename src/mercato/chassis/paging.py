"""Cursor (keyset) paging: opaque cursors that encode the last row's sort key."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from mercato.chassis.errors import Unprocessable

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(key: list[Any]) -> str:
    """An opaque cursor for the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key a cursor encodes; 422 naming `cursor` when it is not one of ours."""
    if not cursor:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        value = None
    if not isinstance(value, list):
        raise Unprocessable(
            "The cursor is not valid.",
            errors=[{"field": "cursor", "in": "query", "message": "not a valid cursor"}],
        )
    return value
