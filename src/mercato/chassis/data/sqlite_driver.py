"""SQLite for the async engine, run in the event loop instead of a thread per connection.

aiosqlite hands every call (execute, fetch, commit, even opening a cursor) to a
thread and back, and those hops cost a one-row read far more than sqlite3 itself
needs (measured in docs/decisions.md, "Chassis"). SQLite calls on a local file are
short, so this driver makes them directly in the loop: the coroutines below never
suspend, except to wait for another connection's write lock.

That wait is the one thing that must not block: with a `busy_timeout` the loop
would sleep inside SQLite while the transaction holding the lock (often in this
same process, on another pooled connection) needs the loop to finish. So the
connections run with `busy_timeout=0` and a statement that meets a lock is retried
after an `asyncio.sleep`, with backoff, until the connection's timeout.

The engine still uses SQLAlchemy's aiosqlite dialect (URLs stay
`sqlite+aiosqlite://`); `Database` passes `inloop_dbapi()` as the DBAPI module.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection, AsyncAdapt_terminate
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)

__all__ = ["DEFAULT_LOCK_TIMEOUT", "inloop_dbapi"]

DEFAULT_LOCK_TIMEOUT = 10.0
_T = TypeVar("_T")

# SQLITE_BUSY and the extended codes that mean "try again": another connection holds
# the lock, or is recovering the WAL. SQLITE_BUSY_SNAPSHOT (517) is not among them:
# a transaction whose snapshot went stale can only be rolled back, never retried.
_RETRYABLE = frozenset({5, 261, 773})
_FIRST_PAUSE = 0.0005
_LONGEST_PAUSE = 0.02


def _is_retryable(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in _RETRYABLE


async def _when_unlocked(call: Callable[[], _T], timeout: float) -> _T:
    """`call()`, retried after a non-blocking pause while the database is locked."""
    deadline: float | None = None
    pause = _FIRST_PAUSE
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_retryable(error):
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + timeout
            if now >= deadline:
                raise
        # Jitter keeps several waiters from retrying in lock step.
        await asyncio.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, _LONGEST_PAUSE)


class _Cursor:
    """An aiosqlite-shaped cursor over a sqlite3 cursor, run in the calling thread."""

    __slots__ = ("_cursor", "_timeout")

    def __init__(self, cursor: sqlite3.Cursor, timeout: float) -> None:
        self._cursor = cursor
        self._timeout = timeout

    async def __aenter__(self) -> _Cursor:
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Cursor:
        await _when_unlocked(lambda: self._cursor.execute(sql, parameters), self._timeout)
        return self

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> _Cursor:
        # A retry must replay every row, so a one-shot iterator is materialised first.
        batch = list(rows)
        await _when_unlocked(lambda: self._cursor.executemany(sql, batch), self._timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Connection:
    """An aiosqlite-shaped connection over a sqlite3 connection, run in the loop."""

    def __init__(self, connection: sqlite3.Connection, timeout: float) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._timeout = timeout

    @property
    def _live(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._live.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._live.isolation_level = value  # type: ignore[assignment]

    def cursor(self) -> _Cursor:
        return _Cursor(self._live.cursor(), self._timeout)

    async def commit(self) -> None:
        await _when_unlocked(self._live.commit, self._timeout)

    async def rollback(self) -> None:
        self._live.rollback()

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live.create_function(*args, **kwargs)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _AdaptedConnection(AsyncAdapt_terminate, AsyncAdapt_dbapi_connection):
    """SQLAlchemy's view of a `_Connection` (what its aiosqlite adapter does, minus threads)."""

    __slots__ = ()

    _cursor_cls = AsyncAdapt_aiosqlite_cursor
    _ss_cursor_cls = AsyncAdapt_aiosqlite_ss_cursor
    _connection: _Connection  # type: ignore[assignment]

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.isolation_level = value

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.create_function(*args, **kwargs)

    def rollback(self) -> None:
        if self._connection._connection is not None:
            super().rollback()

    def commit(self) -> None:
        if self._connection._connection is not None:
            super().commit()

    def close(self) -> None:
        self._connection.stop()

    async def _terminate_graceful_close(self) -> None:
        self._connection.stop()

    def _terminate_force_close(self) -> None:
        self._connection.stop()


class _InLoopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given instead of aiosqlite's."""

    def connect(self, *args: Any, **kwargs: Any) -> _AdaptedConnection:  # type: ignore[override]
        timeout = float(kwargs.pop("timeout", DEFAULT_LOCK_TIMEOUT))
        kwargs["check_same_thread"] = False
        connection: sqlite3.Connection = sqlite3.connect(*args, timeout=0, **kwargs)  # type: ignore[call-overload]
        return _AdaptedConnection(self, _Connection(connection, timeout))  # type: ignore[arg-type]


def inloop_dbapi() -> Any:
    """The DBAPI module to pass as `module=` to an engine on `sqlite+aiosqlite`."""
    return _InLoopDbapi(aiosqlite, sqlite3)
