"""A service on a real PostgreSQL whose connections the server drops (a restart, a failover).

The pool does no pre-ping, so the first request on a dropped connection fails; it
must be a 503 problem with Retry-After, not a 500, and the next request must
succeed on a fresh connection. The server is the one of MERCATO_TEST_POSTGRES_URL
(skipped without one, unless MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from mercato.users.app import create_app
from mercato.users.settings import load_settings
from tests.support.apps import running
from tests.support.servers import fresh_postgres_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

ME = "/api/users/me"


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with fresh_postgres_database("reconnect") as url:
        yield url


async def admin_connection(database_url: str) -> asyncpg.Connection:
    """A connection to the server's `postgres` database, as the test's user."""
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )


async def drop_connections(database_url: str) -> int:
    """Terminate every server connection to the database (as a restart would); how many."""
    url = make_url(database_url)
    admin = await admin_connection(database_url)
    try:
        terminated = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
        return len(terminated)
    finally:
        await admin.close()


async def test_a_dropped_connection_costs_one_503_then_the_pool_reconnects(
    tmp_path: Path, tokens: TokenFactory, database_url: str
) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="", database_url=database_url)
    headers = tokens.headers(str(uuid.uuid4()), ["customer"], email="ann@example.com", name="Ann")
    async with running(create_app(settings), tokens) as client:
        assert (await client.get(ME, headers=headers)).status_code == 200
        assert await drop_connections(database_url) >= 1  # the pool's idle connection

        lost = await client.get(ME, headers=headers)
        assert lost.status_code == 503, lost.text
        assert lost.headers["content-type"] == "application/problem+json"
        assert lost.headers["retry-after"] == "1"

        again: httpx.Response = await client.get(ME, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["email"] == "ann@example.com"


async def test_a_refused_connection_is_a_503_too(
    tmp_path: Path, tokens: TokenFactory, database_url: str
) -> None:
    # The server refuses new connections (as when it has too many clients): this was a
    # 500, while the same outage on a pooled connection was a 503.
    settings = load_settings(data_dir=tmp_path, broker_url="", database_url=database_url)
    headers = tokens.headers(str(uuid.uuid4()), ["customer"], email="bo@example.com", name="Bo")
    name = make_url(database_url).database
    admin = await admin_connection(database_url)
    try:
        async with running(create_app(settings), tokens) as client:
            assert (await client.get(ME, headers=headers)).status_code == 200
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await drop_connections(database_url)
            for _ in range(2):  # the pool's dropped connection, then a refused new one
                refused = await client.get(ME, headers=headers)
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"] == "1"
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            assert (await client.get(ME, headers=headers)).status_code == 200
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


async def test_a_restart_costs_one_503_however_many_connections_the_pool_held(
    tmp_path: Path, tokens: TokenFactory, database_url: str
) -> None:
    # A restart drops every pooled connection: the first read to meet a dead one
    # throws away all of them, so the reads after it reconnect instead of each
    # meeting a dead connection of its own.
    settings = load_settings(data_dir=tmp_path, broker_url="", database_url=database_url)
    headers = tokens.headers(str(uuid.uuid4()), ["customer"], email="cy@example.com", name="Cy")
    async with running(create_app(settings), tokens) as client:
        warm = await asyncio.gather(*(client.get(ME, headers=headers) for _ in range(16)))
        assert {answer.status_code for answer in warm} == {200}
        assert await drop_connections(database_url) >= 2  # the pool held several

        statuses = [(await client.get(ME, headers=headers)).status_code for _ in range(8)]
        assert statuses == [503] + [200] * 7, statuses
