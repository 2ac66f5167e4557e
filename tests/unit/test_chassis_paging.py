"""Unit tests of keyset cursors: what a client sends back is checked like any input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mercato.chassis.errors import Unprocessable
from mercato.chassis.paging import (
    cursor_moment,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
)


def test_a_cursor_round_trips_its_key() -> None:
    key = ["title", "Kettle", "id-1"]
    assert decode_cursor(encode_cursor(key)) == key
    assert decode_cursor(None) is None and decode_cursor("") is None


def test_a_time_cursor_gives_its_moment_in_utc() -> None:
    cursor = encode_cursor(["2026-01-01T01:30:00+01:30", "id-1"])
    assert decode_time_cursor(cursor) == (datetime(2026, 1, 1, tzinfo=UTC), "id-1")
    assert cursor_moment("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        encode_cursor({"not": "a list"}),  # type: ignore[arg-type]
        encode_cursor(["2026-01-01T00:00:00Z"]),
        encode_cursor(["2026-01-01T00:00:00Z", 7]),
        encode_cursor(["yesterday", "id-1"]),
        encode_cursor(["0001-01-01T00:00:00+14:00", "id-1"]),  # no UTC time is that early
        encode_cursor(["9999-12-31T23:59:59-14:00", "id-1"]),  # nor that late
        encode_cursor(["2026-01-01T00:00:00Z", "id\x00"]),  # PostgreSQL cannot compare it
    ],
)
def test_a_bad_time_cursor_is_a_422_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        decode_time_cursor(cursor)
    assert caught.value.errors == [
        {"field": "cursor", "in": "query", "message": "not a valid cursor"}
    ]
