"""The database layer: an async SQLAlchemy engine and sessions for one service.

SQLite (in WAL mode, driven in the event loop by `sqlite_driver`) is the default,
one owner-only file per service in the data directory; PostgreSQL (through asyncpg) or
MySQL/MariaDB (through asyncmy, dialect name `mysql`) is used when the service's
database URL says so. On MySQL every connection reads committed data (`READ
COMMITTED`, as PostgreSQL does; why in docs/decisions.md), speaks utf8mb4 and UTC,
and timestamps keep microseconds (`DATETIME(6)`: a bare `DATETIME` keeps seconds,
and keyset paging orders by time). Code above this layer never needs to know
which it is, except where a feature differs (full-text search), which asks
`Database.dialect`. `pool_wait` is told how long each checkout of a pooled connection
waited, and `pool_usage()` says how many are in use (the pool's metrics).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import DateTime, Insert, Table, TypeDecorator, event, text
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, NullPool, QueuePool
from sqlalchemy.sql.compiler import TypeCompiler

from mercato.chassis.data.driver_reads import DirectReader
from mercato.chassis.data.drivers import check_database_url
from mercato.chassis.data.sqlite_driver import DEFAULT_LOCK_TIMEOUT, inloop_dbapi
from mercato.chassis.security.private_files import private_database_file

__all__ = [
    "Base",
    "Database",
    "UtcDateTime",
    "begin_write",
    "insert_ignoring_conflicts",
]


SQLITE_POOL_SIZE = 64
POOL_RECYCLE = 1800.0  # seconds; server-side idle timeouts are usually longer
MYSQL_ISOLATION = "READ COMMITTED"
# A new PostgreSQL connection that has not been made in this long will not be: asyncpg
# would wait 60 s, which a server whose address no longer answers (its container
# stopped, the address fixed) costs in full, a pool slot held all along; a SYN sent
# while it was away is only sent again seconds later, after it is back.
POSTGRES_CONNECT_TIMEOUT = 5.0


@compiles(DateTime, "mysql")
def _mysql_datetime(type_: DateTime, compiler: TypeCompiler, **kw: Any) -> str:
    """Every timestamp column on MySQL keeps microseconds (the bare type keeps seconds)."""
    return "DATETIME(6)"


class Base(DeclarativeBase):
    """Declarative base; every service has its own subclass so metadata stays apart."""

    __abstract__ = True


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware timestamps in UTC (naive ones are taken to be UTC)."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name in ("sqlite", "mysql"):
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read naive timestamps as UTC."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text read straight as a UTC time; elsewhere the default.

        SQLAlchemy's processor parses the text, then `replace(tzinfo=UTC)` costs five
        times the parse: three timestamps a row were half the decoding of a catalog
        page's rows. Parsing the text with a UTC offset appended gives the same
        aware time in one step; text that already has an offset, or no time, is left
        to the default.
        """
        default = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or default is None:
            return default
        parse = datetime.fromisoformat

        def process(value: Any) -> Any:
            try:
                moment = parse(value + "+00:00")
            except (TypeError, ValueError):
                return default(value)
            return moment if moment.tzinfo is not None else default(value)

        return process


