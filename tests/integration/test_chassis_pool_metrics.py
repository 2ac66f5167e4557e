"""The connection pool's metrics on a real PostgreSQL and MariaDB: what is in use, who waited.

With a pool of one connection, a second session waits until the first gives its
connection back: the wait is observed, and while it lasts the pool shows its one
connection in use. Direct reads take their connection from the same pool, so they
are counted too. The servers are those of MERCATO_TEST_POSTGRES_URL and
MERCATO_TEST_MARIADB_URL (skipped without one, unless MERCATO_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypedDict

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text

from mercato.chassis.data.database import Database
from mercato.chassis.data.driver_reads import DirectQuery
from mercato.chassis.telemetry.pool_metrics import PoolMetrics
from tests.support.metrics import sample
from tests.support.servers import DATABASES, fresh_database

pytestmark = pytest.mark.integration
LABELS = {"service": "demo"}


class One(TypedDict):
    """A constant."""

    one: int


ONE = DirectQuery(select(func.abs(1).label("one")), One)


@pytest.fixture(params=DATABASES)
async def measured(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Database, CollectorRegistry]]:
    """A `Database` with a pool of one connection, and the registry of its metrics."""
    registry = CollectorRegistry(auto_describe=True)
    metrics = PoolMetrics("demo", registry)
    async with fresh_database(request.param, "pool_metrics") as url:
        database = Database(url, pool_size=1, pool_wait=metrics.waited)
        metrics.watch(database.pool_usage)
        try:
            yield database, registry
        finally:
            await database.dispose()


async def test_a_session_waiting_for_the_only_connection_is_observed(
    measured: tuple[Database, CollectorRegistry],
) -> None:
    database, registry = measured
    assert sample(registry, "db_pool_size", LABELS) == 1
    second_started = asyncio.Event()
    in_use_while_waiting: list[float] = []

    async def second() -> None:
        second_started.set()
        async with database.session() as session:  # waits for the first's connection
            await session.execute(text("SELECT 1"))

    async with database.session() as first:
        await first.execute(text("SELECT 1"))
        waiter = asyncio.create_task(second())
        await second_started.wait()
        await asyncio.sleep(0.05)  # let it queue for the connection
        assert not waiter.done()
        in_use_while_waiting.append(sample(registry, "db_pool_connections_in_use", LABELS))
    await waiter
    assert in_use_while_waiting == [1]
    assert sample(registry, "db_pool_connections_in_use", LABELS) == 0
    assert sample(registry, "db_pool_wait_seconds_count", LABELS) == 2
    # The second checkout waited for the first session, which the test held 50 ms: it
    # is not among the checkouts under 25 ms.
    quick = sample(registry, "db_pool_wait_seconds_bucket", {**LABELS, "le": "0.025"})
    assert quick <= 1

    assert await database.reader.one(ONE) == {"one": 1}
    assert sample(registry, "db_pool_wait_seconds_count", LABELS) == 3
