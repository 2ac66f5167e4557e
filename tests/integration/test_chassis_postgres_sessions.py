"""`Database` reads on a real PostgreSQL: in sessions, and direct reads outside them.

A session runs its statements in one transaction. A direct read (`database.reader`)
must run outside any transaction and leave none open (the reason the hot reads use
it: no BEGIN and ROLLBACK round trips around a one-statement read). It shares the
pool with sessions, so a connection it gives back must be transactional again for
the next session. The server is the one of MERCATO_TEST_POSTGRES_URL (skipped
without one, unless MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TypedDict

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import Database
from mercato.chassis.data.driver_reads import DirectQuery
from tests.support.servers import fresh_postgres_database

pytestmark = pytest.mark.integration


class Now(TypedDict):
    """The start of the statement's transaction."""

    now: datetime


class Pid(TypedDict):
    """The server process of the connection."""

    pid: int


NOW = DirectQuery(select(func.now().label("now")), Now)
PID = DirectQuery(select(func.pg_backend_pid().label("pid")), Pid)


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    """A `Database` on a new, empty database, with a pool of one connection."""
    async with fresh_postgres_database("sessions") as url:
        # One pooled connection, so every session and direct read below uses the same one.
        database = Database(url, pool_size=1)
        try:
            yield database
        finally:
            await database.dispose()


async def transaction_starts(session: AsyncSession) -> tuple[datetime, datetime]:
    """`now()` (the start of the current transaction) at two statements 20 ms apart."""
    first = (await session.execute(text("SELECT now()"))).scalar_one()
    await session.execute(text("SELECT pg_sleep(0.02)"))
    second = (await session.execute(text("SELECT now()"))).scalar_one()
    return first, second


async def backend_state(database: Database, pid: int) -> str:
    """The server's `pg_stat_activity.state` of the backend `pid`, seen from outside.

    A statement reading its own row would always find it `active`; another connection
    of the pool is not available (the pool holds one), so a second engine asks.
    """
    observer = Database(database.url)
    try:
        async with observer.session() as outside:
            state = await outside.scalar(
                text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
    finally:
        await observer.dispose()
    return str(state)


async def test_a_transactional_session_runs_its_statements_in_one_transaction(
    database: Database,
) -> None:
    async with database.session() as session:
        first, second = await transaction_starts(session)
        assert first == second
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert await backend_state(database, pid) == "idle in transaction"


async def test_direct_reads_run_each_in_a_transaction_of_its_own(database: Database) -> None:
    first = await database.reader.one(NOW)
    await asyncio.sleep(0.02)
    second = await database.reader.one(NOW)
    assert first is not None and second is not None
    assert second["now"] > first["now"]


async def test_a_direct_read_leaves_no_transaction_open(database: Database) -> None:
    read = await database.reader.one(PID)
    assert read is not None
    assert await backend_state(database, read["pid"]) == "idle"


async def test_the_pooled_connection_is_transactional_again_after_a_direct_read(
    database: Database,
) -> None:
    read = await database.reader.one(PID)
    assert read is not None
    async with database.session() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        first, second = await transaction_starts(session)
    assert pid == read["pid"]  # the same connection, back from the pool
    assert first == second