async def begin_write(session: AsyncSession) -> None:
    """Start a write transaction; on SQLite take the write lock now.

    Python's sqlite3 driver begins a transaction only at the first write, so the
    reads before it see no snapshot and concurrent read-modify-write loses updates;
    `BEGIN IMMEDIATE` makes the whole unit serial across processes sharing the file.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))


def insert_ignoring_conflicts(table: Table, dialect: str, *, lock: bool = False) -> Insert | None:
    """`INSERT ... ON CONFLICT DO NOTHING` into `table`; None where `dialect` has none.

    Its values are given when it is executed, so one statement serves every call:
    values built into a statement are coerced and hashed into a cache key per call.

    On MySQL it is `INSERT IGNORE`, whose row count says whether it inserted; but on a
    duplicate it takes a shared lock on the row, and two transactions that then both
    update (or lock) that row deadlock. With `lock`, for a row that is made sure of and
    then updated or locked, it is an `ON DUPLICATE KEY UPDATE` that changes nothing and
    holds the row's exclusive lock either way; its row count then says nothing.
    """
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "mysql":
        if lock:
            key = next(iter(table.primary_key.columns))
            return mysql.insert(table).on_duplicate_key_update({key.name: key})
        # MySQL's only insert that skips a duplicate and says so (0 rows): an upsert
        # that changes nothing still counts its row under CLIENT_FOUND_ROWS. Strict
        # mode's other errors become warnings under IGNORE; the callers insert keys
        # and values of bounded length only.
        return mysql.insert(table).prefix_with("IGNORE")
    return None


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer. No busy_timeout: SQLite would wait
    # for another writer's lock inside the event loop; `sqlite_driver` waits outside.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _timed_pool(observe: Callable[[float], None]) -> type[AsyncAdaptedQueuePool]:
    """The async queue pool, telling `observe` how long each checkout waited.

    A class per observer, because a pool that is recreated (`dispose`) is built anew
    from its class.
    """

    class TimedPool(AsyncAdaptedQueuePool):
        # Its log lines go where the pool's always went (SQLAlchemy names its logger).
        _sqla_logger_namespace = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"

        def _do_get(self) -> ConnectionPoolEntry:
            started = time.perf_counter()
            try:
                return super()._do_get()
            finally:
                observe(time.perf_counter() - started)

    return TimedPool


class Database:
    """One service's engine and session factory."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 20,
        pool_wait: Callable[[float], None] | None = None,
    ) -> None:
        parsed = make_url(check_database_url(url))
        self.url = url
        self.dialect = parsed.get_backend_name()
        # JSON columns are read with orjson, 3x faster than `json` (a tenth of a
        # search's CPU went into decoding its products' attributes). It is exact for
        # every value a body may carry: `json_body` refuses NaN, Infinity and integers
        # beyond 64 bits, the only values where the two differ.
        kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": orjson.loads}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                # Owner-only before SQLite opens it: its -wal and -shm files inherit
                # the database file's mode (`chassis.security.private_files`).
                private_database_file(Path(parsed.database))
            kwargs["connect_args"] = {"timeout": DEFAULT_LOCK_TIMEOUT}
            kwargs["module"] = inloop_dbapi()
            self.pool_limit = 0  # NullPool: a connection per checkout, none kept
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = NullPool
            else:
                # Opening a SQLite connection costs far more than a query and holds no
                # server resource, so keep one for each request that may run at once.
                kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
                self.pool_limit = 2 * SQLITE_POOL_SIZE
        else:
            # No pool_pre_ping: it doubled the cost of a read session (a round trip per
            # checkout, 2.2 ms against 1.2 ms here). A connection the server dropped
            # fails its next statement instead; SQLAlchemy then invalidates the pool,
            # and that one request is answered 503 (see `errors`), the next reconnects.
            # At most `pool_size` connections, all kept: a connection opened beyond the
            # pool is closed when it comes back, so overflow under steady load opened
            # and closed connections all the time (a pool of 10 with 16 users/me in
            # flight: 280 new PostgreSQL sessions in 8 s, 40% more CPU per request).
            # A request beyond the pool waits for a connection instead, and the sum
            # over processes stays within the server's `max_connections`.
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_recycle=POOL_RECYCLE)
            self.pool_limit = pool_size
            if self.dialect == "postgresql":
                kwargs["connect_args"] = {"timeout": POSTGRES_CONNECT_TIMEOUT}
            if self.dialect == "mysql":
                kwargs["isolation_level"] = MYSQL_ISOLATION
                kwargs["connect_args"] = {
                    "charset": "utf8mb4",
                    "init_command": "SET time_zone = '+00:00'",
                }
        if pool_wait is not None and "poolclass" not in kwargs:
            kwargs["poolclass"] = _timed_pool(pool_wait)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # One-statement reads straight on the driver, outside any transaction, for the
        # hottest routes (`chassis.data.driver_reads`).
        self.reader = DirectReader(self.engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; commit is the caller's, rollback happens on error."""
        async with self.sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside a transaction that commits when the block ends cleanly."""
        async with self.sessions() as session, session.begin():
            yield session

    def pool_usage(self) -> tuple[int, int]:
        """The connections checked out of the pool now, and the most it holds at once."""
        pool = self.engine.sync_engine.pool
        return (pool.checkedout() if isinstance(pool, QueuePool) else 0), self.pool_limit

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection, and the direct reader's."""
        await self.reader.close()
        await self.engine.dispose()
