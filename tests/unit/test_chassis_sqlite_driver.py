"""The in-loop SQLite driver: waits for another writer's lock without stopping the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.data.sqlite_driver import inloop_dbapi


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite database with one table `t(n)`."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE t (n INTEGER NOT NULL)"))
    yield db
    await db.dispose()


async def test_a_writer_waits_for_the_lock_while_the_loop_keeps_running(
    database: Database,
) -> None:
    ticks = 0
    holder_done = asyncio.Event()
    ticked_a_while = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not holder_done.is_set():
            ticks += 1
            if ticks == 50:
                ticked_a_while.set()
            await asyncio.sleep(0)

    async with database.session() as holder:
        await begin_write(holder)
        await holder.execute(text("INSERT INTO t VALUES (1)"))

        async def second_writer() -> int:
            async with database.session() as session:
                await begin_write(session)
                count = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
                await session.execute(text("INSERT INTO t VALUES (2)"))
                await session.commit()
                return int(count)

        waiter = asyncio.create_task(second_writer())
        tick_task = asyncio.create_task(ticker())
        # The second writer cannot take the lock, yet the loop goes on serving others.
        await ticked_a_while.wait()
        assert not waiter.done()
        await holder.commit()
    holder_done.set()
    await tick_task
    assert await waiter == 1  # it ran after the first commit and saw its row


async def test_readers_are_not_blocked_by_a_writer(database: Database) -> None:
    async with database.session() as writer:
        await begin_write(writer)
        await writer.execute(text("INSERT INTO t VALUES (1)"))
        async with database.session() as reader:
            seen = (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one()
        assert seen == 0  # WAL: the reader sees the last committed state at once
        await writer.commit()


@pytest.fixture
async def short_timeout_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on the in-loop driver that waits at most 0.2 s for a lock."""
    path = tmp_path / "locked.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER NOT NULL)")
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}", module=inloop_dbapi(), connect_args={"timeout": 0.2}
    )
    yield engine
    await engine.dispose()


async def test_a_lock_held_past_the_timeout_fails_with_database_locked(
    short_timeout_engine: AsyncEngine, tmp_path: Path
) -> None:
    other_process = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        async with short_timeout_engine.connect() as conn:
            with pytest.raises(OperationalError, match="database is locked"):
                await conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    async with short_timeout_engine.begin() as conn:  # free again: the write goes through
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1


async def test_errors_other_than_a_lock_are_raised_at_once(
    short_timeout_engine: AsyncEngine,
) -> None:
    async with short_timeout_engine.connect() as conn:
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
