"""Long SQLite reads on worker threads, for `DirectReader.all_long`.

Every SQLite call of a process runs in its event loop (`sqlite_driver`): right for
reads of a few rows, which take microseconds, wrong for a read of milliseconds. A
search that ranks 10,000 matches takes 10-40 ms, and while it runs in the loop no
other request of the process moves, so that one such read in a second of cached
answers made their p99 at 16 connections 55-930 ms (docs/performance.md). Run on a
worker thread instead, it leaves the loop free, and since sqlite3 lets go of the GIL
while SQLite works, two of them use two cores.

Each worker thread opens its own read-only connection to the database file, once
(`mode=ro`: it can never write; WAL lets it read beside the writer). A worker may
wait for a lock (`busy_timeout`), which the loop never does. `close` closes them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["SqliteThreads"]

BUSY_TIMEOUT_MS = 5000


class SqliteThreads:
    """A few worker threads reading the SQLite database file at `path`."""

    def __init__(self, path: str, *, threads: int = 2) -> None:
        self.uri = f"file:{urllib.parse.quote(path)}?mode=ro"
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.uri, uri=True, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _fetch(
        self, sql: str, arguments: Sequence[Any]
    ) -> tuple[list[Sequence[Any]], Sequence[Any]]:
        cursor = self._connection().execute(sql, arguments)
        try:
            return cursor.fetchall(), cursor.description
        finally:
            cursor.close()

    async def fetch(
        self, sql: str, arguments: Sequence[Any]
    ) -> tuple[list[Sequence[Any]], Sequence[Any]]:
        """The rows of `sql` with `arguments`, and the cursor's description."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._fetch, sql, arguments)

    def close(self) -> None:
        """Stop the threads (after the reads under way) and close their connections."""
        self._executor.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
