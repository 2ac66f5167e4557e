"""Integration tests of the logs service on a real PostgreSQL: the same behaviour as on SQLite.

Each test gets a database of its own, dropped afterwards (see
`tests.support.servers.fresh_postgres_database`): migrations match the models, an event
delivered twice is stored once, filters, type prefixes, time windows and paging
answer as they do on SQLite, and retention deletes what has expired.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy.engine import Connection

from mercato.chassis.runtime import Runtime
from mercato.logs import retention
from mercato.logs.app import create_app
from mercato.logs.models import LogsBase
from mercato.logs.settings import load_settings
from tests.support.apps import running
from tests.support.logs import BASE, deliver, event, listed
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration


@pytest.fixture(params=DATABASES)
async def logs(
    request: pytest.FixtureRequest, tokens: TokenFactory
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The logs service on a fresh PostgreSQL or MariaDB database, without a broker."""
    async with fresh_database(request.param, "logs") as url:
        app = create_app(load_settings(database_url=url, broker_url="", retention_days=0))
        async with running(app, tokens) as client:
            yield app, client


async def test_migrations_match_the_models(logs: tuple[FastAPI, httpx.AsyncClient]) -> None:
    runtime: Runtime[Any, Any] = logs[0].state.runtime

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"version_table": "alembic_version_logs"}
        )
        return list(compare_metadata(context, LogsBase.metadata))

    async with runtime.database.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_queries_paging_and_retention(
    logs: tuple[FastAPI, httpx.AsyncClient], tokens: TokenFactory
) -> None:
    app, client = logs
    admin = tokens.headers(str(uuid.uuid4()), ["admin"])
    story = [
        event("order.placed", subject="o-1", at=1, user_id="u-1", lines=[{"q": 1}]),
        event("payment.succeeded", subject="p-1", at=1, order_id="o-1"),
        event("order.confirmed", subject="o-1", at=2),
    ]
    noise = [event("order_x.odd", at=0), event("giftcard.redeemed", at=3, user_id="u-1")]
    await deliver(app, *reversed(story), *noise, story[0])
    assert [item["id"] for item in await listed(client, admin, order_id="o-1", limit="1")] == [
        one.id for one in sorted(story, key=lambda one: (one.occurred_at, one.id))
    ]
    assert len(await listed(client, admin, type="order.*")) == 2
    assert len(await listed(client, admin, user_id="u-1", limit="1")) == 2
    since = (BASE + timedelta(seconds=2)).isoformat()
    assert len(await listed(client, admin, since=since)) == 2
    runtime: Runtime[Any, Any] = app.state.runtime
    now = BASE + timedelta(days=30, seconds=2)
    assert await retention.run_retention(runtime.database, retention_days=30, now=now) == 3
    assert len(await listed(client, admin)) == 2
