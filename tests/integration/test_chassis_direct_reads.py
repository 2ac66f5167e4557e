"""Direct reads on SQLite and on a real PostgreSQL: rows as a session would give them.

Each test with a database runs on both: SQLite in a temporary file, PostgreSQL on a new
database of MERCATO_TEST_POSTGRES_URL's server (skipped without one, unless
MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypedDict

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import JSONB

from mercato.chassis.data.database import Database, UtcDateTime
from mercato.chassis.data.driver_reads import READ_CACHE_KIB, DirectQuery, row_of
from tests.support.servers import fresh_database

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("doc", JSON().with_variant(JSONB(), "postgresql")),
    Column("at", UtcDateTime),
    Column("n", Integer),
    Column("rating", Float),
    Column("price", Numeric(10, 2)),
)


class ThingRow(TypedDict):
    """A whole row of `things`."""

    id: str
    doc: Any
    at: datetime | None
    n: int | None
    rating: float | None
    price: Decimal | None


class Numbered(TypedDict):
    """A thing's id and number."""

    id: str
    n: int | None


BY_ID = DirectQuery(select(things).where(things.c.id == bindparam("id")), ThingRow)
FIRST_TWO = DirectQuery(select(things.c.id, things.c.n).order_by(things.c.id).limit(2), Numbered)
AT = datetime(2026, 12, 4, 15, 30, 1, 250000, tzinfo=UTC)
DOC = {"tags": ["x", "y"], "deep": {"k": 1}}
ROWS: list[dict[str, Any]] = [
    {"id": "a", "doc": DOC, "at": AT, "n": 1, "rating": 4.5, "price": Decimal("12.50")},
    {"id": "b", "doc": [], "at": AT, "n": 2, "rating": 1.0, "price": Decimal(3)},
    {"id": "c", "doc": None, "at": None, "n": None, "rating": None, "price": None},
]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("mariadb", marks=pytest.mark.integration),
    ],
)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A `Database` with the `things` table and three rows, on each kind of server."""
    async with _url(request.param, tmp_path) as url:
        database = Database(url, pool_size=1)
        try:
            async with database.engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
                await connection.execute(insert(things), ROWS)
            yield database
        finally:
            await database.dispose()


def _url(kind: str, tmp_path: Path) -> contextlib.AbstractAsyncContextManager[str]:
    if kind != "sqlite":
        return fresh_database(kind, "direct_reads")
    return contextlib.nullcontext(f"sqlite+aiosqlite:///{tmp_path / 'things.db'}")


async def test_a_row_comes_back_with_its_values_decoded(database: Database) -> None:
    row = await database.reader.one(BY_ID, id="a")
    assert row == ROWS[0]
    assert row is not None and row["at"] is not None and row["at"].tzinfo is not None
    assert type(row["rating"]) is float and type(row["price"]) is Decimal
    empty = await database.reader.one(BY_ID, id="c")
    assert empty == ROWS[2]


async def test_no_row_is_none(database: Database) -> None:
    assert await database.reader.one(BY_ID, id="nope") is None


async def test_every_row_in_order_with_a_literal_limit(database: Database) -> None:
    assert await database.reader.all(FIRST_TWO) == [{"id": "a", "n": 1}, {"id": "b", "n": 2}]


async def test_a_read_sees_what_was_committed_just_before(database: Database) -> None:
    before = await database.reader.one(BY_ID, id="b")
    assert before is not None and before["n"] == 2
    async with database.transaction() as session:
        await session.execute(sql_update(things).where(things.c.id == "b").values(n=20))
    after = await database.reader.one(BY_ID, id="b")
    assert after is not None and after["n"] == 20


async def test_reads_beyond_the_pool_wait_for_a_connection(database: Database) -> None:
    rows = await asyncio.gather(*(database.reader.one(BY_ID, id="a") for _ in range(20)))
    assert all(row is not None and row["n"] == 1 for row in rows)


async def test_a_statement_with_expanding_parameters_is_refused(database: Database) -> None:
    query = DirectQuery(
        select(things).where(things.c.id.in_(bindparam("ids", expanding=True))), ThingRow
    )
    with pytest.raises(TypeError, match="plain positional parameters"):
        await database.reader.all(query, ids=["a", "b"])


async def test_a_long_read_gives_the_same_rows(database: Database) -> None:
    assert await database.reader.all_long(BY_ID, id="a") == [ROWS[0]]
    assert await database.reader.all_long(FIRST_TWO) == await database.reader.all(FIRST_TWO)
    async with database.transaction() as session:
        await session.execute(sql_update(things).where(things.c.id == "b").values(n=21))
    rows = await asyncio.gather(*(database.reader.all_long(BY_ID, id="b") for _ in range(8)))
    assert all(found == [{**ROWS[1], "n": 21}] for found in rows)


# Text SQLite may hold in a timestamp column besides what SQLAlchemy writes (no
# fraction, no time, an offset of its own), and JSON documents of each kind.
ODD_TEXT = [
    ("a", "2026-12-04 15:30:01.250000", '{"k": [1, 2.5, null], "s": "\\u00e9"}'),
    ("b", "2026-12-04 15:30:01", "[]"),
    ("c", "2026-12-04", '"text"'),
    ("d", "2026-12-04 17:30:01.5+02:00", "null"),
    ("e", "2026-12-04T15:30:01.000001Z", "true"),
]


async def test_sqlite_text_decodes_as_sqlalchemys_own_processors_decode_it(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'odd.db'}")
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            for thing_id, at, doc in ODD_TEXT:
                await connection.execute(
                    text("INSERT INTO things (id, at, doc) VALUES (:id, :at, :doc)"),
                    {"id": thing_id, "at": at, "doc": doc},
                )
        for thing_id, at, doc in ODD_TEXT:
            row = await database.reader.one(BY_ID, id=thing_id)
            assert row is not None
            parsed = datetime.fromisoformat(at)  # what SQLAlchemy's processors gave
            expected = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            assert row["at"] == expected
            assert row["at"] is not None and row["at"].utcoffset() == expected.utcoffset()
            assert row["doc"] == json.loads(doc)
    finally:
        await database.dispose()


async def test_the_sqlite_reads_connection_keeps_a_bigger_page_cache(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}")
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        assert await database.reader.all(FIRST_TWO) == []
        kept = database.reader._sqlite_driver._live  # the sqlite3 connection it keeps
        assert kept.execute("PRAGMA cache_size").fetchone() == (-READ_CACHE_KIB,)
        async with database.engine.connect() as pooled:  # the others keep SQLite's default
            default = await pooled.exec_driver_sql("PRAGMA cache_size")
            assert default.one() == (-2000,)
    finally:
        await database.dispose()


numbers = Table("numbers", metadata, Column("n", Integer, primary_key=True))


class Count(TypedDict):
    """How many rows."""

    n: int


async def test_a_long_read_on_sqlite_leaves_the_loop_free(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}")
    a, b = numbers.alias("a"), numbers.alias("b")
    pairs = DirectQuery(  # 4 million pairs: a read of a good part of a second
        select(func.count().label("n")).select_from(a.join(b, literal(True))), Count
    )
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(insert(numbers), [{"n": n} for n in range(2000)])
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        ticking = asyncio.create_task(tick())
        try:
            assert await database.reader.all_long(pairs) == [{"n": 4_000_000}]
        finally:
            ticking.cancel()
        assert ticks > 5  # the loop went on while a worker thread read
    finally:
        await database.dispose()


def test_a_row_shape_must_name_exactly_the_selected_columns() -> None:
    with pytest.raises(TypeError, match=r"Numbered .*lacks \['at', 'doc', 'price', 'rating'\]"):
        DirectQuery(select(things), Numbered)
    with pytest.raises(TypeError, match=r"ThingRow .*no column for \['at', 'doc'"):
        DirectQuery(select(things.c.id, things.c.n, things.c.rating, things.c.price), ThingRow)
    with pytest.raises(TypeError, match="must be a TypedDict"):
        DirectQuery(select(things), dict)


def test_a_body_reads_a_row_as_it_is_and_an_entity_by_its_fields() -> None:
    row: Numbered = {"id": "a", "n": 1}
    assert row_of(row, Numbered) is row
    entity = SimpleNamespace(id="b", n=2, other="not in the shape")
    assert row_of(entity, Numbered) == {"id": "b", "n": 2}
