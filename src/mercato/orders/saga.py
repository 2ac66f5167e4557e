"""The checkout saga: one step per state, each step's result committed before the next.

    pending    -> reserving                     (start; a new order is placed straight
                                                into reserving, both in its history)
    reserving  -> reserved | out_of_stock       hold and price stock at the catalog
                | rejected                      (the catalog refused the lines, or a
                                                price is now in another currency)
    reserved   -> charging                      (start; a reservation's move goes on to
                                                charging in the same transaction)
    charging   -> paid | payment_failed         charge (nothing to charge when the total
                                                is 0); on a failure release the stock
    paid       -> confirmed | cancelling        commit the stock; gone: compensate
    cancelling -> cancelled                     refund (if paid) and release

Every remote call is idempotent (reservations by order id, charges and refunds by
`<order_id>:charge` / `<order_id>:refund`), so a step that a crash interrupted is
simply run again. A step moves the order by compare-and-set from the state it read,
and only for the worker holding the order's lease (which `runner.SagaRunner` takes,
renews through each move, and gives back); the event of a state change is written
to the outbox in the same transaction, and the move that ends the saga gives the
lease back in it too. A dependency that is down, or a
charge whose outcome nobody knows yet, makes a step raise (see `TRANSIENT`): the
order stays where it is (its stock held, never failed on a guess) and the runner
tries again later, within bounds. A dependency that refuses a step for good raises
`PERMANENT`. Past the bounds, or at once for a permanent refusal, `stall` leaves the
order `needs_attention` for an operator. A move that ends an order failed or cancelled
gives its discount code's use back in the same transaction (`discounts.release`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.client.service_client import (
    ServiceResponseError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.events import Outbox
from mercato.contracts.events import (
    EventData,
    Line,
    Money,
    OrderCancelled,
    OrderConfirmed,
    OrderFailed,
)
from mercato.contracts.shipping_events import ShippingAddressData
from mercato.orders import discounts, store
from mercato.orders.clients import Catalog, Charge, Payments, Refund, Rejected, Retry
from mercato.orders.metrics import SagaMetrics
from mercato.orders.models import Order
from mercato.orders.pricing import currency_change, priced_items
from mercato.orders.settings import OrdersSettings
from mercato.orders.states import ACTIVE, FAILED, Status, check_transition, deadline_for

__all__ = [
    "PERMANENT",
    "TRANSIENT",
    "LostLease",
    "Saga",
]

log = logging.getLogger("mercato.orders.saga")

UNREACHABLE = (ServiceUnavailableError, ServiceTimeoutError, ServiceResponseError)
TRANSIENT = (*UNREACHABLE, Retry)
PERMANENT = (Rejected,)
NOTHING_TO_CHARGE = "nothing to charge: the order's total is 0"
# The states a move ends a worker's turn in: the saga has nothing left to do there
# (`needs_attention` keeps its lease until the runner gives it back: the sweeper's
# worker may still have an unknown charge to settle).
ENDS_DRIVE = frozenset(s for s in Status if s not in ACTIVE and s is not Status.NEEDS_ATTENTION)

# The states that give an order's discount code use back (in the move's transaction).
GIVES_CODE_BACK = FAILED | {Status.CANCELLED}

Step = Callable[[Order, str], Awaitable[None]]
# A check run in a move's transaction once the order's row is updated (and so locked):
# raising rolls the move back (a cancellation refused once the order has shipped).
Guard = Callable[[AsyncSession, str], Awaitable[None]]


class LostLease(Exception):
    """The order changed under the worker (another worker took it over): stop."""


def _now() -> datetime:
    return datetime.now(UTC)


def _outcome(error: Exception) -> str:
    """How a step that raised `error` ended, for its metrics (`metrics.OUTCOMES`)."""
    if isinstance(error, LostLease):
        return "lost_lease"
    return "retry" if isinstance(error, TRANSIENT) else "failed"


def _no_runner(now: datetime) -> datetime:
    raise RuntimeError("a saga moves orders only for a SagaRunner, which leases them")


class Saga:
    """Runs the steps of orders' checkout sagas against the catalog and payments."""

    def __init__(
        self,
        *,
        database: Database,
        outbox: Outbox,
        catalog: Catalog,
        payments: Payments,
        settings: OrdersSettings,
        metrics: SagaMetrics | None = None,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.catalog = catalog
        self.payments = payments
        self.settings = settings
        self.metrics = metrics or SagaMetrics()
        # When a lease renewed at a given moment runs out: the runner's to say (it sets
        # this), as it alone takes, renews and gives back leases. Each move renews the
        # mover's lease, so a saga that keeps moving never loses it to the sweeper.
        self.lease_until: Callable[[datetime], datetime] = _no_runner
        self._steps: dict[Status, Step] = {
            Status.PENDING: self._start_reserving,
            Status.RESERVING: self._reserve,
            Status.RESERVED: self._start_charging,
            Status.CHARGING: self._charge,
            Status.PAID: self._commit,
            Status.CANCELLING: self._compensate,
        }

    async def load(self, order_id: str) -> Order | None:
        """The order as stored now."""
        async with self.database.session() as session:
            return await store.get_order(session, order_id)

    def deadline_for(self, status: Status, now: datetime) -> datetime | None:
        """When an order entering `status` at `now` must have left it (None: no deadline)."""
        return deadline_for(status, now, self.settings.step_deadline_seconds)

    async def step(self, order: Order, owner: str) -> bool:
        """Run the step of `order`'s state; False when the saga has nothing left to do.

        Every step ends in `move`, which updates `order` as it updated the row, so a
        worker reads the order once and runs step after step on it: the lease makes
        it the only writer, and a move that finds the row changed raises LostLease.
        """
        step = self._steps.get(Status(order.status))
        if step is None:
            return False
        name, started = step.__name__.lstrip("_"), time.perf_counter()
        try:
            await step(order, owner)
        except Exception as exc:
            self.metrics.step(name, _outcome(exc), time.perf_counter() - started)
            raise
        self.metrics.step(name, "ok", time.perf_counter() - started)
        return True

    async def move(
        self,
        order: Order,
        owner: str,
        new: Status,
        *,
        reason: str | None = None,
        event: EventData | None = None,
        then: Status | None = None,
        guard: Guard | None = None,
        **fields: Any,
    ) -> None:
        """Move the order to `new` (with its event, in one transaction) and update `order`.

        With `guard`, that check runs in the transaction after the order's row changed,
        and what it raises undoes the move.

        With `then`, the order goes on from `new` to `then` in that same transaction
        (`new` with its reason and event in the history, then `then`): a state whose
        step is only a write is not worth a transaction of its own. A move to a state
        the saga leaves alone (`ENDS_DRIVE`) gives the lease back with it.
        LostLease when the row is no longer in the state `order` says under `owner`.
        """
        current = Status(order.status)
        check_transition(current, new)
        passed: tuple[Status, ...] = ()
        if then is not None:
            check_transition(new, then)
            passed, new = (new,), then
        now = _now()
        fields.setdefault("deadline", self.deadline_for(new, now))
        lease_until: datetime | None = self.lease_until(now)
        if new in ENDS_DRIVE:
            fields["lease_owner"] = lease_until = None
        async with self.database.session() as session:
            await begin_write(session)
            moved = await store.move(
                session,
                order_id=order.id,
                owner=owner,
                expected=current,
                new=new,
                now=now,
                lease_until=lease_until,
                reason=reason,
                passed=passed,
                **fields,
            )
            if moved is not None and guard is not None:
                await guard(session, order.id)
            if moved is not None and event is not None:
                await self.outbox.add(session, event, subject=order.id)
            if moved is not None and order.discount_code and new in GIVES_CODE_BACK:
                await discounts.release(session, order_id=order.id, now=now)
            await session.commit()
        if moved is None:
            raise LostLease(f"order {order.id} is no longer {current} under {owner}")
        for column, value in moved.items():
            setattr(order, column, value)
        for entered in (*passed, new):
            self.metrics.ended(entered)
        path = " -> ".join((current, *passed, new))
        log.info("order %s: %s%s", order.id, path, f" ({reason})" if reason else "")

    async def fail(self, order: Order, owner: str, new: Status, reason: str, **fields: Any) -> None:
        """End the order in a failed state, recording `order.failed`."""
        data = OrderFailed(order_id=order.id, user_id=order.user_id, status=new, reason=reason)
        await self.move(order, owner, new, reason=reason, event=data, **fields)

    async def stall(self, order: Order, owner: str, reason: str) -> None:
        """Leave the order for an operator (`needs_attention`), saying why in its history.

        An order that stalls while charging keeps its stock, and its charge is marked
        unresolved: whoever cancels it later first learns whether it was charged.
        """
        stalled_in = Status(order.status)
        fields: dict[str, Any] = {}
        if stalled_in is Status.CHARGING and order.total_amount > 0:
            fields["charge_unresolved"] = True
        await self.move(order, owner, Status.NEEDS_ATTENTION, reason=reason, **fields)
        self.metrics.stalled.labels(stalled_in.value).inc()
        log.error("order %s needs an operator (stalled in %s): %s", order.id, stalled_in, reason)

    # -- the steps ---------------------------------------------------------------

    async def _start_reserving(self, order: Order, owner: str) -> None:
        await self.move(order, owner, Status.RESERVING)

    async def _reserve(self, order: Order, owner: str) -> None:
        age = (_now() - order.created_at).total_seconds()
        if age > self.settings.reservation_ttl_seconds:
            reason = "the stock could not be reserved in time"
            await self.move(order, owner, Status.CANCELLING, reason=reason)
            return
        reservation = await self.catalog.reserve(
            order_id=order.id,
            items=order.items,
            ttl_seconds=self.settings.reservation_ttl_seconds,
        )
        if not reservation.ok:
            refused = Status.OUT_OF_STOCK if reservation.out_of_stock else Status.REJECTED
            await self.fail(order, owner, refused, reservation.reason)
            return
        items, total, currency = priced_items(order.items, reservation.items)
        changed = currency_change(items, order.currency)
        if changed is not None:  # a price moved to another currency after the order was placed
            await self.catalog.release(order_id=order.id)
            await self.fail(order, owner, Status.REJECTED, changed)
            return
        # The discount was priced when the order was placed; the reserved prices can
        # only cap it (a discount never exceeds the items).
        discount = min(order.discount_amount, total)
        await self.move(
            order,
            owner,
            Status.RESERVED,
            then=Status.CHARGING,
            items=items,
            subtotal_amount=total,
            discount_amount=discount,
            total_amount=total + order.shipping_amount - discount,
            currency=currency,
        )

    async def _start_charging(self, order: Order, owner: str) -> None:
        await self.move(order, owner, Status.CHARGING)

    async def _charge(self, order: Order, owner: str) -> None:
        if order.total_amount == 0:  # payments charges nothing below 1: there is no charge
            await self.move(order, owner, Status.PAID, reason=NOTHING_TO_CHARGE)
            return
        # Payments down, too slow, or not knowing the provider's answer yet: this raises
        # and the order stays `charging` with its stock held, to ask again later with
        # the same key. Only payments' own answer says that nothing was charged.
        charge = await self._ask_payments(order)
        if charge.succeeded:
            await self.move(
                order, owner, Status.PAID, payment_id=charge.payment_id, charge_unresolved=False
            )
            return
        await self.catalog.release(order_id=order.id)
        await self.fail(order, owner, Status.PAYMENT_FAILED, charge.reason, charge_unresolved=False)

    async def _ask_payments(self, order: Order) -> Charge:
        """Charge the order's total under its key (payments answers the first outcome again)."""
        return await self.payments.charge(
            order_id=order.id,
            user_id=order.user_id,
            payment_method_id=order.payment_method_id,
            amount=order.total_amount,
            currency=order.currency,
        )

    async def _commit(self, order: Order, owner: str) -> None:
        if await self.catalog.commit(order_id=order.id):
            data = OrderConfirmed(
                order_id=order.id,
                user_id=order.user_id,
                total=Money(amount=order.total_amount, currency=order.currency),
                payment_id=order.payment_id or "",
                items=[Line.model_validate(item) for item in order.items],
                shipping_address=ShippingAddressData.model_validate(order.shipping_address),
                shipping_method=order.shipping_method,
            )
            await self.move(order, owner, Status.CONFIRMED, event=data)
            return
        reason = "the stock reservation expired before it was committed"
        await self.move(order, owner, Status.CANCELLING, reason=reason)

    async def _compensate(self, order: Order, owner: str) -> None:
        reason = order.reason or "cancelled"
        fields: dict[str, Any] = {}
        payment_id = order.payment_id
        if order.charge_unresolved:  # cancelled while the charge's outcome was unknown
            if order.total_amount > 0:
                charge = await self._ask_payments(order)
                if charge.succeeded and charge.payment_id:
                    payment_id = fields["payment_id"] = charge.payment_id
            fields["charge_unresolved"] = False
        outcome = ""
        if payment_id:
            refund = await self.payments.refund(
                order_id=order.id, payment_id=payment_id, reason=reason
            )
            if refund is Refund.ALREADY:
                outcome = "the payment had been refunded in full already; no second refund"
        await self.catalog.release(order_id=order.id)
        data = OrderCancelled(order_id=order.id, user_id=order.user_id, reason=reason)
        await self.move(
            order, owner, Status.CANCELLED, reason=outcome or None, event=data, **fields
        )

    # -- learning an unknown charge outcome ----------------------------------------

    async def resolve_charge(self, order_id: str, owner: str) -> None:
        """Settle the unknown charge of an order that ended before version 0002 did so.

        Asks payments again (same key); a charge that went through is refunded.
        """
        order = await self.load(order_id)
        if order is None or order.lease_owner != owner or not order.charge_unresolved:
            return
        if Status(order.status) in ACTIVE:  # its own steps settle it
            return
        charge = await self._ask_payments(order)
        fields: dict[str, Any] = {"charge_unresolved": False}
        if charge.succeeded and charge.payment_id:
            reason = f"order {order.status}: the charge went through after all"
            await self.payments.refund(
                order_id=order.id, payment_id=charge.payment_id, reason=reason
            )
            fields["payment_id"] = charge.payment_id
        async with self.database.session() as session:
            await begin_write(session)
            await store.touch(session, order_id=order.id, owner=owner, now=_now(), **fields)
            await session.commit()
        log.info("order %s: charge outcome resolved (%s)", order.id, charge)
