"""`chassis.web.paging.keyset_page` on a real PostgreSQL (and on SQLite, the dev database).

Walking a list page by page, by the cursors the pages give, must yield every row once
in order: newest first (or oldest first), rows of the same instant ordered by id, even
when a page ends inside such a tie, and with the filters of the statement kept. The
PostgreSQL server is the one of MERCATO_TEST_POSTGRES_URL (skipped without one,
unless MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, Database, UtcDateTime
from mercato.chassis.web.paging import Page, TimeKeyset, decode_time_cursor, keyset_page
from tests.support.servers import fresh_database

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class PagingBase(Base):
    """The metadata of this module's one table."""

    __abstract__ = True


class Entry(PagingBase):
    """A row of a list: when it was made, by whom."""

    __tablename__ = "entries"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    owner: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Seconds after T0 of each entry: three share one instant, two another, so pages of
# two end inside a tie. Ids are not in time order, so only the keyset orders them.
MOMENTS = {"e": 0, "a": 10, "c": 10, "b": 10, "g": 20, "d": 30, "f": 30, "h": 40}
NEWEST_FIRST = ["h", "f", "d", "g", "c", "b", "a", "e"]
NEWEST = TimeKeyset(Entry.created_at, Entry.id)
OLDEST = TimeKeyset(Entry.created_at, Entry.id, oldest_first=True)


@asynccontextmanager
async def database_url(dialect: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database of `dialect`, dropped afterwards; yields its URL."""
    if dialect == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'paging.db'}"
    else:
        async with fresh_database(dialect, "paging") as url:
            yield url


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A `Database` holding the entries of `MOMENTS`, every other one owned by `odd`."""
    async with database_url(request.param, tmp_path) as url:
        database = Database(url)
        try:
            async with database.engine.begin() as connection:
                await connection.run_sync(PagingBase.metadata.create_all)
            async with database.session() as session:
                for index, (entry_id, seconds) in enumerate(sorted(MOMENTS.items())):
                    owner = "odd" if index % 2 else "even"
                    at = T0 + timedelta(seconds=seconds)
                    session.add(Entry(id=entry_id, owner=owner, created_at=at))
                await session.commit()
            yield database
        finally:
            await database.dispose()


async def walk(
    database: Database, keyset: TimeKeyset, *, limit: int, owner: str | None = None
) -> list[Page[Entry]]:
    """Every page of the entries (of `owner`, if given), following each page's cursor."""
    pages: list[Page[Entry]] = []
    cursor: str | None = None
    while len(pages) <= len(MOMENTS):  # a cursor that led back would loop forever
        statement = select(Entry)
        if owner is not None:
            statement = statement.where(Entry.owner == owner)
        async with database.session() as session:
            page = await keyset_page(
                session, statement, keyset, limit=limit, after=decode_time_cursor(cursor)
            )
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError(f"no last page after {len(pages)} pages")


def ids(pages: list[Page[Entry]]) -> list[str]:
    """The ids of the entries of `pages`, in order."""
    return [entry.id for page in pages for entry in page.items]


@pytest.mark.parametrize("limit", [1, 2, 3, 8, 9])
async def test_pages_give_every_row_once_newest_first(database: Database, limit: int) -> None:
    pages = await walk(database, NEWEST, limit=limit)
    assert ids(pages) == NEWEST_FIRST
    assert [len(page.items) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    # The last page is known to be the last without an empty page after it.
    assert len(pages) == -(-len(MOMENTS) // limit)


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_pages_give_every_row_once_oldest_first(database: Database, limit: int) -> None:
    pages = await walk(database, OLDEST, limit=limit)
    assert ids(pages) == NEWEST_FIRST[::-1]


async def test_paging_keeps_the_statement_filters(database: Database) -> None:
    owned = [entry_id for index, entry_id in enumerate(sorted(MOMENTS)) if index % 2]
    pages = await walk(database, NEWEST, limit=1, owner="odd")
    assert ids(pages) == [entry_id for entry_id in NEWEST_FIRST if entry_id in owned]


async def test_a_cursor_is_the_time_and_id_of_the_last_row(database: Database) -> None:
    first = (await walk(database, NEWEST, limit=3))[0]
    assert decode_time_cursor(first.next_cursor) == (T0 + timedelta(seconds=30), "d")
