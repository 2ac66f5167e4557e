"""Retention: a background task that deletes events older than `retention_days`.

Started and stopped by the service's lifecycle hooks. Each run deletes in batches,
so a first run over a large backlog never holds one long transaction; a failed run
is logged and tried again at the next interval. Several replicas may run it at once:
deleting the same old rows twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from mercato.chassis.database import Database
from mercato.chassis.runtime import Runtime
from mercato.logs import service
from mercato.logs.settings import LogsSettings

__all__ = ["RETENTION_TASK", "run_retention", "settings_of", "start", "stop"]

log = logging.getLogger("mercato.logs")
RETENTION_TASK = "logs.retention"


def settings_of(runtime: Runtime) -> LogsSettings:
    """The runtime's settings, which are the logs service's."""
    settings = runtime.settings
    if not isinstance(settings, LogsSettings):
        raise TypeError("the logs service needs LogsSettings")
    return settings


async def run_retention(db: Database, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete the events that have outlived the retention; how many were deleted."""
    async with db.session() as session:
        deleted = await service.delete_expired(
            session, retention_days=retention_days, now=now or datetime.now(UTC)
        )
    if deleted:
        log.info("retention deleted %d audit events older than %d days", deleted, retention_days)
    return deleted


async def _loop(db: Database, settings: LogsSettings) -> None:
    while True:
        try:
            await run_retention(db, retention_days=settings.retention_days)
        except Exception:
            log.exception(
                "audit log retention failed; retrying in %.0fs",
                settings.retention_interval_seconds,
            )
        await asyncio.sleep(settings.retention_interval_seconds)


async def start(runtime: Runtime) -> None:
    """Startup hook: run the retention task in the background (unless kept forever)."""
    settings = settings_of(runtime)
    if settings.retention_days > 0:
        runtime.state[RETENTION_TASK] = asyncio.create_task(
            _loop(runtime.database, settings), name="logs-retention"
        )


async def stop(runtime: Runtime) -> None:
    """Shutdown hook: stop the retention task."""
    task = runtime.state.pop(RETENTION_TASK, None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
