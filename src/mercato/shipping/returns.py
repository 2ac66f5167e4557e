"""Returns: a customer asks to send delivered lines back; an admin accepts or rejects
it, then receives the parcel; orders refunds it (`order.returned`).

What may be returned is counted from the order's shipments: a product's delivered
quantity, less what its other returns claim (every return not rejected), within
`return_window_days` of the product's latest delivery. The order's shipments are
read locked, so two requests for one order are counted one after the other.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import Conflict, NotFound, Unprocessable, field_error
from mercato.contracts.events import OrderReturned
from mercato.contracts.shipping_events import (
    ReturnAccepted,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
)
from mercato.shipping import store
from mercato.shipping.fulfilment import lines_of
from mercato.shipping.models import Return, Shipment
from mercato.shipping.schemas import ReturnIn
from mercato.shipping.states import (
    InvalidTransition,
    ReturnStatus,
    ShipmentStatus,
    check_return_move,
)

__all__ = [
    "mark_refunded",
    "move_return",
    "request_return",
    "whole_order_back",
]

log = logging.getLogger("mercato.shipping")
_CLAIMING = frozenset(ReturnStatus) - {ReturnStatus.REJECTED}
_BACK = frozenset({ReturnStatus.RECEIVED, ReturnStatus.REFUNDED})


def _now() -> datetime:
    return datetime.now(UTC)


def _quantities(rows: list[Shipment] | list[Return]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in rows:
        for item in row.items:
            counts[item["product_id"]] += int(item["quantity"])
    return counts


def _check_lines(
    return_in: ReturnIn,
    shipments: list[Shipment],
    claims: list[Return],
    *,
    window: timedelta,
    now: datetime,
) -> None:
    """422 for products not in the order, 409 for what is not (or no more) returnable."""
    ordered = _quantities([s for s in shipments if s.status != ShipmentStatus.CANCELLED])
    delivered_rows = [s for s in shipments if s.status == ShipmentStatus.DELIVERED]
    delivered = _quantities(delivered_rows)
    claimed = _quantities([r for r in claims if r.status in _CLAIMING])
    last: dict[str, datetime] = {}
    for shipment in delivered_rows:
        for item in shipment.items:
            moment = shipment.delivered_at or shipment.updated_at
            last[item["product_id"]] = max(moment, last.get(item["product_id"], moment))
    unknown = [
        field_error(f"items.{index}.product_id", "not a product of this order")
        for index, line in enumerate(return_in.items)
        if line.product_id not in ordered
    ]
    if unknown:
        raise Unprocessable("Some products are not in this order.", errors=unknown)
    for line in return_in.items:
        product = line.product_id
        if delivered[product] == 0:
            raise Conflict(f"Product {product} has not been delivered yet.")
        if now > last[product] + window:
            raise Conflict(f"The return window of product {product} has closed.")
        left = delivered[product] - claimed[product]
        if line.quantity > left:
            raise Conflict(f"Only {max(left, 0)} of product {product} may still be returned.")


def _priced(return_in: ReturnIn, shipments: list[Shipment]) -> list[dict[str, Any]]:
    """The return's lines, each with its unit price as the order's lines had it."""
    prices = {
        item["product_id"]: item["unit_price"]
        for shipment in shipments
        for item in shipment.items
        if item.get("unit_price")
    }
    return [
        line.model_dump()
        | ({"unit_price": prices[line.product_id]} if line.product_id in prices else {})
        for line in return_in.items
    ]


async def request_return(
    session: AsyncSession,
    outbox: Outbox,
    *,
    user_id: str,
    return_in: ReturnIn,
    window_days: int,
) -> Return:
    """The customer's return of delivered lines, `requested`; `return.requested`."""
    shipments = await store.order_shipments(session, return_in.order_id, for_update=True)
    if not shipments or shipments[0].user_id != user_id:
        raise NotFound(f"No order {return_in.order_id}.")
    claims = await store.order_returns(session, return_in.order_id)
    now = _now()
    _check_lines(return_in, shipments, claims, window=timedelta(days=window_days), now=now)
    ret = Return(
        id=uuid.uuid4().hex,
        order_id=return_in.order_id,
        user_id=user_id,
        status=ReturnStatus.REQUESTED,
        items=_priced(return_in, shipments),
        reason=return_in.reason,
        created_at=now,
        updated_at=now,
    )
    session.add(ret)
    await session.flush()
    event = ReturnRequested(
        return_id=ret.id,
        order_id=ret.order_id,
        user_id=ret.user_id,
        items=lines_of(ret.items),
        reason=ret.reason,
    )
    await outbox.add(session, event, subject=ret.id)
    await session.commit()
    return ret


async def whole_order_back(session: AsyncSession, order_id: str) -> bool:
    """Whether every line of the order (its unshipped-or-not, uncancelled shipments)
    has come back in received (or refunded) returns."""
    shipments = await store.order_shipments(session, order_id)
    ordered = _quantities([s for s in shipments if s.status != ShipmentStatus.CANCELLED])
    back = _quantities(
        [r for r in await store.order_returns(session, order_id) if r.status in _BACK]
    )
    return bool(ordered) and all(back[product] >= count for product, count in ordered.items())


async def _record(session: AsyncSession, outbox: Outbox, ret: Return) -> None:
    common: dict[str, Any] = {"return_id": ret.id, "order_id": ret.order_id, "user_id": ret.user_id}
    if ret.status == ReturnStatus.ACCEPTED:
        await outbox.add(
            session, ReturnAccepted(**common, items=lines_of(ret.items)), subject=ret.id
        )
    elif ret.status == ReturnStatus.REJECTED:
        rejected = ReturnRejected(**common, reason=ret.rejection_reason or "")
        await outbox.add(session, rejected, subject=ret.id)
    elif ret.status == ReturnStatus.RECEIVED:
        whole = await whole_order_back(session, ret.order_id)
        received = ReturnReceived(**common, items=lines_of(ret.items), whole_order=whole)
        await outbox.add(session, received, subject=ret.id)


async def move_return(
    session: AsyncSession,
    outbox: Outbox,
    return_id: str,
    target: ReturnStatus,
    *,
    reason: str | None = None,
) -> Return:
    """An admin's move of a return (accept, reject, receive); 404, or 409 when not now."""
    ret = await store.get_return(session, return_id)
    if ret is None:
        raise NotFound(f"No return {return_id}.")
    try:
        check_return_move(ReturnStatus(ret.status), target)
        ret.status = target
        ret.updated_at = _now()
        if target is ReturnStatus.REJECTED:
            ret.rejection_reason = reason
        await session.flush()
        await _record(session, outbox, ret)
        await session.commit()
    except InvalidTransition as exc:
        raise Conflict(f"The return is {exc.current}: it cannot become {target}.") from None
    except StaleDataError:
        raise Conflict("The return was changed concurrently; read it again.") from None
    return ret


async def mark_refunded(session: AsyncSession, data: OrderReturned) -> bool:
    """`order.returned`: the received return is `refunded`; whether it changed.

    A return it does not know, or one not received, is logged and left: orders sends
    `order.returned` only for a `return.received`, so either is a bug to look at,
    not something to retry.
    """
    ret = await store.get_return(session, data.return_id)
    if ret is None or ret.order_id != data.order_id:
        log.warning("order.returned names return %s, which shipping does not know", data.return_id)
        return False
    if ret.status == ReturnStatus.REFUNDED:
        return False
    if ret.status != ReturnStatus.RECEIVED:
        log.warning("order.returned for return %s, which is %s", ret.id, ret.status)
        return False
    ret.status = ReturnStatus.REFUNDED
    ret.updated_at = _now()
    return True
