"""Payments' reconciler: settles `unknown` charges in the background.

A charge whose provider call timed out is `unknown` until the provider's record of
it is looked up (`charges.reconcile`). A repeated charge request with the same key
does that, which is how the orders saga learns the outcome; the reconciler does it
for every other such charge too (an admin's, or one whose caller gave up), every
`reconcile_interval_seconds`, for those whose attempt is older than the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from mercato.chassis.database import Database
from mercato.chassis.events import Outbox
from mercato.payments import store
from mercato.payments.charges import reconcile
from mercato.payments.provider import ProviderClient
from mercato.payments.service import now

__all__ = ["BATCH", "Reconciler"]

log = logging.getLogger("mercato.payments.reconciler")
BATCH = 20


class Reconciler:
    """Looks up, at the provider, the charges whose outcome payments does not know."""

    def __init__(
        self,
        *,
        database: Database,
        provider: ProviderClient,
        outbox: Outbox,
        lease_seconds: float,
        interval_seconds: float,
    ) -> None:
        self.database = database
        self.provider = provider
        self.outbox = outbox
        self.lease_seconds = lease_seconds
        self.interval_seconds = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Reconcile the due `unknown` payments once; how many were settled."""
        stale_before = now() - timedelta(seconds=self.lease_seconds)
        async with self.database.session() as session:
            due = list(
                await store.unknown_payments(session, stale_before=stale_before, limit=BATCH)
            )
        settled = 0
        for payment_id in due:
            async with self.database.session() as session:
                payment = await store.get_payment(session, payment_id)
                if payment is None:  # pragma: no cover - payments are never deleted
                    continue
                result = await reconcile(
                    session,
                    provider=self.provider,
                    outbox=self.outbox,
                    payment=payment,
                    lease_seconds=self.lease_seconds,
                )
                settled += result.status != payment.status
        return settled

    async def _forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("reconciling unknown charges failed; trying again later")
            await asyncio.sleep(self.interval_seconds)

    def start(self) -> None:
        """Start reconciling in the background (the first pass runs at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._forever(), name="payments-reconciler")

    async def stop(self) -> None:
        """Stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
