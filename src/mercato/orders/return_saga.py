"""The return refund saga: restock a received return's lines, refund them, say so.

    received ─▶ restocking ─▶ refunding ─▶ returned      (order.returned, in the same
        │            │             │                      transaction as `returned`)
        └────────────┴─────────────┴──▶ needs_attention ─▶ (back where it stalled)

`received` is where `return.received` leaves a return (`handlers`). Its first step
checks it against the order, in one transaction with the order's row locked (so two
returns of one order are checked one after the other): the order must be confirmed
and the customer's, and no product may come back more often than it was ordered,
counting the order's earlier returns. The same transaction prices the lines at what
was paid and fixes the refund (`return_refunds`), so every retry asks for the same.
`restocking` puts the lines back on hand at the catalog, `refunding` refunds the
amount at payments (nothing to refund: no call), and `returned` ends the saga with
`order.returned` in its outbox.

As in the checkout saga (`saga`), every remote call is idempotent by the return id,
each step moves the return by compare-and-set under the worker's lease, a dependency
that is down makes a step raise `TRANSIENT` (retried later, with backoff, by
`return_runner`), and one that refuses for good raises `PERMANENT`: the return then
needs an operator, who resumes it where it stalled once the cause is fixed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.events import Outbox
from mercato.contracts.events import EventData, Line, Money, OrderReturned
from mercato.orders import returns_store as store
from mercato.orders.clients import Catalog, Payments, Rejected
from mercato.orders.models import Order, OrderReturn
from mercato.orders.return_clients import refund_return, restock_return
from mercato.orders.return_refunds import over_returned, refund_for_return
from mercato.orders.settings import OrdersSettings
from mercato.orders.shipments import lock_order, quantities

__all__ = [
    "ACTIVE",
    "NEEDS_ATTENTION",
    "RECEIVED",
    "REFUNDING",
    "RESTOCKING",
    "RETURNED",
    "LostReturnLease",
    "ReturnSaga",
    "order_adjustments",
]

log = logging.getLogger("mercato.orders.return_saga")

RECEIVED, RESTOCKING, REFUNDING = "received", "restocking", "refunding"
RETURNED, NEEDS_ATTENTION = "returned", "needs_attention"
ACTIVE = (RECEIVED, RESTOCKING, REFUNDING)
MOVES: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({RESTOCKING, NEEDS_ATTENTION}),
    RESTOCKING: frozenset({REFUNDING, NEEDS_ATTENTION}),
    REFUNDING: frozenset({RETURNED, NEEDS_ATTENTION}),
    NEEDS_ATTENTION: frozenset(ACTIVE),
    RETURNED: frozenset(),
}

Step = Callable[[OrderReturn, str], Awaitable[None]]


class LostReturnLease(Exception):
    """The return changed under the worker (another worker took it over): stop."""


def _now() -> datetime:
    return datetime.now(UTC)


def order_adjustments(order: Order) -> tuple[int, int]:
    """The order's discount and shipping in minor units (0 and 0 on an order without).

    Read from the `discount_amount` and `shipping_amount` columns that the discounts
    and shipping work adds to orders; an order stored before them has neither.
    """
    discount = getattr(order, "discount_amount", None) or 0
    shipping = getattr(order, "shipping_amount", None) or 0
    return int(discount), int(shipping)


def _value(items: list[dict[str, Any]]) -> int:
    return sum(int(i["unit_price"]["amount"]) * int(i["quantity"]) for i in items)


class ReturnSaga:
    """Runs the steps of returns' refund sagas against the catalog and payments."""

    def __init__(
        self,
        *,
        database: Database,
        outbox: Outbox,
        catalog: Catalog,
        payments: Payments,
        settings: OrdersSettings,
        lease_seconds: float,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.catalog = catalog
        self.payments = payments
        self.settings = settings
        self.lease_seconds = lease_seconds
        self._steps: dict[str, Step] = {
            RECEIVED: self._check,
            RESTOCKING: self._restock,
            REFUNDING: self._refund,
        }

    async def load(self, return_id: str) -> OrderReturn | None:
        """The return as stored now."""
        async with self.database.session() as session:
            return await store.get_return(session, return_id)

    async def step(self, ret: OrderReturn, owner: str) -> bool:
        """Run the step of the return's state; False when the saga has nothing left to do."""
        step = self._steps.get(ret.status)
        if step is None:
            return False
        await step(ret, owner)
        return True

    async def move_in(
        self,
        session: AsyncSession,
        ret: OrderReturn,
        owner: str,
        new: str,
        *,
        event: EventData | None = None,
        **fields: Any,
    ) -> None:
        """Move the return to `new` inside the caller's write transaction (and update `ret`)."""
        if new not in MOVES[ret.status]:
            raise ValueError(f"a return cannot move from {ret.status} to {new}")
        now = _now()
        active = new in ACTIVE
        fields.setdefault("deadline", now + timedelta(seconds=self.settings.step_deadline_seconds))
        if not active:
            fields["deadline"] = None
        fields["lease_owner"] = owner if active else None
        fields["lease_until"] = now + timedelta(seconds=self.lease_seconds) if active else None
        moved = await store.move(
            session, return_id=ret.id, owner=owner, expected=ret.status, new=new, now=now, **fields
        )
        if moved is None:
            raise LostReturnLease(f"return {ret.id} is no longer {ret.status} under {owner}")
        if event is not None:
            await self.outbox.add(session, event, subject=ret.order_id)
        log.info("return %s of order %s: %s -> %s", ret.id, ret.order_id, ret.status, new)
        for column, value in moved.items():
            setattr(ret, column, value)

    async def move(
        self,
        ret: OrderReturn,
        owner: str,
        new: str,
        *,
        event: EventData | None = None,
        **fields: Any,
    ) -> None:
        """Move the return to `new` (with its event) in a transaction of its own."""
        async with self.database.session() as session:
            await begin_write(session)
            await self.move_in(session, ret, owner, new, event=event, **fields)
            await session.commit()

    async def stall(self, ret: OrderReturn, owner: str, reason: str) -> None:
        """Leave the return for an operator, saying why; it resumes where it stalled."""
        stalled_in = ret.status
        await self.move(ret, owner, NEEDS_ATTENTION, reason=reason[:2000], stalled_in=stalled_in)
        log.error("return %s needs an operator (stalled in %s): %s", ret.id, stalled_in, reason)

    # -- the steps ---------------------------------------------------------------

    async def _check(self, ret: OrderReturn, owner: str) -> None:
        async with self.database.session() as session:
            await begin_write(session)
            order = await lock_order(session, ret.order_id)
            fields = await self._priced(session, ret, order)
            await self.move_in(session, ret, owner, RESTOCKING, **fields)
            await session.commit()

    async def _priced(
        self, session: AsyncSession, ret: OrderReturn, order: Order | None
    ) -> dict[str, Any]:
        """The return's lines at the prices paid and its refund; Rejected when it does not fit."""
        if order is None or order.user_id != ret.user_id:
            raise Rejected(f"the return names order {ret.order_id}, which is not its customer's")
        if order.status != "confirmed":
            raise Rejected(
                f"order {order.id} is {order.status}: only a confirmed order is returned"
            )
        returning = quantities(ret.items)
        if not returning or min(returning.values()) < 1:
            raise Rejected("a returned line has no units")
        earlier = (
            await session.scalars(
                select(OrderReturn).where(
                    OrderReturn.order_id == order.id,
                    OrderReturn.id != ret.id,
                    OrderReturn.refund_amount.is_not(None),  # checked: its lines count
                )
            )
        ).all()
        before: Counter[str] = Counter()
        for other in earlier:
            before.update(quantities(other.items))
        ordered = quantities(order.items)
        excess = over_returned(ordered=ordered, returned_before=before, returning=returning)
        if excess:
            listed = ", ".join(f"{pid} ({n} too many)" for pid, n in sorted(excess.items()))
            raise Rejected(f"more units come back than were ordered and not yet returned: {listed}")
        prices = {str(i["product_id"]): i["unit_price"] for i in order.items}
        items = [
            {"product_id": pid, "quantity": n, "unit_price": prices[pid]}
            for pid, n in returning.items()
        ]
        discount, shipping = order_adjustments(order)
        everything_back = all(before[pid] + returning[pid] >= n for pid, n in ordered.items())
        refund = refund_for_return(
            lines=[(int(i["unit_price"]["amount"]), i["quantity"]) for i in items],
            subtotal=_value(order.items),
            paid=order.total_amount if order.payment_id else 0,
            discount=discount,
            shipping=shipping,
            returned_value_before=sum(_value(other.items) for other in earlier),
            refunded_before=sum(other.refund_amount or 0 for other in earlier),
            whole_order=ret.whole_order or everything_back,
            shipping_refunded_before=any(other.shipping_refund > 0 for other in earlier),
        )
        return {
            "items": items,
            "refund_amount": refund.amount,
            "discount_share": refund.discount_share,
            "shipping_refund": refund.shipping,
            "currency": order.currency,
            "payment_id": order.payment_id,
            "whole_order": ret.whole_order or everything_back,
            "reason": None,
        }

    async def _restock(self, ret: OrderReturn, owner: str) -> None:
        await restock_return(self.catalog, return_id=ret.id, order_id=ret.order_id, items=ret.items)
        await self.move(ret, owner, REFUNDING)

    async def _refund(self, ret: OrderReturn, owner: str) -> None:
        amount, currency = ret.refund_amount or 0, ret.currency or "USD"
        fields: dict[str, Any] = {}
        if amount > 0 and ret.payment_id:
            refund = await refund_return(
                self.payments,
                return_id=ret.id,
                payment_id=ret.payment_id,
                amount=amount,
                currency=currency,
                reason=f"return {ret.id}",
            )
            fields["refund_id"] = refund.id
        event = OrderReturned(
            order_id=ret.order_id,
            user_id=ret.user_id,
            return_id=ret.id,
            items=[Line.model_validate(item) for item in ret.items],
            refund=Money(amount=amount, currency=currency),
            payment_id=ret.payment_id,
            whole_order=ret.whole_order,
        )
        await self.move(ret, owner, RETURNED, event=event, **fields)
