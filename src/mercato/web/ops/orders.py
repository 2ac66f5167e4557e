"""`/ops/orders`: find an order and see its checkout saga as a timeline.

    GET /ops/orders             a search by order id, and the orders waiting for an
                                operator (`needs_attention`)
    GET /ops/orders?id=...      goes to that order's page (303)
    GET /ops/orders/{id}        the order (lines, total, states), its saga's timeline
                                from the audit log, its payment(s) and refunds, and
                                the stock reserved for it

The order comes from the orders service (an admin reads any); the timeline is every
audit event concerning it (`GET /api/logs/events?order_id=`), in the order they
occurred; the payment from payments (by the order's `payment_id`, else among the
customer's payments, the customer being named by the audit events), and the
reservation from the catalog. A part whose service is down says so on the page; the
order itself is needed (its service down: the 503 page; none: the 404 page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_logs, ops_orders
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.errors import PageNotFound
from mercato.web.money import Money, format_money
from mercato.web.ops.access import admin, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.shopper import ShopperDep

__all__ = [
    "OrderView",
    "OrdersView",
    "PaymentView",
    "TimelineEntry",
    "order_view",
    "router",
    "timeline_entry",
]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
TIMELINE_PAGES = 5  # at most 500 events of one order
FAILED_WORDS = ("failed", "cancel", "released", "refund", "out_of_stock", "rejected", "attention")
MAX_SUMMARY = 240
UNAVAILABLE = "{part} is unavailable right now: this part of the page could not be read."


def when(moment: datetime) -> str:
    """A moment as the console shows it (UTC, to the millisecond)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


@dataclass(frozen=True, slots=True)
class AttentionRow:
    """An order waiting for an operator."""

    id: str
    href: str
    reason: str
    updated: str


@dataclass(frozen=True, slots=True)
class OrdersView:
    """The orders page: the search, and the orders waiting for an operator."""

    query: str
    attention: tuple[AttentionRow, ...] | None  # None: orders could not say
    message: str | None = None


def order_href(order_id: str) -> str:
    """The console's page of an order."""
    return f"/ops/orders/{quote(order_id, safe='')}"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of the saga."""

    at: str
    datetime: str  # ISO 8601, for <time datetime>
    type: str
    source: str
    summary: str
    failed: bool


def _shown(value: object) -> str | None:
    """A value of an event's data in a few words (None: not shown)."""
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        return format_money(Money.model_validate(value))
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return None
    return str(value)


def timeline_entry(event: ops_logs.AuditEvent, order_id: str) -> TimelineEntry:
    """An audit event as a step of an order's timeline (its data in a line)."""
    parts = []
    for key, value in event.data.items():
        shown = _shown(value)
        if shown is not None and not (key == "order_id" and value == order_id):
            parts.append(f"{key}: {shown}")
    summary = ", ".join(parts)
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    return TimelineEntry(
        at=when(event.occurred_at),
        datetime=event.occurred_at.isoformat(),
        type=event.type,
        source=event.source,
        summary=summary,
        failed=any(word in event.type for word in FAILED_WORDS),
    )


@dataclass(frozen=True, slots=True)
class PaymentView:
    """A payment of the order, with its refunds."""

    id: str
    status: str
    reason: str | None
    amount: str
    refunded: str
    created: str
    refunds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order's page."""

    id: str
    facts: tuple[tuple[str, str], ...]
    lines: tuple[tuple[str, str, str, str], ...]  # title, quantity, unit price, line total
    states: tuple[tuple[str, str, str], ...]  # when, status, reason
    timeline: tuple[TimelineEntry, ...]
    timeline_note: str | None
    payments: tuple[PaymentView, ...]
    payments_note: str | None
    reservation: tuple[tuple[str, str], ...] | None
    reservation_note: str | None
    audit_href: str


@dataclass(frozen=True, slots=True)
class Parts:
    """What the other services said about an order (a note where one could not)."""

    events: tuple[ops_logs.AuditEvent, ...] = ()
    events_note: str | None = None
    payments: tuple[tuple[ops_orders.Payment, tuple[ops_orders.Refund, ...]], ...] = ()
    payments_note: str | None = None
    reservation: ops_orders.Reservation | None = None
    reservation_note: str | None = None


def _payment_view(
    payment: ops_orders.Payment, refunds: tuple[ops_orders.Refund, ...]
) -> PaymentView:
    return PaymentView(
        id=payment.id,
        status=payment.status,
        reason=payment.reason,
        amount=format_money(payment.amount),
        refunded=format_money(payment.refunded_amount),
        created=when(payment.created_at),
        refunds=tuple(
            f"{format_money(r.amount)} {r.status}"
            + (f" ({r.failure_reason})" if r.failure_reason else "")
            for r in refunds
        ),
    )


def _reservation_facts(found: ops_orders.Reservation) -> tuple[tuple[str, str], ...]:
    facts = [
        ("Status", found.status),
        ("Units", ", ".join(f"{line.quantity} of {line.product_id}" for line in found.items)),
        ("Total", format_money(found.total)),
        ("Last change", when(found.updated_at)),
    ]
    if found.expires_at is not None:
        facts.append(("Expires", when(found.expires_at)))
    if found.reason:
        facts.append(("Reason", found.reason))
    return tuple(facts)


