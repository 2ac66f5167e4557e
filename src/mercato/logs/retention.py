"""Retention: a background task that deletes events older than `retention_days`.

Declared in the logs service's spec and run by the chassis (`chassis.background`)
every `retention_interval_seconds`, unless `retention_days` is 0. Each run deletes
in batches, so a first run over a large backlog never holds one long transaction; a
failed run is logged and tried again later. Several replicas may run it at once:
deleting the same old rows twice is harmless.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from mercato.chassis.background import BackgroundTask
from mercato.chassis.data.database import Database
from mercato.chassis.runtime import Runtime
from mercato.logs import service
from mercato.logs.settings import LogsSettings

__all__ = ["RETENTION", "LogsRuntime", "retain", "run_retention"]

log = logging.getLogger("mercato.logs")
LogsRuntime = Runtime[LogsSettings, None]


async def run_retention(db: Database, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete the events that have outlived the retention; how many were deleted."""
    async with db.session() as session:
        deleted = await service.delete_expired(
            session, retention_days=retention_days, now=now or datetime.now(UTC)
        )
    if deleted:
        log.info("retention deleted %d audit events older than %d days", deleted, retention_days)
    return deleted


async def retain(runtime: LogsRuntime) -> None:
    """One round: delete what has outlived the retention (the `logs-retention` task)."""
    await run_retention(runtime.database, retention_days=runtime.settings.retention_days)


RETENTION: BackgroundTask[LogsRuntime] = BackgroundTask(
    "logs-retention",
    retain,
    interval=lambda runtime: runtime.settings.retention_interval_seconds,
    enabled=lambda runtime: runtime.settings.retention_days > 0,  # 0 keeps events forever
)
