"""The checkout saga: one step per state, each step's result committed before the next.

    pending    -> reserving                     (start)
    reserving  -> reserved | out_of_stock       hold and price stock at the catalog
    reserved   -> charging                      (start)
    charging   -> paid | payment_failed         charge; on failure release the stock
    paid       -> confirmed | cancelling        commit the stock; gone: compensate
    cancelling -> cancelled                     refund (if paid) and release

Every remote call is idempotent (reservations by order id, charges and refunds by
`<order_id>:charge` / `<order_id>:refund`), so a step that a crash interrupted is
simply run again. A step moves the order by compare-and-set from the state it read,
and only for the worker holding the order's lease; the event of a state change is
written to the outbox in the same transaction. A dependency that is down makes a
step raise (see `TRANSIENT`); the caller leaves the order for the sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from mercato.chassis.circuit import CircuitOpenError
from mercato.chassis.database import Database, begin_write
from mercato.chassis.events import Outbox
from mercato.chassis.http import ServiceResponseError, ServiceTimeoutError, ServiceUnavailableError
from mercato.contracts.events import Money, OrderCancelled, OrderConfirmed, OrderFailed
from mercato.orders import store
from mercato.orders.clients import Catalog, Payments, Retry
from mercato.orders.models import Order
from mercato.orders.settings import OrdersSettings
from mercato.orders.states import Status, check_transition

__all__ = ["ORDER_CANCELLED", "ORDER_CONFIRMED", "ORDER_FAILED", "TRANSIENT", "LostLease", "Saga"]

log = logging.getLogger("mercato.orders.saga")

ORDER_CONFIRMED = "order.confirmed"
ORDER_FAILED = "order.failed"
ORDER_CANCELLED = "order.cancelled"
UNREACHABLE = (ServiceUnavailableError, ServiceTimeoutError, ServiceResponseError)
TRANSIENT = (*UNREACHABLE, Retry)

Step = Callable[[Order, str], Awaitable[None]]


class LostLease(Exception):
    """The order changed under the worker (another worker took it over): stop."""


def _now() -> datetime:
    return datetime.now(UTC)


def _outcome_unknown(exc: Exception) -> bool:
    """Whether a failed charge call may still have reached payments."""
    return not isinstance(exc.__cause__, CircuitOpenError)


def priced_items(
    ordered: list[dict[str, Any]], reserved: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int, str]:
    """The order's lines with the catalog's reserved unit prices, the total and currency."""
    titles = {item["product_id"]: item.get("title") for item in ordered}
    items: list[dict[str, Any]] = []
    total = 0
    currency = ""
    for line in reserved:
        price = line["unit_price"]
        amount, unit_currency = int(price["amount"]), str(price["currency"])
        currency = currency or unit_currency
        quantity = int(line["quantity"])
        total += amount * quantity
        product_id = str(line["product_id"])
        items.append(
            {
                "product_id": product_id,
                "title": titles.get(product_id),
                "quantity": quantity,
                "unit_price": {"amount": amount, "currency": unit_currency},
            }
        )
    return items, total, currency or "USD"


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
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.catalog = catalog
        self.payments = payments
        self.settings = settings
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

    async def advance(self, order_id: str, owner: str) -> bool:
        """Run the step of the order's stored state; False when nothing is left to do."""
        order = await self.load(order_id)
        if order is None or order.lease_owner != owner:
            return False
        return await self.step(order, owner)

    async def step(self, order: Order, owner: str) -> bool:
        """Run the step of `order`'s state; False when the saga has nothing left to do.

        Every step ends in `move`, which updates `order` as it updated the row, so a
        worker reads the order once and runs step after step on it: the lease makes
        it the only writer, and a move that finds the row changed raises LostLease.
        """
        step = self._steps.get(Status(order.status))
        if step is None:
            return False
        await step(order, owner)
        return True

    async def move(
        self,
        order: Order,
        owner: str,
        new: Status,
        *,
        reason: str | None = None,
        event: tuple[str, BaseModel] | None = None,
        **fields: Any,
    ) -> None:
        """Move the order to `new` (with its event, in one transaction) and update `order`.

        LostLease when the row is no longer in the state `order` says under `owner`.
        """
        current = Status(order.status)
        check_transition(current, new)
        now = _now()
        async with self.database.session() as session:
            await begin_write(session)
            moved = await store.move(
                session,
                order_id=order.id,
                owner=owner,
                expected=current,
                new=new,
                now=now,
                lease_until=now + timedelta(seconds=self.settings.lease_seconds),
                reason=reason,
                **fields,
            )
            if moved is not None and event is not None:
                kind, data = event
                await self.outbox.add(session, kind, subject=order.id, data=data.model_dump())
            await session.commit()
        if moved is None:
            raise LostLease(f"order {order.id} is no longer {current} under {owner}")
        for column, value in moved.items():
            setattr(order, column, value)
        log.info("order %s: %s -> %s%s", order.id, current, new, f" ({reason})" if reason else "")

    async def fail(self, order: Order, owner: str, new: Status, reason: str, **fields: Any) -> None:
        """End the order in a failed state, recording `order.failed`."""
        data = OrderFailed(order_id=order.id, user_id=order.user_id, status=new, reason=reason)
        await self.move(order, owner, new, reason=reason, event=(ORDER_FAILED, data), **fields)

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
            await self.fail(order, owner, Status.OUT_OF_STOCK, reservation.reason)
            return
        items, total, currency = priced_items(order.items, reservation.items)
        await self.move(
            order, owner, Status.RESERVED, items=items, total_amount=total, currency=currency
        )

    async def _start_charging(self, order: Order, owner: str) -> None:
        await self.move(order, owner, Status.CHARGING)

    async def _charge(self, order: Order, owner: str) -> None:
        try:
            charge = await self.payments.charge(
                order_id=order.id,
                user_id=order.user_id,
                payment_method_id=order.payment_method_id,
                amount={"amount": order.total_amount, "currency": order.currency},
            )
        except UNREACHABLE as exc:
            unknown = _outcome_unknown(exc)
            await self.catalog.release(order_id=order.id)
            reason = f"the payment could not be made: {exc}"
            await self.fail(order, owner, Status.PAYMENT_FAILED, reason, charge_unresolved=unknown)
            return
        if charge.succeeded:
            await self.move(order, owner, Status.PAID, payment_id=charge.payment_id)
            return
        await self.catalog.release(order_id=order.id)
        await self.fail(order, owner, Status.PAYMENT_FAILED, charge.reason)

    async def _commit(self, order: Order, owner: str) -> None:
        if await self.catalog.commit(order_id=order.id):
            data = OrderConfirmed(
                order_id=order.id,
                user_id=order.user_id,
                total=Money(amount=order.total_amount, currency=order.currency),
                payment_id=order.payment_id or "",
            )
            await self.move(order, owner, Status.CONFIRMED, event=(ORDER_CONFIRMED, data))
            return
        reason = "the stock reservation expired before it was committed"
        await self.move(order, owner, Status.CANCELLING, reason=reason)

    async def _compensate(self, order: Order, owner: str) -> None:
        reason = order.reason or "cancelled"
        if order.payment_id:
            await self.payments.refund(
                order_id=order.id, payment_id=order.payment_id, reason=reason
            )
        await self.catalog.release(order_id=order.id)
        data = OrderCancelled(order_id=order.id, user_id=order.user_id, reason=reason)
        await self.move(order, owner, Status.CANCELLED, event=(ORDER_CANCELLED, data))

    # -- learning an unknown charge outcome ----------------------------------------

    async def resolve_charge(self, order_id: str, owner: str) -> None:
        """Ask payments again (same key) about an unknown charge; refund it if it went through."""
        order = await self.load(order_id)
        if order is None or order.lease_owner != owner or not order.charge_unresolved:
            return
        charge = await self.payments.charge(
            order_id=order.id,
            user_id=order.user_id,
            payment_method_id=order.payment_method_id,
            amount={"amount": order.total_amount, "currency": order.currency},
        )
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
