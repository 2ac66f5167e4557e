"""The reservation sweeper: a background task that releases expired reservations.

It starts with the service (`SPEC.on_startup`) and stops before the database closes
(`SPEC.on_shutdown`). Every `reservation_sweep_seconds` it releases each reservation
past its `expires_at`, one transaction per reservation with its events in the
outbox. Several replicas may sweep at once: each release rereads its reservation
under the row lock (the write lock on SQLite), so a reservation is released once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mercato.catalog import reservations
from mercato.catalog.settings import settings_of
from mercato.chassis.database import Database
from mercato.chassis.events import Outbox
from mercato.chassis.runtime import Runtime

__all__ = ["start_sweeper", "stop_sweeper", "sweep_forever"]

log = logging.getLogger("mercato.catalog.sweeper")
TASK = "reservation_sweeper"


async def sweep_forever(db: Database, *, outbox: Outbox, interval: float) -> None:
    """Release expired reservations every `interval` seconds until cancelled."""
    while True:
        try:
            released = await reservations.sweep(db, outbox=outbox)
        except Exception:
            log.exception("sweeping expired reservations failed; retrying")
        else:
            if released:
                log.info("released %d expired reservations", released)
        await asyncio.sleep(interval)


async def start_sweeper(runtime: Runtime) -> None:
    """Start the sweeper task of a catalog runtime."""
    if runtime.db is None or runtime.outbox is None:
        return
    interval = settings_of(runtime).reservation_sweep_seconds
    runtime.state[TASK] = asyncio.create_task(
        sweep_forever(runtime.db, outbox=runtime.outbox, interval=interval), name=TASK
    )


async def stop_sweeper(runtime: Runtime) -> None:
    """Stop the sweeper task and wait until it has."""
    task: asyncio.Task[None] | None = runtime.state.pop(TASK, None)
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