def order_view(order: ops_orders.Order, parts: Parts) -> OrderView:
    """The page of `order`, with what the other services said about it."""
    user = next((e.user_id for e in parts.events if e.user_id), None)
    facts = [
        ("Status", order.status),
        ("Total", format_money(order.total)),
        ("Placed", when(order.created_at)),
        ("Last change", when(order.updated_at)),
        ("Customer", user or "not in the audit log"),
    ]
    if order.reason:
        facts.insert(1, ("Reason", order.reason))
    if order.deadline is not None:
        facts.append(("Deadline of its current state", when(order.deadline)))
    reservation = parts.reservation
    no_reservation = None if reservation or parts.reservation_note else "No stock is held for it."
    return OrderView(
        id=order.id,
        facts=tuple(facts),
        lines=tuple(
            (
                line.title or line.product_id,
                str(line.quantity),
                format_money(line.unit_price),
                format_money(line.line_total),
            )
            for line in order.items
        ),
        states=tuple((when(h.at), h.status, h.reason or "") for h in order.history),
        timeline=tuple(timeline_entry(e, order.id) for e in parts.events),
        timeline_note=parts.events_note
        or (None if parts.events else "The audit log has no event of this order yet."),
        payments=tuple(_payment_view(p, r) for p, r in parts.payments),
        payments_note=parts.payments_note
        or (None if parts.payments else "No payment was made for it."),
        reservation=_reservation_facts(reservation) if reservation else None,
        reservation_note=parts.reservation_note or no_reservation,
        audit_href=f"/ops/audit?order_id={quote(order.id, safe='')}",
    )


async def _events(caller: Caller, order_id: str) -> tuple[ops_logs.AuditEvent, ...]:
    found: list[ops_logs.AuditEvent] = []
    cursor: str | None = None
    for _ in range(TIMELINE_PAGES):
        page = await ops_logs.events(caller, {"order_id": order_id}, limit=100, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tuple(found)


async def _payments(
    caller: Caller, order: ops_orders.Order, user_id: str | None
) -> tuple[tuple[ops_orders.Payment, tuple[ops_orders.Refund, ...]], ...]:
    if order.payment_id is not None:
        payments: tuple[ops_orders.Payment, ...] = (
            await ops_orders.payment(caller, order.payment_id),
        )
    elif user_id is not None:
        payments = tuple(
            p for p in await ops_orders.payments_of(caller, user_id) if p.order_id == order.id
        )
    else:
        payments = ()
    return tuple([(p, await ops_orders.refunds(caller, p.id)) for p in payments])


async def parts_of(caller: Caller, order: ops_orders.Order) -> Parts:
    """What the audit log, payments and the catalog say about `order`."""
    events: tuple[ops_logs.AuditEvent, ...] = ()
    events_note = payments_note = reservation_note = None
    payments: tuple[tuple[ops_orders.Payment, tuple[ops_orders.Refund, ...]], ...] = ()
    reservation = None
    try:
        events = await _events(caller, order.id)
    except BackendDown as exc:
        events_note = UNAVAILABLE.format(part=exc.part)
    user = next((e.user_id for e in events if e.user_id), None)
    try:
        payments = await _payments(caller, order, user)
    except BackendDown as exc:
        payments_note = UNAVAILABLE.format(part=exc.part)
    try:
        reservation = await ops_orders.reservation(caller, order.id)
    except BackendDown as exc:
        reservation_note = UNAVAILABLE.format(part=exc.part)
    return Parts(events, events_note, payments, payments_note, reservation, reservation_note)


@router.get("/ops/orders")
async def orders_page(request: Request, shopper: ShopperDep) -> Response:
    """The search by order id, and the orders that need an operator."""
    caller = await admin(shopper)
    wanted = request.query_params.get("id", "").strip()
    if wanted:
        return RedirectResponse(order_href(wanted[:200]), status_code=303)
    attention: tuple[AttentionRow, ...] | None
    try:
        async with refused_by_service():
            waiting = await ops_orders.attention(caller)
        attention = tuple(
            AttentionRow(o.id, order_href(o.id), o.reason or "", when(o.updated_at))
            for o in waiting
        )
    except BackendDown:
        attention = None
    view = OrdersView(query=wanted, attention=attention)
    return await ops_page(shopper, "ops/orders.html", "Orders", view)


@router.get("/ops/orders/{order_id}")
async def order_page(order_id: str, shopper: ShopperDep) -> Response:
    """One order, its saga's timeline, payment and reservation."""
    caller = await admin(shopper)
    async with refused_by_service():
        try:
            order = await ops_orders.order(caller, order_id)
        except ApiError as exc:
            if exc.status in (404, 422):
                raise PageNotFound(f"There is no order {order_id}.") from exc
            raise
        parts = await parts_of(caller, order)
    view = order_view(order, parts)
    return await ops_page(shopper, "ops/order.html", f"Order {order.id}", view)
