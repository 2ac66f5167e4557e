"""The `web-sessions` task: ended sessions are deleted, so the table holds live ones only.

A session past its idle or absolute expiry is refused when it is next presented
anyway (`sessions.Sessions.find`); this removes those never presented again. Several
replicas may run it at once: deleting the same rows twice is harmless.
"""

from __future__ import annotations

import logging

from mercato.chassis.background import BackgroundTask
from mercato.web.context import WebRuntime

__all__ = ["SESSION_SWEEPER", "sweep_sessions"]

log = logging.getLogger("mercato.web.housekeeping")


async def sweep_sessions(runtime: WebRuntime) -> None:
    """One round: delete every ended session."""
    deleted = await runtime.context.sessions.delete_expired()
    if deleted:
        log.info("deleted %d ended sessions", deleted)


SESSION_SWEEPER: BackgroundTask[WebRuntime] = BackgroundTask(
    "web-sessions",
    sweep_sessions,
    interval=lambda runtime: runtime.settings.housekeeping_interval_seconds,
)
