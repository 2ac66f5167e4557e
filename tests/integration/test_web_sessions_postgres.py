"""The storefront's sessions on a real PostgreSQL, the production database of replicas.

The service tests run on SQLite; these repeat on the server of
MERCATO_TEST_POSTGRES_URL, in a database of their own dropped afterwards: the migration
against the models, and the statements two replicas share a session by (the claim
that lets one request alone rotate the tokens, the touch, the sweep of ended
sessions). Without a reachable server they are skipped, unless
MERCATO_REQUIRE_SERVERS=1 (CI), where they fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.web import store
from mercato.web.api.auth import Tokens
from mercato.web.app import SPEC
from mercato.web.models import WebBase
from mercato.web.sessions import Sessions, SignedIn
from mercato.web.settings import load_settings
from tests.support.migrations import differences
from tests.support.servers import DATABASES, fresh_database

pytestmark = pytest.mark.integration
TOKENS = Tokens(access_token="access-1", refresh_token="refresh-1", expires_in=900)


@pytest.fixture(params=DATABASES)
async def database(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """The web service's schema on a new PostgreSQL or MariaDB database, dropped after the test."""
    async with fresh_database(request.param, "web") as url:
        db = Database(url)
        try:
            assert SPEC.migrations is not None
            await upgrade(db, SPEC.migrations, "web")
            yield db
        finally:
            await db.dispose()


async def test_the_migration_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        assert await conn.run_sync(differences("web", WebBase.metadata)) == []


async def test_one_replica_alone_wins_the_claim_to_refresh(database: Database) -> None:
    replicas = [Sessions(database, load_settings({})) for _ in range(2)]
    _, record = await replicas[0].start(
        SignedIn("u1", "Ann", "ann@example.com", ("customer",), TOKENS)
    )
    now = datetime.now(UTC)
    stored = record.refresh_token  # sealed: the claim compares what the row holds
    assert stored is not None and "refresh-1" not in stored

    async def claim() -> bool:
        async with database.session() as db:
            return await store.claim_refresh(
                db,
                record.id_hash,
                refresh_token=stored,
                now=now,
                until=now + timedelta(seconds=15),
            )

    won = await asyncio.gather(*(claim() for _ in range(8)))

    assert sorted(won) == [False] * 7 + [True]
    async with database.session() as db:
        await store.store_tokens(
            db, record.id_hash, access_token="a2", refresh_token="r2", access_expires_at=now
        )
        found = await store.session_by_hash(db, record.id_hash)
    assert found is not None and found.refreshing_until is None and found.refresh_token == "r2"
    async with database.session() as db:  # the old refresh token can no longer be claimed
        assert not await store.claim_refresh(
            db, record.id_hash, refresh_token=stored, now=now, until=now
        )


async def test_sessions_are_found_touched_and_swept(database: Database) -> None:
    sessions = Sessions(database, load_settings({}))
    value, record = await sessions.start()
    assert (await sessions.find(value)) is not None
    later = record.last_seen_at + timedelta(minutes=30)
    sessions.clock = lambda: later
    touched = await sessions.find(value)
    assert touched is not None and touched.last_seen_at == later

    sessions.clock = lambda: later + timedelta(days=8)
    assert await sessions.delete_expired() == 1
    assert await sessions.find(value) is None
