"""A service on a real MariaDB whose connections the server drops (a restart, a failover).

As on PostgreSQL (`test_chassis_postgres_reconnect.py`): the pool does no pre-ping, so
the first request on a dropped connection fails; it must be a 503 problem with
Retry-After, not a 500, and the requests after it must succeed on fresh connections.
The server drops them with `KILL CONNECTION`. The server is the one of
MERCATO_TEST_MARIADB_URL (skipped without one, unless MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from mercato.chassis.data.database import Database
from mercato.users.app import create_app
from mercato.users.settings import load_settings
from tests.support.apps import running
from tests.support.servers import fresh_mariadb_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

ME = "/api/users/me"


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with fresh_mariadb_database("reconnect") as url:
        yield url


async def drop_connections(database_url: str) -> int:
    """Kill every server connection to the database (as a restart would); how many."""
    admin = Database(make_url(database_url).set(database="").render_as_string(False), pool_size=1)
    try:
        async with admin.engine.connect() as conn:
            ids = (
                (
                    await conn.execute(
                        text(
                            "SELECT id FROM information_schema.processlist "
                            "WHERE db = :db AND id <> connection_id()"
                        ),
                        {"db": make_url(database_url).database},
                    )
                )
                .scalars()
                .all()
            )
            for connection_id in ids:
                await conn.execute(text(f"KILL CONNECTION {int(connection_id)}"))
            return len(ids)
    finally:
        await admin.dispose()


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

        again = await client.get(ME, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["email"] == "ann@example.com"


async def test_a_restart_costs_one_503_however_many_connections_the_pool_held(
    tmp_path: Path, tokens: TokenFactory, database_url: str
) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="", database_url=database_url)
    headers = tokens.headers(str(uuid.uuid4()), ["customer"], email="cy@example.com", name="Cy")
    async with running(create_app(settings), tokens) as client:
        warm = await asyncio.gather(*(client.get(ME, headers=headers) for _ in range(16)))
        assert {answer.status_code for answer in warm} == {200}
        assert await drop_connections(database_url) >= 2  # the pool held several

        statuses = [(await client.get(ME, headers=headers)).status_code for _ in range(8)]
        assert statuses == [503] + [200] * 7, statuses
