"""Unit tests of keyset paging: cursors (checked like any input a client sends) and pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from mercato.chassis.web.errors import Unprocessable
from mercato.chassis.web.paging import (
    Page,
    cursor_moment,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    page_of,
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


def test_a_page_holds_the_first_rows_and_the_cursor_of_its_last_one() -> None:
    rows = [{"id": f"id-{n}", "rank": n} for n in range(4)]

    def key(row: dict[str, object]) -> list[object]:
        return ["rank", row["rank"], row["id"]]

    page = page_of(rows, 3, key)  # fetched as limit + 1: a fourth row means a next page
    assert page.items == rows[:3]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == ["rank", 2, "id-2"]
    assert page_of(rows[:3], 3, key) == Page(items=rows[:3], next_cursor=None)
    assert page_of([], 3, key) == Page(items=[], next_cursor=None)


class Thing(BaseModel):
    """An item of a list."""

    name: str


class ThingPage(Page[Thing]):
    """One page of things."""


def test_a_service_page_is_documented_under_its_own_name() -> None:
    schema = ThingPage.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schema["title"] == "ThingPage" and schema["description"] == "One page of things."
    assert schema["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Thing"}
    assert schema["required"] == ["items", "next_cursor"]
    page = ThingPage(items=[Thing(name="kettle")], next_cursor=None)
    assert page.model_dump_json() == '{"items":[{"name":"kettle"}],"next_cursor":null}'
