"""The real servers tests use (PostgreSQL, MariaDB, RabbitMQ, any host:port), the programs some
run (Prometheus, promtool), and free local ports.

A test that needs a server or a program skips with the reason when it does not answer
or is not installed, and fails instead under MERCATO_REQUIRE_SERVERS=1 (as CI runs).
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncmy
import asyncpg
import pytest
from sqlalchemy.engine import make_url

REQUIRE_SERVERS = "MERCATO_REQUIRE_SERVERS"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MARIADB_URL = "mysql+asyncmy://root@127.0.0.1:3306/test"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def closed_port() -> int:
    """A local port with nothing listening on it (free to listen on, too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def require_server(name: str, host: str, port: int, *, timeout: float = 1.0) -> None:
    """Skip the test (fail it under MERCATO_REQUIRE_SERVERS=1) unless host:port answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        reason = f"{name} not reachable at {host}:{port} ({exc})"
    if os.environ.get(REQUIRE_SERVERS) == "1":
        pytest.fail(f"{reason}; {REQUIRE_SERVERS}=1 requires it", pytrace=False)
    pytest.skip(reason)


def require_program(name: str, package: str) -> str:
    """The path of the program `name`; skip (fail under MERCATO_REQUIRE_SERVERS=1) without it."""
    found = shutil.which(name)
    if found is not None:
        return found
    reason = f"{name} is not installed (Debian's package {package!r})"
    if os.environ.get(REQUIRE_SERVERS) == "1":
        pytest.fail(f"{reason}; {REQUIRE_SERVERS}=1 requires it", pytrace=False)
    pytest.skip(reason)


def require_url(name: str, url: str, default_port: int) -> str:
    """`require_server` for the host and port of a URL; returns the URL."""
    parts = urlsplit(url)
    require_server(name, parts.hostname or "127.0.0.1", parts.port or default_port)
    return url


def rabbit_test_url() -> str:
    """The RabbitMQ server tests use (MERCATO_TEST_RABBIT_URL overrides), via `require_url`."""
    url = os.environ.get("MERCATO_TEST_RABBIT_URL", RABBIT_URL)
    return require_url("RabbitMQ", url, 5672)


def postgres_test_server() -> str:
    """`user[:password]@host:port` of the PostgreSQL server tests use, via `require_server`."""
    url = make_url(os.environ.get("MERCATO_TEST_POSTGRES_URL", POSTGRES_URL))
    host, port = url.host or "127.0.0.1", url.port or 5432
    require_server("PostgreSQL", host, port)
    user = url.username or "postgres"
    credentials = f"{user}:{url.password}" if url.password else user
    return f"{credentials}@{host}:{port}"


def mariadb_test_server() -> str:
    """`user[:password]@host:port` of the MariaDB server tests use, via `require_server`."""
    url = make_url(os.environ.get("MERCATO_TEST_MARIADB_URL", MARIADB_URL))
    host, port = url.host or "127.0.0.1", url.port or 3306
    require_server("MariaDB", host, port)
    user = url.username or "root"
    credentials = f"{user}:{url.password}" if url.password else user
    return f"{credentials}@{host}:{port}"


@asynccontextmanager
async def fresh_postgres_database(prefix: str, options: str = "") -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); yields its SQLAlchemy URL.

    The server comes from MERCATO_TEST_POSTGRES_URL (default: 127.0.0.1:5432, user
    postgres); a run of its own database per test keeps parallel runs apart.
    `options` go to `CREATE DATABASE` (an encoding, a template).
    """
    url = make_url(os.environ.get("MERCATO_TEST_POSTGRES_URL", POSTGRES_URL))
    require_server("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    name = f"mercato_test_{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}" {options}')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def fresh_mariadb_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty MariaDB (or MySQL) database, dropped afterwards; yields its URL.

    The server comes from MERCATO_TEST_MARIADB_URL (default: 127.0.0.1:3306, user root
    without a password), as `fresh_postgres_database` does for PostgreSQL.
    """
    url = make_url(os.environ.get("MERCATO_TEST_MARIADB_URL", MARIADB_URL))
    require_server("MariaDB", url.host or "127.0.0.1", url.port or 3306)
    name = f"mercato_test_{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncmy.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        autocommit=True,
    )
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


DATABASES = ("postgresql", "mariadb")
"""The servers `fresh_database` makes databases on: a test parametrised by these runs on both."""


@asynccontextmanager
async def fresh_database(kind: str, prefix: str) -> AsyncIterator[str]:
    """A new, empty database on the server `kind` names (one of `DATABASES`)."""
    fresh = fresh_postgres_database if kind == "postgresql" else fresh_mariadb_database
    async with fresh(prefix) as url:
        yield url
