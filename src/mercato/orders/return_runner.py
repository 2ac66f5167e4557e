"""Drives returns' refund sagas: per-return leases, bounded retries, the sweeper, resume.

A return's saga is driven only here, never inside a request: `return.received`
leaves it `received` and the return sweeper (a background task of the service, every
`sweep_interval_seconds`) takes every unfinished return whose retry is due and that
no worker holds, leases it by compare-and-set, and runs its steps. So a crash at any
step resumes on the next start, from the state last committed.

Failures are bounded as the checkout's are (`runner`): a refusal for good
(`PERMANENT`) leaves the return `needs_attention` at once; anything else is retried
with backoff (doubling from `stale_after_seconds` up to `retry_backoff_max_seconds`,
with jitter) until `retry_limit` failed attempts or the step's deadline, then it
needs an operator too. An administrator resumes it (`POST
/api/orders/returns/{id}/resume`) in the state it stalled in.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge

from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.web.errors import Conflict
from mercato.orders import returns_store as store
from mercato.orders.models import OrderReturn
from mercato.orders.return_saga import ACTIVE, NEEDS_ATTENTION, LostReturnLease, ReturnSaga
from mercato.orders.saga import PERMANENT, TRANSIENT
from mercato.orders.settings import OrdersSettings

__all__ = ["ReturnMetrics", "ReturnRunner", "return_metrics"]

log = logging.getLogger("mercato.orders.return_runner")
SWEEP_BATCH = 20


def _now() -> datetime:
    return datetime.now(UTC)


class ReturnMetrics:
    """The return sagas' metrics in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.needs_attention = Gauge(
            "orders_returns_needs_attention",
            "Returns whose refund saga waits for an operator.",
            registry=registry,
        )
        self.ended = Counter(
            "orders_returns_ended",
            "Return refund sagas that ended, by outcome (returned, needs_attention).",
            ["outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "orders_returns_retries",
            "Failed return saga steps postponed to be tried again.",
            registry=registry,
        )
        for outcome in ("returned", NEEDS_ATTENTION):
            self.ended.labels(outcome)


_REGISTERED: WeakKeyDictionary[CollectorRegistry, ReturnMetrics] = WeakKeyDictionary()


def return_metrics(registry: CollectorRegistry) -> ReturnMetrics:
    """The return sagas' metrics in `registry`, registered there on first use only."""
    metrics = _REGISTERED.get(registry)
    if metrics is None:
        metrics = _REGISTERED[registry] = ReturnMetrics(registry)
    return metrics


class ReturnRunner:
    """Drives return sagas under per-return leases, in the sweeper and on resume."""

    def __init__(
        self,
        *,
        saga: ReturnSaga,
        database: Database,
        settings: OrdersSettings,
        metrics: ReturnMetrics,
    ) -> None:
        self.saga = saga
        self.database = database
        self.settings = settings
        self.metrics = metrics

    async def acquire(self, return_id: str, owner: str) -> bool:
        """Take the return's lease for `owner`; False when another worker holds it."""
        now = _now()
        until = now + timedelta(seconds=self.settings.lease_seconds)
        async with self.database.session() as session:
            await begin_write(session)
            taken = await store.take_lease(
                session, return_id=return_id, owner=owner, now=now, until=until
            )
            await session.commit()
        return taken

    async def release(self, return_id: str, owner: str) -> None:
        """Give the return's lease back."""
        async with self.database.session() as session:
            await begin_write(session)
            await store.release_lease(session, return_id=return_id, owner=owner)
            await session.commit()

    async def drive(self, return_id: str, owner: str) -> None:
        """Run the saga of a return whose lease `owner` holds, then give the lease back."""
        ret: OrderReturn | None = None
        try:
            ret = await self.saga.load(return_id)
            if ret is None or ret.lease_owner != owner:
                return
            deadline = ret.deadline
            if ret.status in ACTIVE and deadline is not None and _now() >= deadline:
                await self._stall(ret, owner, f"its deadline passed in {ret.status}")
                return
            while await self.saga.step(ret, owner):
                pass
            if ret.status == "returned":
                self.metrics.ended.labels("returned").inc()
        except LostReturnLease as exc:
            log.warning("stopped driving: %s", exc)
        except PERMANENT as exc:
            log.warning("return %s: a step was refused for good: %s", return_id, exc)
            await self._after_failure(ret, owner, exc, permanent=True)
        except TRANSIENT as exc:
            log.warning("return %s waits for a dependency: %s", return_id, exc)
            await self._after_failure(ret, owner, exc, permanent=False)
        except Exception as exc:
            log.exception("return %s: saga step failed unexpectedly", return_id)
            await self._after_failure(ret, owner, exc, permanent=False)
        finally:
            if ret is not None and ret.lease_owner == owner:
                try:
                    await self.release(return_id, owner)
                except Exception:
                    log.exception("return %s: giving its lease back failed", return_id)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (doubling, with jitter)."""
        base: float = self.settings.stale_after_seconds * 2.0 ** min(attempts - 1, 30)
        ceiling = min(self.settings.retry_backoff_max_seconds, base)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _stall(self, ret: OrderReturn, owner: str, reason: str) -> None:
        await self.saga.stall(ret, owner, reason)
        self.metrics.ended.labels(NEEDS_ATTENTION).inc()

    async def _after_failure(
        self, ret: OrderReturn | None, owner: str, error: Exception, *, permanent: bool
    ) -> None:
        """Leave the return for an operator, or postpone it (see the module docstring)."""
        if ret is None:
            return
        try:
            fresh = await self.saga.load(ret.id)
            if fresh is None or fresh.lease_owner != owner or fresh.status not in ACTIVE:
                return
            attempts = fresh.attempts + 1
            now = _now()
            why = ""
            if permanent:
                why = "refused for good"
            elif attempts >= self.settings.retry_limit:
                why = f"failed {attempts} times"
            elif fresh.deadline is not None and now >= fresh.deadline:
                why = f"still failing at its deadline, after {attempts} attempts"
            if why:
                await self._stall(fresh, owner, f"{fresh.status}: {why}: {error}")
                ret.lease_owner = None
                return
            retry_at = now + timedelta(seconds=self.backoff(attempts))
            async with self.database.session() as session:
                await begin_write(session)
                await store.postpone(
                    session, return_id=ret.id, owner=owner, now=now, retry_at=retry_at
                )
                await session.commit()
            self.metrics.retries.inc()
        except Exception:
            log.exception("return %s: recording a failed step failed", ret.id)

    async def sweep(self) -> int:
        """Drive every unfinished return whose retry is due, once; how many were taken."""
        now = _now()
        async with self.database.session() as session:
            ids = await store.resumable(session, statuses=ACTIVE, now=now, limit=SWEEP_BATCH)
        taken = 0
        for return_id in ids:
            owner = uuid.uuid4().hex
            if await self.acquire(return_id, owner):
                taken += 1
                await self.drive(return_id, owner)
        async with self.database.session() as session:  # counted after this round's moves
            waiting = await store.count_status(session, NEEDS_ATTENTION)
        self.metrics.needs_attention.set(waiting)
        return taken

    async def resume(self, return_id: str) -> None:
        """Put a return that needs attention back where it stalled, and drive it on.

        409 while another worker holds it, or when it does not need attention.
        """
        owner = uuid.uuid4().hex
        if not await self.acquire(return_id, owner):
            raise Conflict("The return is being worked on; try again in a moment.")
        ret = await self.saga.load(return_id)
        if ret is None or ret.status != NEEDS_ATTENTION:
            await self.release(return_id, owner)
            now = ret.status if ret is not None else "gone"
            raise Conflict(f"Only a return that needs attention can be resumed; this one is {now}.")
        target = ret.stalled_in if ret.stalled_in in ACTIVE else ACTIVE[0]
        await self.saga.move(
            ret, owner, target, reason=f"resumed by an administrator in {target}", stalled_in=None
        )
        await self.drive(return_id, owner)
