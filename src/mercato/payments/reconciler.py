"""Payments' reconciler: settles `unknown` charges in the background.

A charge whose provider call timed out is `unknown` until the provider's record of
it is looked up (`charges.reconcile`). A repeated charge request with the same key
does that, which is how the orders saga learns the outcome; the reconciler (a
background task run by the chassis) does it for every other such charge too (an
admin's, or one whose caller gave up), every `reconcile_interval_seconds`, for those
whose attempt is older than the lease.
"""

from __future__ import annotations

from datetime import timedelta

from mercato.chassis.background import BackgroundTask
from mercato.payments import store
from mercato.payments.charges import reconcile
from mercato.payments.context import PaymentsRuntime
from mercato.payments.service import now

__all__ = ["BATCH", "RECONCILER", "reconcile_due"]

BATCH = 20


async def reconcile_due(runtime: PaymentsRuntime) -> int:
    """One round: reconcile the due `unknown` payments; how many were settled."""
    lease_seconds = runtime.settings.charge_lease_seconds
    database = runtime.database
    stale_before = now() - timedelta(seconds=lease_seconds)
    async with database.session() as session:
        due = list(await store.unknown_payments(session, stale_before=stale_before, limit=BATCH))
    settled = 0
    for payment_id in due:
        async with database.session() as session:
            payment = await store.get_payment(session, payment_id)
            if payment is None:  # pragma: no cover - payments are never deleted
                continue
            result = await reconcile(
                session,
                provider=runtime.context.provider,
                outbox=runtime.outbox,
                payment=payment,
                lease_seconds=lease_seconds,
            )
            settled += result.status != payment.status
    return settled


RECONCILER: BackgroundTask[PaymentsRuntime] = BackgroundTask(
    "payments-reconciler",
    reconcile_due,
    interval=lambda runtime: runtime.settings.reconcile_interval_seconds,
)
