"""`Database` sessions on a real PostgreSQL: transactional ones and autocommit ones.

An autocommit session must run each statement in a transaction of its own and leave
none open between statements (the reason it exists: no BEGIN and ROLLBACK round
trips around a one-statement read). It shares the pool with transactional sessions,
so a connection it gives back must be transactional again for the next session. The
server is the one of MERCATO_TEST_POSTGRES_URL (skipped without one, unless
MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.database import Database
from tests.support.servers import fresh_postgres_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    """A `Database` on a new, empty database, with a pool of one connection."""
    async with fresh_postgres_database("sessions") as url:
        # One pooled connection, so every session below reuses the same one.
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


async def backend_state(session: AsyncSession) -> str:
    """The server's `pg_stat_activity.state` of the session's connection, seen from outside.

    A statement reading its own row would always find it `active`; another connection
    of the pool is not available (the pool holds one), so a second engine asks.
    """
    pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    bind = session.get_bind()
    assert isinstance(bind, Engine)  # the session's engine, not a connection it was bound to
    observer = Database(bind.url.render_as_string(hide_password=False))
    try:
        async with observer.autocommit_session() as outside:
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
        assert await backend_state(session) == "idle in transaction"


async def test_an_autocommit_session_runs_each_statement_in_a_transaction_of_its_own(
    database: Database,
) -> None:
    async with database.autocommit_session() as session:
        first, second = await transaction_starts(session)
        assert second > first
        assert await backend_state(session) == "idle"


async def test_a_write_in_an_autocommit_session_is_committed_at_once(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE notes (body text)"))
    async with database.autocommit_session() as session:
        await session.execute(text("INSERT INTO notes VALUES ('kept')"))
        # Closed without a commit: nothing is left to roll back.
    async with database.session() as session:
        assert (await session.execute(text("SELECT body FROM notes"))).scalars().all() == ["kept"]


async def test_the_pooled_connection_is_transactional_again_after_an_autocommit_session(
    database: Database,
) -> None:
    async with database.autocommit_session() as session:
        autocommit_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with database.session() as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        first, second = await transaction_starts(session)
    assert pid == autocommit_pid  # the same connection, back from the pool
    assert first == second
