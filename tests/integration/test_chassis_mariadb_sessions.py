"""`Database` on a real MariaDB: its connections, and the pool they share with direct reads.

MySQL's connections are not in autocommit mode (SQLAlchemy's default): the one
statement of a direct read (`database.reader`) runs in a transaction that the pool's
rollback ends when the read gives the connection back, and the next session on that
connection is transactional as before. Every connection reads committed data (READ
COMMITTED, docs/decisions.md), speaks utf8mb4 and UTC. The server is the
one of MERCATO_TEST_MARIADB_URL (skipped without one, unless MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypedDict

import pytest
from sqlalchemy import func, select, text

from mercato.chassis.data.database import Database
from mercato.chassis.data.driver_reads import DirectQuery
from tests.support.servers import fresh_mariadb_database

pytestmark = pytest.mark.integration


class ConnectionId(TypedDict):
    """The server's id of the connection."""

    id: int


CONNECTION = DirectQuery(select(func.connection_id().label("id")), ConnectionId)


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    """A `Database` on a new, empty MariaDB database, with a pool of one connection."""
    async with fresh_mariadb_database("sessions") as url:
        database = Database(url, pool_size=1)
        try:
            yield database
        finally:
            await database.dispose()


async def test_a_direct_read_gives_back_a_connection_whose_writes_roll_back(
    database: Database,
) -> None:
    # The pool's one connection serves the read, then the session: its transaction is
    # whole (the rollback undoes the insert), not autocommitted.
    async with database.session() as session:
        await session.execute(text("CREATE TABLE t (n INT)"))
    row = await database.reader.one(CONNECTION)
    assert row is not None
    async with database.session() as session:
        await session.execute(text("INSERT INTO t VALUES (1)"))
        assert (await session.execute(text("SELECT connection_id()"))).scalar_one() == row["id"]
        await session.rollback()
    async with database.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_connections_read_committed_data_in_utc(database: Database) -> None:
    async with database.session() as session:
        isolation = (await session.execute(text("SELECT @@tx_isolation"))).scalar_one()
        zone = (await session.execute(text("SELECT @@time_zone"))).scalar_one()
        charset = (await session.execute(text("SELECT @@character_set_client"))).scalar_one()
    assert (isolation, zone, charset) == ("READ-COMMITTED", "+00:00", "utf8mb4")
