"""Unit tests of the worker threads that run long SQLite reads (`chassis.data.sqlite_threads`)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from mercato.chassis.data.sqlite_threads import SqliteThreads


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "a db with spaces & more.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (n INTEGER)")
        connection.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(5)])
    return path


async def test_reads_give_rows_and_the_description(database: Path) -> None:
    threads = SqliteThreads(str(database), threads=2)
    try:
        rows, description = await threads.fetch("SELECT n FROM t WHERE n >= ? ORDER BY n", [3])
        assert rows == [(3,), (4,)] and description[0][0] == "n"
        many = await asyncio.gather(*(threads.fetch("SELECT ?", [n]) for n in range(10)))
        assert [rows for rows, _ in many] == [[(n,)] for n in range(10)]
    finally:
        threads.close()


async def test_a_worker_cannot_write(database: Path) -> None:
    threads = SqliteThreads(str(database))
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await threads.fetch("DELETE FROM t", [])
        rows, _ = await threads.fetch("SELECT count(*) FROM t", [])
        assert rows == [(5,)]
    finally:
        threads.close()


async def test_a_worker_sees_what_was_committed_since(database: Path) -> None:
    threads = SqliteThreads(str(database))
    try:
        assert (await threads.fetch("SELECT count(*) FROM t", []))[0] == [(5,)]
        with sqlite3.connect(database) as connection:
            connection.execute("INSERT INTO t VALUES (9)")
        assert (await threads.fetch("SELECT count(*) FROM t", []))[0] == [(6,)]
    finally:
        threads.close()
