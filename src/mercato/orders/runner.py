"""Who drives sagas, under leases only the runner hands out.

The runner is the one owner of orders' leases: a new order is inserted holding one
(`new_lease`), every other worker first takes the order's lease (a compare-and-set
on its row), each move of the saga renews it (`lease_until`), and the worker always
gives it back. Requests ask the runner: `checkout` drives a new order in a task and
waits for it up to the checkout timeout, so the client usually gets the terminal
state while a slow saga goes on in the background; `cancel` and `resume` take the
lease (409 while another worker holds it), move the order and drive it on. `sweep`
is one pass of the sweeper (a background task of the service, run at start and then
every `sweep_interval_seconds`): it takes orders whose saga stopped (a crash, a
dependency that was down) and whose retry is due, and drives them on.

A failed step is bounded. A refusal for good (`PERMANENT`) is not retried: the order
needs an operator at once. Anything else is retried with backoff (the wait doubles
from `stale_after_seconds` up to `retry_backoff_max_seconds`, with jitter) until
`retry_limit` failed attempts or the state's deadline (`step_deadline_seconds`
after the order entered it), then the order needs an operator too
(`needs_attention`, its reason in the history, counted in `orders_needs_attention`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.web.errors import Conflict
from mercato.orders import store
from mercato.orders.models import Order
from mercato.orders.saga import PERMANENT, TRANSIENT, LostLease, Saga
from mercato.orders.settings import OrdersSettings
from mercato.orders.shipments import refuse_if_shipped
from mercato.orders.states import ACTIVE, CANCELLABLE, MACHINE, Status, stalled_in

__all__ = ["Lease", "SagaRunner", "leased", "new_owner"]

log = logging.getLogger("mercato.orders.runner")
SWEEP_BATCH = 20


def _now() -> datetime:
    return datetime.now(UTC)


def _overdue(order: Order, now: datetime) -> bool:
    """Whether an order has stayed in a state with a deadline past it."""
    deadline = order.deadline
    return MACHINE[Status(order.status)].deadline and deadline is not None and now >= deadline


def new_owner() -> str:
    """A fresh lease owner id for one worker's turn at an order."""
    return uuid.uuid4().hex


