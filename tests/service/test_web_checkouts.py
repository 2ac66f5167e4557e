"""The record of each checkout form's key (`web.checkouts`), on SQLite and on PostgreSQL.

What makes a double submit one order across requests and replicas: the first post
claims the key, a second one at once learns nothing is placed yet (and waits), a
later one gets the order; a claim released or run out is taken over with the card
saved under it; another customer's key is theirs alone. The PostgreSQL half runs on
the server of MERCATO_TEST_POSTGRES_URL in a database of its own (skipped without
one, failing under MERCATO_REQUIRE_SERVERS=1); both check the migration against the
models.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.web.app import SPEC
from mercato.web.checkouts import KEEP_FOR, Checkouts, Claimed, Ordered
from mercato.web.models import WebBase
from tests.support.migrations import differences
from tests.support.servers import fresh_database

KEY = "k" * 32


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("mariadb", marks=pytest.mark.integration),
    ]
)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The web service's schema, migrated, on SQLite or on a new PostgreSQL or MariaDB one."""
    assert SPEC.migrations is not None
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
        try:
            await upgrade(db, SPEC.migrations, "web")
            yield db
        finally:
            await db.dispose()
        return
    async with fresh_database(request.param, "web") as url:
        db = Database(url)
        try:
            await upgrade(db, SPEC.migrations, "web")
            yield db
        finally:
            await db.dispose()


async def test_the_migration_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        assert await conn.run_sync(differences("web", WebBase.metadata)) == []


async def test_the_first_post_claims_the_key_and_a_second_at_once_gets_nothing(
    database: Database,
) -> None:
    clock = Clock()
    replicas = [Checkouts(database, clock=clock) for _ in range(2)]

    outcomes = await asyncio.gather(*(r.claim("ann", KEY) for r in replicas * 4))

    assert outcomes.count(Claimed(None)) == 1
    assert outcomes.count(None) == 7


async def test_a_later_post_of_the_form_gets_its_order(database: Database) -> None:
    checkouts = Checkouts(database, clock=Clock())
    assert await checkouts.claim("ann", KEY) == Claimed(None)
    await checkouts.saved_card("ann", KEY, "pm-1")

    waiting = asyncio.create_task(checkouts.claim_or_wait("ann", KEY, seconds=5))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await checkouts.ordered("ann", KEY, "order-1")

    assert await waiting == Ordered("order-1")
    assert await checkouts.claim("ann", KEY) == Ordered("order-1")


async def test_a_released_claim_goes_on_with_the_card_saved_under_it(database: Database) -> None:
    checkouts = Checkouts(database, clock=Clock())
    await checkouts.claim("ann", KEY)
    await checkouts.saved_card("ann", KEY, "pm-1")
    assert await checkouts.claim("ann", KEY) is None

    await checkouts.release("ann", KEY)

    assert await checkouts.claim("ann", KEY) == Claimed("pm-1")
    assert await checkouts.claim("ann", KEY) is None  # claimed again


async def test_a_claim_that_ran_out_is_taken_over(database: Database) -> None:
    clock = Clock()
    checkouts = Checkouts(database, clock=clock, claim_for=timedelta(seconds=30))
    await checkouts.claim("ann", KEY)  # its process then died

    clock.now += timedelta(seconds=29)
    assert await checkouts.claim("ann", KEY) is None
    clock.now += timedelta(seconds=2)
    assert await checkouts.claim("ann", KEY) == Claimed(None)


async def test_a_key_is_one_customers_only(database: Database) -> None:
    checkouts = Checkouts(database, clock=Clock())
    await checkouts.claim("ann", KEY)
    await checkouts.ordered("ann", KEY, "anns-order")

    assert await checkouts.claim("bob", KEY) == Claimed(None)


async def test_old_checkouts_are_forgotten(database: Database) -> None:
    clock = Clock()
    checkouts = Checkouts(database, clock=clock)
    await checkouts.claim("ann", "old-" + KEY)
    clock.now += KEEP_FOR + timedelta(minutes=1)
    await checkouts.claim("ann", KEY)

    assert await checkouts.delete_old() == 1
    assert await checkouts.claim("ann", "old-" + KEY) == Claimed(None)  # a new checkout
    assert await checkouts.claim("ann", KEY) is None
