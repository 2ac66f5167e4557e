"""Service tests of the logs service's retention and of its schema migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.chassis.runtime import Runtime
from mercato.logs import retention, service
from mercato.logs.app import SPEC, create_app
from mercato.logs.models import AuditEvent, LogsBase
from mercato.logs.settings import load_settings
from tests.support.apps import running
from tests.support.logs import BASE, deliver, event

NOW = datetime.now(UTC)


def aged(days: float) -> float:
    """The `at` offset from BASE of an event that occurred `days` before NOW."""
    return (NOW - timedelta(days=days) - BASE).total_seconds()


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The logs service, running, with retention left to the tests (kept forever)."""
    app = create_app(load_settings(data_dir=tmp_path, broker_url="", retention_days=0))
    async with running(app):
        yield app


async def stored_types(app: FastAPI) -> list[str]:
    """The types of the stored events, oldest first."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        query = select(AuditEvent.type).order_by(AuditEvent.occurred_at)
        return list(await session.scalars(query))


async def test_old_events_are_deleted(app: FastAPI) -> None:
    await deliver(
        app,
        event("very.old", at=aged(400)),
        event("just.expired", at=aged(30.01)),
        event("still.kept", at=aged(29.99)),
        event("new.one", at=aged(0)),
    )
    runtime: Runtime[Any, Any] = app.state.runtime
    deleted = await retention.run_retention(runtime.database, retention_days=30, now=NOW)
    assert deleted == 2
    assert await stored_types(app) == ["still.kept", "new.one"]
    assert await retention.run_retention(runtime.database, retention_days=30, now=NOW) == 0


async def test_zero_days_keeps_everything(app: FastAPI) -> None:
    await deliver(app, event("ancient", at=aged(3650)))
    runtime: Runtime[Any, Any] = app.state.runtime
    assert await retention.run_retention(runtime.database, retention_days=0) == 0
    assert await stored_types(app) == ["ancient"]


async def test_deletes_in_batches(app: FastAPI) -> None:
    await deliver(app, *(event(f"old.e{i}", at=aged(100 + i)) for i in range(5)))
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        deleted = await service.delete_expired(session, retention_days=90, now=NOW, batch=2)
        assert deleted == 5
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0


async def test_the_background_task_runs_and_stops(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url="", retention_interval_seconds=0.01)
    assert settings.retention_days == 90
    app = create_app(settings)
    runtime: Runtime[Any, Any] = app.state.runtime
    async with running(app):
        await deliver(app, event("too.old", at=aged(91)), event("recent", at=aged(1)))
        tasks = runtime.tasks.running
        assert [task.get_name() for task in tasks] == ["logs-retention"]
        for _ in range(200):
            if await stored_types(app) == ["recent"]:
                break
            await asyncio.sleep(0.01)
        assert await stored_types(app) == ["recent"]
    assert all(task.done() for task in tasks) and runtime.tasks.running == ()


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    assert SPEC.migrations is not None
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}")
    try:
        await upgrade(db, SPEC.migrations, "logs")
        await upgrade(db, SPEC.migrations, "logs")  # a second start is a no-op

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(
                connection, opts={"version_table": "alembic_version_logs"}
            )
            return list(compare_metadata(context, LogsBase.metadata))

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await db.dispose()
