"""Cursor (keyset) paging: opaque cursors that encode the last row's sort key.

A cursor comes back from clients, so whatever it decodes to is checked like any
other input: a bad one is a 422 naming `cursor`, never an error deeper down (a time
such as `0001-01-01T00:00+14:00` has no UTC equivalent and used to fail on binding).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from mercato.chassis.errors import Unprocessable, field_error
from mercato.chassis.json_body import parse_json

__all__ = [
    "cursor_moment",
    "decode_cursor",
    "decode_time_cursor",
    "encode_cursor",
    "in_utc",
    "invalid_cursor",
]


def encode_cursor(key: list[Any]) -> str:
    """An opaque cursor for the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key a cursor encodes; 422 naming `cursor` when it is not one of ours."""
    if not cursor:
        return None
    try:
        value = parse_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:  # not base64, or JSON that `parse_json` refuses
        value = None
    if not isinstance(value, list):
        raise invalid_cursor()
    return value


def invalid_cursor() -> Unprocessable:
    """The 422 for a cursor that is not one of ours."""
    return Unprocessable(
        "The cursor is not valid.",
        errors=[field_error("cursor", "not a valid cursor", location="query")],
    )


def in_utc(moment: datetime) -> datetime:
    """`moment` in UTC, a time without offset being UTC already.

    `OverflowError` when it has no UTC equivalent (`0001-01-01T00:00+01:00`).
    """
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def cursor_moment(raw: object) -> datetime:
    """The time a cursor holds, in UTC (a time without offset is UTC); 422 when not one."""
    if not isinstance(raw, str):
        raise invalid_cursor()
    try:
        return in_utc(datetime.fromisoformat(raw))
    except (ValueError, OverflowError):
        raise invalid_cursor() from None


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The (time, id) key of a cursor of a newest- or oldest-first list, or None; 422."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 2 or not isinstance(key[1], str):
        raise invalid_cursor()
    return cursor_moment(key[0]), key[1]
