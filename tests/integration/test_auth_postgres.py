"""The auth service on a real PostgreSQL: migrations, upserts, rotation, replicas.

The other service tests run on SQLite; these repeat the flows whose SQL differs by
dialect (`INSERT ... ON CONFLICT` for the throttle counters and revocations, the
atomic "mark used" of refresh tokens) on the server of MERCATO_TEST_POSTGRES_URL
(default postgres@127.0.0.1:5432, trust auth), in a database of their own that is
dropped afterwards. Without a reachable server they are skipped, unless
MERCATO_REQUIRE_SERVERS=1 (CI), where they fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from mercato.auth.models import MIGRATIONS, AuthBase
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from tests.support.apps import running
from tests.support.auth import (
    ADMIN,
    API,
    auth_app,
    bearer,
    login,
    outbox,
    problem,
    register,
    tokens_for,
)
from tests.support.servers import DATABASES, fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with fresh_database(request.param, "auth") as url:
        yield url


async def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db, MIGRATIONS, "auth")

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(
                connection, opts={"version_table": "alembic_version_auth"}
            )
            return list(compare_metadata(context, AuthBase.metadata))

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await db.dispose()


async def test_accounts_throttling_and_sessions(tmp_path: Path, database_url: str) -> None:
    app = auth_app(tmp_path, database_url=database_url, login_max_failures_per_account_source=2)
    async with running(app) as client:
        user = await register(client)
        problem(await client.post(f"{API}/register", json={**ADMIN, "name": "Again"}), 409)
        for _ in range(2):
            problem(await login(client, password="Wr0ng-password"), 401)
        blocked = await login(client)
        problem(blocked, 429)
        assert int(blocked.headers["retry-after"]) > 0

        first = await tokens_for(client, **ADMIN)
        second = (
            await client.post(f"{API}/refresh", json={"refresh_token": first["refresh_token"]})
        ).json()
        reuse = await client.post(f"{API}/refresh", json={"refresh_token": first["refresh_token"]})
        problem(reuse, 401)
        problem(await client.get(f"{API}/me", headers=bearer(second)), 401)
        assert len(await outbox(app, "auth.token_revoked")) == 2

        admin = bearer(await tokens_for(client, **ADMIN))
        roles = await client.put(
            f"{API}/users/{user['id']}/roles", json={"roles": ["admin"]}, headers=admin
        )
        assert roles.json()["roles"] == ["admin"]
        assert (await client.post(f"{API}/logout", headers=admin)).status_code == 204
        problem(await client.get(f"{API}/me", headers=admin), 401)


async def test_a_slowed_account_admits_one_attempt_per_slot_under_concurrency(
    tmp_path: Path, database_url: str
) -> None:
    """The last-resort slot is taken atomically: concurrent attempts, one admitted."""
    app = auth_app(
        tmp_path,
        database_url=database_url,
        login_max_failures_per_account=1,
        login_account_slowdown_seconds=60,
    )
    async with running(app) as client:
        await register(client)
        problem(await login(client, password="Wr0ng-password"), 401)  # the bound: slowed now
        answers = await asyncio.gather(*(login(client) for _ in range(12)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [429] * 11, statuses


async def test_replicas_share_keys_and_revocations(tmp_path: Path, database_url: str) -> None:
    one_app = auth_app(tmp_path, database_url=database_url)
    two_app = auth_app(tmp_path, database_url=database_url)
    async with running(one_app) as one, running(two_app) as two:
        admin = bearer(await tokens_for(one, **ADMIN))
        kid = (await one.post(f"{API}/keys/rotate", headers=admin)).json()["kid"]
        fresh = bearer(await tokens_for(one, **ADMIN))
        assert (await two.get(f"{API}/me", headers=fresh)).status_code == 200
        assert kid in {
            key["kid"] for key in (await two.get("/.well-known/jwks.json")).json()["keys"]
        }
        assert (await one.post(f"{API}/logout", headers=fresh)).status_code == 204
        problem(await two.get(f"{API}/me", headers=fresh), 401)
