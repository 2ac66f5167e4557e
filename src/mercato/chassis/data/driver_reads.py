"""Direct reads: a SELECT compiled once, run straight on the database driver.

A read through an `AsyncSession` costs many times the work SQLite does for it (the
session, a pooled `Connection`, greenlet hops, the result machinery): for
`GET /api/users/me` it was a third of the service's CPU (measured in
docs/decisions.md, "Chassis"). For such hot one-statement reads, `DirectQuery`
compiles a Core `select()` once per dialect, and `DirectReader` runs its SQL on the
driver (sqlite3 in the event loop, asyncpg) and applies each column type's own
result processor (SQLAlchemy's public `TypeEngine.result_processor`), so rows come
back as a session would give them: JSON decoded, timestamps aware.

A row has one shape: a dict keyed by the selected columns' keys, typed by the
`TypedDict` its query declares (`DirectQuery(statement, ProfileRow)`), whose keys
must be exactly those columns (checked when the query is built). A body that shows
either such a row or an entity reads it through `row_of`.

Connections: on SQLite, one connection taken out of the engine's pool for good
(reads in WAL mode never wait for the writer, and sqlite3 calls run to completion in
the loop, so one serves every read of the process); on PostgreSQL, a connection of
the engine's own pool per read, so the process stays within its pool size. On MySQL
too, through the pooled connection's DBAPI cursor (asyncmy has no prepared
statements to learn types from; its cursor reports them); the pool's rollback on
check-in ends the read's implicit transaction.

A column's result processor gets the type code the driver reports for it, learnt
at the statement's first execution (PostgreSQL's numbers need it: float8 or numeric).

A read of milliseconds (a statement reading thousands of matches) is `all_long`: on
SQLite it runs on a worker thread (`sqlite_threads`), not in the loop.

What a direct read gives up: each is one statement outside any transaction (so no
`BEGIN` and `ROLLBACK` round trips around it on PostgreSQL), with no ORM identity map
and no SQLAlchemy events (when statements are traced, a read reports its own through
`DirectReader.statements`). A statement with expanding (`IN`) parameters is refused
when compiled. A connection PostgreSQL dropped is invalidated and the read answered
503 with Retry-After, like a session's (see `errors`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import typing
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import JSON, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import await_, greenlet_spawn

from mercato.chassis.data.sqlite_threads import SqliteThreads
from mercato.chassis.web.errors import database_lost, database_refused

__all__ = ["READ_CACHE_KIB", "DirectQuery", "DirectReader", "row_of"]

log = logging.getLogger("mercato.database")
# SQLite's page cache of the one connection that serves every direct read of a process,
# in KiB (SQLite's default, 2 MiB, is every other connection's). The hot reads' rows
# are spread over the table, one page each: a catalog page's 21 rows were 21 page
# reads from the OS at each request, a tenth of its CPU; with 32 MiB a shop's busiest
# pages stay in the process. At most that much memory, this connection's alone.
READ_CACHE_KIB = 32 * 1024
Processor = Callable[[Any], Any]
RowT = TypeVar("RowT", bound=Mapping[str, Any])


@functools.cache
def _row_keys(shape: type[Any]) -> frozenset[str]:
    """The keys of a row shape (a TypedDict); TypeError for anything else."""
    if not typing.is_typeddict(shape):
        raise TypeError(f"a direct read's row shape must be a TypedDict, not {shape!r}")
    keys: frozenset[str] = shape.__required_keys__ | shape.__optional_keys__
    return keys


def row_of(item: object, shape: type[RowT]) -> RowT:
    """`item` as a row of `shape`: a direct read's row as it is, an entity's fields by name.

    For the bodies built from either (a hot read's row, an entity a write returned).
    """
    if isinstance(item, dict):
        return cast(RowT, item)
    return cast(RowT, {key: getattr(item, key) for key in _row_keys(shape)})


@dataclass(slots=True)
class _Plan:
    """A statement compiled for one dialect: its SQL, parameters and result columns.

    A column's result processor may depend on the type the driver reports for it
    (PostgreSQL numbers: float8 or numeric), so the processors are made from the
    first execution's column types (`types_known`).
    """

    sql: str
    params: tuple[tuple[str, Processor | None, Any], ...]  # name, processor, default
    keys: tuple[str, ...]
    types: tuple[TypeEngine[Any], ...]
    dialect: Dialect
    # Once the types are known: (position, key, processor) of each column that has one.
    processors: tuple[tuple[int, str, Processor], ...] | None = None

    @classmethod
    def compile(cls, statement: Select[Any], dialect: Dialect) -> _Plan:
        compiled = statement.compile(dialect=dialect)
        names = compiled.positiontup
        if names is None or compiled.literal_execute_params or compiled.post_compile_params:
            raise TypeError(f"a direct read needs plain positional parameters: {statement}")
        params = tuple(
            (
                name,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
                compiled.binds[name].effective_value,
            )
            for name in names
        )
        columns = statement.selected_columns
        keys = tuple(str(column.key) for column in columns)
        types = tuple(column.type.dialect_impl(dialect) for column in columns)
        return cls(str(compiled), params, keys, types, dialect)

    @property
    def types_known(self) -> bool:
        """Whether the column processors have been made."""
        return self.processors is not None

    def know_types(self, driver_types: Sequence[Any]) -> None:
        """Make the column processors for the types the driver reports (its type codes)."""
        made = [
            _column_processor(kind, self.dialect, code)
            for kind, code in zip(self.types, driver_types, strict=True)
        ]
        self.processors = tuple(
            (at, key, process)
            for at, (key, process) in enumerate(zip(self.keys, made, strict=True))
            if process is not None
        )

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `values` (named as the statement's bindparams)."""
        out = []
        for name, process, default in self.params:
            value = values.get(name, default)
            out.append(process(value) if process is not None else value)
        return out

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        """A driver row as a dict of processed values (the types must be known)."""
        assert self.processors is not None
        # Zipped in C, then only the processed columns replaced: a comprehension
        # testing each column for a processor cost a catalog page's 21 rows 30 us.
        row = dict(zip(self.keys, raw, strict=True))
        for at, key, process in self.processors:
            row[key] = process(raw[at])
        return row


def _column_processor(kind: TypeEngine[Any], dialect: Dialect, code: Any) -> Processor | None:
    """The column type's result processor; on SQLite, JSON text goes straight to its decoder.

    SQLAlchemy's SQLite JSON processor wraps the decoder in two Python calls (one for
    the numbers SQLite may give a JSON column, one for None): a third of decoding a
    product's three JSON columns. Text is decoded as they would decode it, with the
    decoder they would use; anything else still goes through them.
    """
    process = kind.result_processor(dialect, code)
    if process is None or dialect.name != "sqlite" or not isinstance(kind, JSON):
        return process
    decode: Processor = getattr(dialect, "_json_deserializer", None) or json.loads
    default = process

    def decoded(value: Any) -> Any:
        return decode(value) if type(value) is str else default(value)

    return decoded


class DirectQuery(Generic[RowT]):
    """A Core SELECT for `DirectReader` whose rows are `row`s, compiled once per dialect.

    `row` is a TypedDict naming exactly the statement's selected columns (their keys):
    a TypeError here otherwise, so a row never holds other keys than its type says.
    Plans are kept by dialect name, shared by every engine of that dialect: `Database`
    configures them all alike (the JSON decoder the processors use, for one).
    """

    def __init__(self, statement: Select[Any], row: type[RowT]) -> None:
        columns = {str(column.key) for column in statement.selected_columns}
        declared = _row_keys(row)
        if declared != columns:
            raise TypeError(
                f"{row.__name__} does not match the statement's columns: it lacks "
                f"{sorted(columns - declared)}, and has no column for {sorted(declared - columns)}"
            )
        self.statement = statement
        self.row = row
        self._plans: dict[str, _Plan] = {}

    def plan(self, dialect: Dialect) -> _Plan:
        """The statement compiled for `dialect`."""
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan.compile(self.statement, dialect)
        return plan


class DirectReader:
    """Runs `DirectQuery`s on one engine's database, straight on its driver."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        if self.dialect.name not in ("sqlite", "postgresql", "mysql"):
            raise TypeError(f"no direct reads on {self.dialect.name}")
        self._sqlite: PoolProxiedConnection | None = None
        self._sqlite_driver: Any = None
        self._threads: SqliteThreads | None = None  # for long reads, made at the first
        # Around each read when statements are traced (`chassis.telemetry.statement_spans`).
        self.statements: Callable[[str], AbstractContextManager[None]] | None = None

    async def one(self, query: DirectQuery[RowT], **values: Any) -> RowT | None:
        """The first row of `query` with `values`, or None."""
        plan = query.plan(self.dialect)
        rows = await self._fetch(plan, plan.arguments(values))
        return cast(RowT, plan.row(rows[0])) if rows else None

    async def all(self, query: DirectQuery[RowT], **values: Any) -> list[RowT]:
        """Every row of `query` with `values`."""
        plan = query.plan(self.dialect)
        rows = await self._fetch(plan, plan.arguments(values))
        return cast(list[RowT], [plan.row(raw) for raw in rows])

    async def all_long(self, query: DirectQuery[RowT], **values: Any) -> list[RowT]:
        """Every row of `query`, read away from the event loop: for reads of milliseconds.

        On SQLite a worker thread runs it (`sqlite_threads`), so that the loop serves
        other requests meanwhile; not for reads of a few rows, where the hop to the
        thread costs more than the read. On PostgreSQL, and on an SQLite database
        without a file, the same as `all` (there the loop waits on the network).
        """
        threads = self._sqlite_threads()
        if threads is None:
            return await self.all(query, **values)
        plan = query.plan(self.dialect)
        arguments = plan.arguments(values)
        if self.statements is None:
            rows, description = await threads.fetch(plan.sql, arguments)
        else:
            with self.statements(plan.sql):
                rows, description = await threads.fetch(plan.sql, arguments)
        if not plan.types_known:
            plan.know_types([column[1] for column in description])
        return cast(list[RowT], [plan.row(raw) for raw in rows])

    def _sqlite_threads(self) -> SqliteThreads | None:
        if self._threads is None and self.dialect.name == "sqlite":
            path = self.engine.url.database
            if path and path != ":memory:" and not path.startswith("file:"):
                self._threads = SqliteThreads(path)
        return self._threads

    async def close(self) -> None:
        """Close the connection kept for SQLite reads and the long reads' threads, if any."""
        kept, self._sqlite, self._sqlite_driver = self._sqlite, None, None
        if kept is not None:
            await greenlet_spawn(kept.close)
        threads, self._threads = self._threads, None
        if threads is not None:
            await asyncio.to_thread(threads.close)

    async def _fetch(self, plan: _Plan, arguments: list[Any]) -> Sequence[Sequence[Any]]:
        fetch = self._fetch_sqlite if self.dialect.name == "sqlite" else self._fetch_pooled
        if self.statements is None:
            return await fetch(plan, arguments)
        with self.statements(plan.sql):
            return await fetch(plan, arguments)

    async def _fetch_sqlite(self, plan: _Plan, arguments: list[Any]) -> Sequence[Sequence[Any]]:
        if self._sqlite_driver is None:
            connection = await self.engine.raw_connection()
            driver: Any = connection.driver_connection  # a chassis.data.sqlite_driver one
            connection.detach()  # ours for good; the pool opens another in its place
            setting = driver.cursor()
            await setting.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
            await setting.close()
            self._sqlite_driver, self._sqlite = driver, connection
        cursor = self._sqlite_driver.cursor()
        try:
            await cursor.execute(plan.sql, arguments)
            if not plan.types_known:
                plan.know_types([column[1] for column in cursor.description])
            rows: list[Sequence[Any]] = await cursor.fetchall()
        finally:
            await cursor.close()
        return rows

    async def _fetch_pooled(self, plan: _Plan, arguments: list[Any]) -> Sequence[Sequence[Any]]:
        # One greenlet for checkout, query and checkin: the pool's own code may need to
        # wait (a new connection, a full pool) and only waits inside one.
        fetch = (
            self._fetch_postgresql_in_greenlet
            if self.dialect.name == "postgresql"
            else self._fetch_dbapi_in_greenlet
        )
        rows: Sequence[Sequence[Any]] = await greenlet_spawn(fetch, plan, arguments)
        return rows

    def _fetch_dbapi_in_greenlet(
        self, plan: _Plan, arguments: list[Any]
    ) -> Sequence[Sequence[Any]]:
        """The read through the DBAPI cursor of a pooled connection (MySQL)."""
        try:
            connection = self.engine.sync_engine.raw_connection()
        except Exception as exc:
            log.warning("a direct read found no connection: %s", exc)
            raise database_refused() from exc
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(plan.sql, arguments)
                if not plan.types_known:
                    plan.know_types([column[1] for column in cursor.description])
                rows: Sequence[Sequence[Any]] = cursor.fetchall()
            finally:
                cursor.close()
        except Exception as exc:
            dbapi_error = cast(Any, exc)  # the driver's own error class, or anything else
            if not self.dialect.is_disconnect(dbapi_error, connection.dbapi_connection, None):
                raise
            self.engine.sync_engine.pool._invalidate(connection, exc)
            log.warning("a direct read lost its connection: %s", exc)
            raise database_lost() from exc
        finally:
            connection.close()
        return rows

    def _fetch_postgresql_in_greenlet(
        self, plan: _Plan, arguments: list[Any]
    ) -> Sequence[Sequence[Any]]:
        try:
            connection = self.engine.sync_engine.raw_connection()
        except Exception as exc:  # the driver's own errors: no session wraps them here
            log.warning("a direct read found no connection: %s", exc)
            raise database_refused() from exc
        driver: Any = connection.driver_connection  # an asyncpg Connection
        try:
            if plan.types_known:
                rows: Sequence[Sequence[Any]] = await_(driver.fetch(plan.sql, *arguments))
            else:  # once: the column types, as SQLAlchemy's cursor would report them
                prepared = await_(driver.prepare(plan.sql))
                plan.know_types([attribute.type.oid for attribute in prepared.get_attributes()])
                rows = await_(prepared.fetch(*arguments))
        except Exception as exc:
            if not driver.is_closed():
                raise
            # What SQLAlchemy does for a session on a dropped connection: throw this
            # one away and every other the pool opened before it (a restarted server
            # dropped them all; each would cost a request its 503), so that the next
            # checkouts reconnect, and answer 503. `Pool._invalidate` is the call
            # SQLAlchemy's own `Connection` makes on a disconnect.
            self.engine.sync_engine.pool._invalidate(connection, exc)
            log.warning("a direct read lost its connection: %s", exc)
            raise database_lost() from exc
        finally:
            connection.close()
        return rows
