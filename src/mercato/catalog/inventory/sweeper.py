"""The reservation sweeper: the background task that releases expired reservations.

Declared in the catalog's spec and run by the chassis (`chassis.background`): every
`reservation_sweep_seconds` it releases each reservation past its `expires_at`, one
transaction per reservation with its events in the outbox. Several replicas may
sweep at once: each release rereads its reservation under the row lock (the write
lock on SQLite), so a reservation is released once.
"""

from __future__ import annotations

import logging

from mercato.catalog.inventory import reservations
from mercato.catalog.settings import CatalogRuntime
from mercato.chassis.background import BackgroundTask

__all__ = ["SWEEPER", "sweep_expired"]

log = logging.getLogger("mercato.catalog.inventory.sweeper")


async def sweep_expired(runtime: CatalogRuntime) -> None:
    """One round: release the reservations that have expired."""
    released = await reservations.sweep(runtime.database, outbox=runtime.outbox)
    if released:
        log.info("released %d expired reservations", released)


SWEEPER: BackgroundTask[CatalogRuntime] = BackgroundTask(
    "reservation-sweeper",
    sweep_expired,
    interval=lambda runtime: runtime.settings.reservation_sweep_seconds,
)
