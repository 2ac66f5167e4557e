"""Cursor (keyset) paging: opaque cursors, the keyset query of a list, one `Page[T]`.

Every list pages the same way: `?limit=&cursor=` answers `Page` (`{items, next_cursor}`),
the cursor encoding the sort key of the page's last item, and the next page being the
rows after that key, so nothing is repeated or skipped whatever is inserted between
two pages. A store fetches `limit + 1` rows: the extra one only says that there is a
next page (`page_of`). Most lists are ordered by a time then an id (`TimeKeyset`,
newest first, or oldest first for a log read in order) and take their page with
`keyset_page`; the catalog's listing, which has other orders and its own raw query
(`catalog.listing`), shares the cursor codec and `page_of`.

A cursor comes back from clients, so whatever it decodes to is checked like any
other input: a bad one is a 422 naming `cursor`, never an error deeper down (a time
such as `0001-01-01T00:00+14:00` has no UTC equivalent and used to fail on binding).
It is not signed: it only says where to continue, while whose rows and which ones
come from the request's own filters, so a forged cursor moves within the caller's
list and no further.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from mercato.chassis.web.errors import Unprocessable, field_error
from mercato.chassis.web.json_body import parse_json

__all__ = [
    "CursorQuery",
    "Page",
    "TimeKeyset",
    "cursor_moment",
    "decode_cursor",
    "decode_time_cursor",
    "encode_cursor",
    "in_utc",
    "invalid_cursor",
    "keyset_page",
    "page_of",
    "page_size",
]

T = TypeVar("T")

# The query parameters of a list: `?limit=` (`page_size`) and `?cursor=`.
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=512, description="The `next_cursor` of the previous page; omit it for the first."
    ),
]


def page_size(maximum: int) -> Any:
    """The `Query` of a list's `limit`: 1 to `maximum` items per page."""
    return Query(ge=1, le=maximum, description=f"Items per page, 1 to {maximum}.")


class Page(BaseModel, Generic[T]):
    """One page of a list and the cursor of the next (None on the last page).

    The same shape at every layer: a store's page of rows, a route's page of bodies.
    A service's response model subclasses it with a docstring of its own
    (`class OrderPage(Page[OrderOut])`), so that its OpenAPI schema is `OrderPage`
    rather than pydantic's `Page_OrderOut_`.
    """

    items: list[T] = Field(description="This page's items.")
    next_cursor: str | None = Field(
        description="Pass it back as `cursor` for the next page; null on the last page."
    )


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


def page_of(rows: Sequence[T], limit: int, key: Callable[[T], list[Any]]) -> Page[T]:
    """The page of the first `limit` of `rows`, which were fetched as `limit + 1`.

    A row beyond `limit` means there is a next page: its cursor is the `key` of the
    page's last row.
    """
    items = list(rows[:limit])
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return Page(items=items, next_cursor=next_cursor)


@dataclass(frozen=True, slots=True)
class TimeKeyset:
    """The order of a list by a time column, ties broken by an id column.

    Newest first (`created_at DESC, id DESC`) unless `oldest_first`. The cursor of a
    row is `[time in ISO 8601, id]`, which `decode_time_cursor` reads back.
    """

    time: InstrumentedAttribute[datetime]
    id: InstrumentedAttribute[str]
    oldest_first: bool = False

    def after(self, key: tuple[datetime, str]) -> ColumnElement[bool]:
        """The rows that come after the row of `key` in this order."""
        moment, row_id = key
        if self.oldest_first:
            return or_(self.time > moment, and_(self.time == moment, self.id > row_id))
        return or_(self.time < moment, and_(self.time == moment, self.id < row_id))

    def order(self) -> tuple[ColumnElement[Any] | InstrumentedAttribute[Any], ...]:
        """The ORDER BY of this order."""
        if self.oldest_first:
            return self.time, self.id
        return self.time.desc(), self.id.desc()

    def key(self, row: object) -> list[Any]:
        """The sort key a cursor holds for `row`."""
        moment: datetime = getattr(row, self.time.key)
        return [moment.isoformat(), getattr(row, self.id.key)]


async def keyset_page(
    session: AsyncSession,
    statement: Select[T],
    keyset: TimeKeyset,
    *,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Page[T]:
    """Up to `limit` rows of `statement` in `keyset`'s order, after the key `after`.

    `statement` selects one entity with its filters; `after` comes from
    `decode_time_cursor`, which the service layer calls on the client's cursor.
    """
    if after is not None:
        statement = statement.where(keyset.after(after))
    statement = statement.order_by(*keyset.order()).limit(limit + 1)
    return page_of((await session.scalars(statement)).all(), limit, keyset.key)