def leased(order: Order, now: datetime) -> bool:
    """Whether a worker holds a live lease on the order (its saga is being driven)."""
    until = order.lease_until if order.lease_owner is not None else None
    return until is not None and until > now


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on an order: who holds it, and until when."""

    owner: str
    until: datetime


# What a request does first to the order whose lease it took (the order as stored,
# the lease's owner): move it or refuse (a problem), and say whether to drive it on.
Start = Callable[[Order | None, str], Awaitable[bool]]


class SagaRunner:
    """Drives sagas under per-order leases, in requests and in the background sweeper."""

    def __init__(self, *, saga: Saga, database: Database, settings: OrdersSettings) -> None:
        self.saga = saga
        self.database = database
        self.settings = settings
        self._tasks: set[asyncio.Task[None]] = set()
        saga.lease_until = self.lease_until  # each move renews the lease for this term

    def lease_until(self, now: datetime) -> datetime:
        """When a lease taken (or renewed) at `now` runs out."""
        return now + timedelta(seconds=self.settings.lease_seconds)

    def new_lease(self, now: datetime) -> Lease:
        """The lease a new order is inserted with, held by its placing request."""
        return Lease(owner=new_owner(), until=self.lease_until(now))

    async def acquire(self, order_id: str, owner: str) -> bool:
        """Take the order's lease for `owner`; False when another worker holds it."""
        now = _now()
        async with self.database.session() as session:
            await begin_write(session)
            taken = await store.take_lease(
                session, order_id=order_id, owner=owner, now=now, until=self.lease_until(now)
            )
            await session.commit()
        return taken

    async def release(self, order_id: str, owner: str) -> None:
        """Give the order's lease back."""
        async with self.database.session() as session:
            await begin_write(session)
            await store.release_lease(session, order_id=order_id, owner=owner)
            await session.commit()

    async def drive(
        self, order_id: str, owner: str, *, resolve: bool = False, order: Order | None = None
    ) -> None:
        """Run the saga of an order whose lease `owner` holds, then give the lease back.

        `order` is the order as its placing request just wrote it (not attached to any
        session), so that a new checkout does not read it again; otherwise it is read.
        The move that ends the saga gives the lease back itself (`saga.ENDS_DRIVE`).
        """
        given_back = False
        try:
            if order is None:
                order = await self.saga.load(order_id)
            if order is not None and order.lease_owner == owner:
                if _overdue(order, _now()):
                    await self.saga.stall(order, owner, f"its deadline passed in {order.status}")
                else:
                    while await self.saga.step(order, owner):
                        pass
                given_back = order.lease_owner is None
            if resolve:
                await self.saga.resolve_charge(order_id, owner)
        except LostLease as exc:
            log.warning("stopped driving: %s", exc)
        except PERMANENT as exc:
            log.warning("order %s: a step was refused for good: %s", order_id, exc)
            await self._after_failure(order_id, owner, exc, permanent=True)
        except TRANSIENT as exc:
            log.warning("order %s waits for a dependency: %s", order_id, exc)
            await self._after_failure(order_id, owner, exc, permanent=False)
        except Exception as exc:
            log.exception("order %s: saga step failed unexpectedly", order_id)
            await self._after_failure(order_id, owner, exc, permanent=False)
        finally:
            if not given_back:
                with contextlib.suppress(Exception):
                    await self.release(order_id, owner)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (doubling, with jitter)."""
        base: float = self.settings.stale_after_seconds * 2.0 ** min(attempts - 1, 30)
        ceiling = min(self.settings.retry_backoff_max_seconds, base)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _after_failure(
        self, order_id: str, owner: str, error: Exception, *, permanent: bool
    ) -> None:
        """Leave the order for an operator, or postpone it (see the module docstring)."""
        try:
            order = await self.saga.load(order_id)
            if order is None or order.lease_owner != owner:
                return
            attempts = order.attempts + 1
            now = _now()
            if Status(order.status) in ACTIVE:
                why = ""
                if permanent:
                    why = "refused for good"
                elif attempts >= self.settings.retry_limit:
                    why = f"failed {attempts} times"
                elif _overdue(order, now):
                    why = f"still failing at its deadline, after {attempts} attempts"
                if why:
                    await self.saga.stall(order, owner, f"{order.status}: {why}: {error}"[:2000])
                    return
            elif attempts >= self.settings.retry_limit:  # an unknown charge of a settled order
                await self._give_up_resolving(order, owner, attempts, error)
                return
            await self._postpone(order, owner, attempts, now)
        except Exception:
            log.exception("order %s: recording a failed step failed", order_id)

    async def _postpone(self, order: Order, owner: str, attempts: int, now: datetime) -> None:
        """Count a failed attempt; the sweeper tries again once the backoff has passed."""
        retry_at = now + timedelta(seconds=self.backoff(attempts))
        async with self.database.session() as session:
            await begin_write(session)
            await store.postpone(
                session, order_id=order.id, owner=owner, now=now, retry_at=retry_at
            )
            await session.commit()
        self.saga.metrics.retries.inc()

    async def _give_up_resolving(
        self, order: Order, owner: str, attempts: int, error: Exception
    ) -> None:
        """Stop asking about the charge of a settled order; an operator must look at it.

        Only orders that ended before version 0002 can be such: since then an unknown
        charge keeps its order `charging` (or `cancelling`) until it is known.
        """
        log.error(
            "order %s (%s): gave up learning its charge's outcome after %d attempts (%s); "
            "look for the payment with the key %s:charge",
            order.id,
            order.status,
            attempts,
            error,
            order.id,
        )
        async with self.database.session() as session:
            await begin_write(session)
            await store.touch(
                session, order_id=order.id, owner=owner, now=_now(), charge_unresolved=False
            )
            await store.add_history(
                session,
                order_id=order.id,
                statuses=[Status(order.status)],
                reason=f"gave up learning the charge's outcome after {attempts} attempts",
                at=_now(),
            )
            await session.commit()

    def spawn(
        self, order_id: str, owner: str, *, resolve: bool = False, order: Order | None = None
    ) -> asyncio.Task[None]:
        """Drive an order in a background task that shutdown waits for."""
        task = asyncio.create_task(
            self.drive(order_id, owner, resolve=resolve, order=order), name=f"saga-{order_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def checkout(self, order: Order, owner: str) -> None:
        """Drive a new order (as its placing request wrote it), waiting at most the timeout."""
        task = self.spawn(order.id, owner, order=order)
        await asyncio.wait({task}, timeout=self.settings.checkout_timeout_seconds)

    # -- requests that move an order: cancel and resume --------------------------

    async def cancel(self, order_id: str, *, reason: str) -> None:
        """Cancel an order before shipping: refund, release its stock, end `cancelled`.

        409 while another worker holds its lease, when its checkout failed (there is
        nothing to cancel), or once one of its shipments has left (`shipments`); an
        order cancelled already is left as it is.
        """
        busy = "The order's checkout is in progress; try again in a moment."

        async def start(order: Order | None, owner: str) -> bool:
            if order is None or order.status == Status.CANCELLED:
                return False
            status = Status(order.status)
            if status in CANCELLABLE:
                # A charge whose outcome is unknown is learnt before anything is refunded.
                unresolved = order.charge_unresolved or status is Status.CHARGING
                await self.saga.move(
                    order,
                    owner,
                    Status.CANCELLING,
                    reason=reason,
                    charge_unresolved=unresolved,
                    guard=refuse_if_shipped,  # 409 once a shipment has left, the move undone
                )
            elif status is not Status.CANCELLING:
                raise Conflict(f"The order ended {status}; there is nothing to cancel.")
            return True

        await self._take_then_drive(order_id, busy, start)

    async def resume(self, order_id: str) -> None:
        """Put an order that needs attention back in the state it stalled in, and drive it.

        409 while another worker holds its lease, or when it does not need attention.
        """
        busy = "The order is being worked on; try again in a moment."

        async def start(order: Order | None, owner: str) -> bool:
            if order is None or order.status != Status.NEEDS_ATTENTION:
                now = order.status if order is not None else "gone"
                raise Conflict(
                    f"Only an order that needs attention can be resumed; this one is {now}."
                )
            async with self.database.session() as session:
                history = await store.history(session, order_id)
            target = stalled_in([Status(entry.status) for entry in history])
            reason = f"resumed by an administrator in {target}"
            await self.saga.move(order, owner, target, reason=reason)
            return True

        await self._take_then_drive(order_id, busy, start)

    async def _take_then_drive(self, order_id: str, busy: str, start: Start) -> None:
        """Take the order's lease (409 `busy` when taken), `start` it, then drive it on.

        When `start` says there is nothing to drive, or raises, the lease goes back.
        """
        owner = new_owner()
        if not await self.acquire(order_id, owner):
            raise Conflict(busy)
        drive = False
        try:
            drive = await start(await self.saga.load(order_id), owner)
        finally:
            if not drive:
                await self.release(order_id, owner)
        if drive:
            await self.drive(order_id, owner)

    # -- the sweeper's pass --------------------------------------------------------

    async def sweep(self) -> int:
        """Drive every stale unfinished order once; how many were taken."""
        now = _now()
        stale_before = now - timedelta(seconds=self.settings.stale_after_seconds)
        async with self.database.session() as session:
            ids = await store.resumable(
                session, now=now, stale_before=stale_before, limit=SWEEP_BATCH
            )
            waiting = await store.count_status(session, Status.NEEDS_ATTENTION)
            overdue = await store.count_overdue(session, now)
        self.saga.metrics.needs_attention.set(waiting)
        self.saga.metrics.overdue.set(overdue)
        taken = []
        for order_id in ids:
            owner = new_owner()
            if await self.acquire(order_id, owner):
                log.info("sweeper resumes order %s", order_id)
                taken.append(self.spawn(order_id, owner, resolve=True))
        if taken:
            await asyncio.wait(taken)
        return len(taken)

    async def stop(self) -> None:
        """Wait (within the grace period) for the sagas in flight; cancel the late ones."""
        pending = set(self._tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.settings.shutdown_grace_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
