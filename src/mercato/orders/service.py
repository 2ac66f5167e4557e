"""Orders: placing one from the cart (idempotently), reading and cancelling them.

Placing an order prices the cart at the catalog, then in one transaction inserts
the order (its lease held by the placing request), empties the cart and writes
`order.placed` to the outbox. The order enters `pending` and, in that same
transaction, `reserving` (its history says both): starting the reservation is only a
write, not worth a transaction of its own. The route then lets the saga runner drive
it, handing it the order as written so that it is not read again.
A cart whose prices are now in several currencies is refused (422), as a cart holds
one currency. Shipping and a discount code are priced with the items
(`checkout_pricing`): the total is items + shipping - discount, and the code's use is
recorded, under its lock, in the transaction that inserts the order. An administrator
resumes an order that needs attention, where it stalled; its customer (or an
administrator) may cancel it instead. Both are the saga runner's to do (it alone holds
orders' leases): this module checks who may ask.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import begin_write
from mercato.chassis.events import Outbox
from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error
from mercato.chassis.web.idempotency import check_replay, fingerprint
from mercato.chassis.web.paging import Page, decode_time_cursor
from mercato.contracts.events import Line, Money, OrderPlaced
from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.products import ProductOut
from mercato.orders import store
from mercato.orders.cart import currency_error, item_error
from mercato.orders.checkout_pricing import price_extras, total_of, use_discount
from mercato.orders.clients import Catalog
from mercato.orders.context import OrdersContext
from mercato.orders.models import Order, OrderHistory
from mercato.orders.pricing import DEFAULT_CURRENCY, items_total, order_line
from mercato.orders.runner import leased
from mercato.orders.schemas import CheckoutIn
from mercato.orders.states import Status

__all__ = [
    "Placement",
    "cancel_order",
    "get_order",
    "list_attention",
    "list_orders",
    "order_histories",
    "order_history",
    "place_order",
    "resume_order",
]


log = logging.getLogger("mercato.orders.service")


@dataclass(frozen=True, slots=True)
class Placement:
    """The order a checkout request stands for, and the lease owner if it is new."""

    order: Order
    owner: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _replay(order: Order, digest: str, now: datetime) -> Placement:
    """The answer to a repeated key: the first order, unless the body differs or it runs."""
    check_replay(stored=order.fingerprint, digest=digest, running=leased(order, now))
    return Placement(order=order, owner=None)


async def _priced_lines(
    session: AsyncSession, *, catalog: Catalog, user_id: str
) -> tuple[list[dict[str, Any]], int, str, dict[str, ProductOut]]:
    """The cart as order lines at current prices; 422 when empty or a product is gone."""
    lines = await store.cart_lines(session, user_id)
    if not lines:
        raise Unprocessable(
            "The cart is empty.",
            errors=[field_error("cart", "add items before checkout")],
        )
    products = await catalog.products(line.product_id for line in lines)
    missing = [line.product_id for line in lines if line.product_id not in products]
    if missing:
        raise Unprocessable(
            "Some products in the cart are no longer sold.",
            errors=[item_error(pid, "product_id", "no such product") for pid in missing],
        )
    currency = products[lines[0].product_id].price.currency  # the cart's: its first line's
    foreign = [line for line in lines if products[line.product_id].price.currency != currency]
    if foreign:
        raise Unprocessable(
            f"A cart holds one currency: it is in {currency}, but some products are now "
            "priced in another; remove them to check out.",
            errors=[
                currency_error(line.product_id, products[line.product_id].price.currency, currency)
                for line in foreign
            ],
        )
    items = [
        order_line(
            product_id=line.product_id,
            title=products[line.product_id].title,
            quantity=line.quantity,
            amount=products[line.product_id].price.amount,
            currency=products[line.product_id].price.currency,
        )
        for line in lines
    ]
    total = items_total(items)
    if total > MAX_AMOUNT:  # payments would refuse the charge (and far beyond, the column)
        raise Unprocessable(
            f"The cart's total, {total} minor units, is more than one payment may take "
            f"({MAX_AMOUNT}).",
            errors=[field_error("cart", f"the total exceeds {MAX_AMOUNT}")],
        )
    return items, total, currency or DEFAULT_CURRENCY, products


async def place_order(
    session: AsyncSession,
    *,
    outbox: Outbox,
    components: OrdersContext,
    user_id: str,
    key: str,
    order_in: CheckoutIn,
) -> Placement:
    """The order for this key: the earlier one again, or a new one from the cart."""
    digest = fingerprint(order_in.model_dump(mode="json"))
    existing = await store.find_by_key(session, user_id=user_id, key=key)
    if existing is not None:
        return _replay(existing, digest, _now())
    items, subtotal, currency, products = await _priced_lines(
        session, catalog=components.catalog, user_id=user_id
    )
    extras = await price_extras(
        session,
        shipping=components.shipping,
        user_id=user_id,
        order_in=order_in,
        items=items,
        products=products,
        currency=currency,
    )
    total = total_of(subtotal, extras)
    priced = sorted((str(item["product_id"]), int(item["quantity"])) for item in items)
    await session.rollback()  # end the read; the write below starts its own transaction
    now = _now()
    lease = components.runner.new_lease(now)
    order = Order(
        id=str(uuid.uuid4()),
        user_id=user_id,
        status=Status.RESERVING.value,  # pending, then reserving at once (below)
        items=items,
        total_amount=total,
        currency=currency,
        payment_method_id=order_in.payment_method_id,
        shipping_address=order_in.shipping_address.model_dump(mode="json"),
        payment_id=None,
        reason=None,
        idempotency_key=key,
        fingerprint=digest,
        charge_unresolved=False,
        lease_owner=lease.owner,
        lease_until=lease.until,
        attempts=0,
        created_at=now,
        updated_at=now,
        deadline=components.saga.deadline_for(Status.RESERVING, now),
        retry_at=None,
        subtotal_amount=subtotal,
        shipping_amount=extras.shipping,
        shipping_method=extras.method,
        discount_amount=extras.discount_amount,
        discount_code=extras.discount.code if extras.discount is not None else None,
    )
    try:
        await begin_write(session)
        lines = await store.cart_lines(session, user_id)
        if sorted((line.product_id, line.quantity) for line in lines) != priced:
            raise Conflict("The cart changed during checkout; check it and try again.")
        session.add(order)
        await session.flush()
        await use_discount(
            session, extras=extras, user_id=user_id, order_id=order.id, currency=currency, now=now
        )
        await store.add_history(
            session,
            order_id=order.id,
            statuses=[Status.PENDING, Status.RESERVING],
            reason=None,
            at=now,
        )
        await store.clear_cart(session, user_id)
        placed = OrderPlaced(
            order_id=order.id,
            user_id=user_id,
            items=[Line.model_validate(item) for item in items],
            total=Money(amount=total, currency=currency),
            shipping=Money(amount=extras.shipping, currency=currency),
            shipping_method=extras.method,
            discount=Money(amount=extras.discount_amount, currency=currency),
            discount_code=order.discount_code,
        )
        await outbox.add(session, placed, subject=order.id)
        await session.commit()
        session.expunge(order)  # the saga's worker moves it on; this session must not flush it
        log.info("order %s: placed, pending -> reserving", order.id)
    except IntegrityError:
        await session.rollback()
        existing = await store.find_by_key(session, user_id=user_id, key=key)
        if existing is None:
            raise
        return _replay(existing, digest, _now())
    return Placement(order=order, owner=lease.owner)


async def get_order(session: AsyncSession, *, principal: Principal, order_id: str) -> Order:
    """An order the caller may see (their own; any for an admin); 404 otherwise."""
    order = await store.get_order(session, order_id)
    if order is None or (order.user_id != principal.subject and not principal.is_admin):
        raise NotFound(f"No order {order_id}.")
    return order


async def order_history(session: AsyncSession, *, order_id: str) -> Sequence[OrderHistory]:
    """The states an order went through."""
    return await store.history(session, order_id)


async def order_histories(
    session: AsyncSession, *, order_ids: Sequence[str]
) -> dict[str, list[OrderHistory]]:
    """The states each of several orders went through, by order id."""
    return await store.histories(session, order_ids)


async def list_orders(
    session: AsyncSession,
    *,
    user_id: str | None,
    limit: int,
    cursor: str | None,
    status: Status | None = None,
) -> Page[Order]:
    """A user's orders (None: everyone's; of one status if given) newest first, keyset paged."""
    after = decode_time_cursor(cursor)
    return await store.page(session, user_id=user_id, limit=limit, after=after, status=status)


async def list_attention(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None
) -> Page[Order]:
    """Everyone's orders that wait for an operator, newest first (admins only)."""
    if not principal.is_admin:
        raise Forbidden("Only administrators see the orders that need attention.")
    return await list_orders(
        session, user_id=None, limit=limit, cursor=cursor, status=Status.NEEDS_ATTENTION
    )


async def cancel_order(
    session: AsyncSession, *, components: OrdersContext, principal: Principal, order_id: str
) -> None:
    """Cancel an order the caller may see, before shipping (see `SagaRunner.cancel`)."""
    order = await get_order(session, principal=principal, order_id=order_id)
    who = "an administrator" if principal.subject != order.user_id else "the customer"
    await session.rollback()  # end the read: the runner writes in transactions of its own
    await components.runner.cancel(order_id, reason=f"cancelled by {who}")


async def resume_order(
    session: AsyncSession, *, components: OrdersContext, principal: Principal, order_id: str
) -> None:
    """Resume an order that needs attention where it stalled (admins only; `SagaRunner.resume`)."""
    if not principal.is_admin:
        raise Forbidden("Only administrators resume orders.")
    await get_order(session, principal=principal, order_id=order_id)
    await session.rollback()  # end the read: the runner writes in transactions of its own
    await components.runner.resume(order_id)
