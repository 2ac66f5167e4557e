"""What an order's page and the order history show: the status as a word, and why.

The orders service names where an order's checkout stands (`pending`, `charging`,
`payment_failed`...); a page shows it as a word a shopper reads (`Taking payment`,
`Payment failed`) and a sentence saying what it means for them. While the saga still
works on the order (`in_progress`) its page follows it: `static/shop.js` asks
`/orders/{id}/status` every second for the word and the parts that change, and
without JavaScript the page offers a link that shows the status again. Cancelling is
offered once the checkout has settled where something is left to cancel
(`confirmed`, or `needs_attention`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from mercato.web.api import orders
from mercato.web.money import format_money

if TYPE_CHECKING:  # fulfilment_view builds on this module's helpers
    from mercato.web.fulfilment_view import GoodsView

__all__ = [
    "CANCELLABLE",
    "IN_PROGRESS",
    "STATUSES",
    "HistoryLine",
    "OrderHistory",
    "OrderLine",
    "OrderRow",
    "OrderView",
    "order_history",
    "order_number",
    "order_row",
    "order_url",
    "order_view",
    "status_word",
    "when",
]

# status: (the word, what it means for the shopper)
STATUSES: dict[str, tuple[str, str]] = {
    "pending": ("Placed", "We have your order and are checking the stock."),
    "reserving": ("Reserving stock", "We are setting your items aside."),
    "reserved": ("Stock reserved", "Your items are set aside; the payment is next."),
    "charging": ("Taking payment", "We are charging your card."),
    "paid": ("Paid", "Your payment went through; we are confirming the order."),
    "confirmed": ("Confirmed", "Your order is confirmed. Thank you for shopping with us!"),
    "payment_failed": (
        "Payment failed",
        "Your card was not charged ({reason}). The items are back in stock: you can "
        "order them again with another card.",
    ),
    "out_of_stock": (
        "Out of stock",
        "Some items sold out before we could set them aside. Nothing was charged.",
    ),
    "rejected": (
        "Not placed",
        "Some items can no longer be sold as they were in your cart. Nothing was charged.",
    ),
    "cancelling": ("Cancelling", "We are cancelling your order and refunding any payment."),
    "cancelled": ("Cancelled", "Your order is cancelled. Any payment has been refunded."),
    "needs_attention": (
        "Delayed",
        "Something held your order up. Our team has been told and is looking into it.",
    ),
}
IN_PROGRESS = frozenset({"pending", "reserving", "reserved", "charging", "paid", "cancelling"})
CANCELLABLE = frozenset({"confirmed", "needs_attention"})
DECLINES = {
    "declined": "the card was declined",
    "insufficient_funds": "the card has insufficient funds",
    "provider_timeout": "the payment provider did not answer",
}


def status_word(status: str) -> str:
    """The word a page shows for `status`."""
    return STATUSES.get(status, (status.replace("_", " ").capitalize(), ""))[0]


def _detail(order: orders.Order) -> str:
    text = STATUSES.get(order.status, ("", "We are working on your order."))[1]
    if "{reason}" in text:
        reason = DECLINES.get(order.reason or "", "the payment was refused")
        text = text.format(reason=reason)
    return text


def order_number(order_id: str) -> str:
    """The short number a shopper quotes: the id's first eight characters."""
    return order_id[:8].upper()


def order_url(order_id: str) -> str:
    """An order page's path."""
    return f"/orders/{quote(order_id, safe='')}"


def when(moment: datetime) -> str:
    """A moment as a page shows it: `6 Dec 2026, 10:51 UTC`."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{utc.day} {utc:%b %Y, %H:%M} UTC"


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A line of an order as ordered."""

    title: str
    quantity: int
    unit_price: str
    total: str


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """A step the order went through."""

    word: str
    at: str
    iso: str


@dataclass(frozen=True, slots=True)
class OrderView:
    """What an order's page shows."""

    id: str
    number: str
    url: str
    status: str
    word: str
    detail: str
    in_progress: bool
    placed: str
    lines: tuple[OrderLine, ...]
    total: str
    address: tuple[str, ...]
    history: tuple[HistoryLine, ...]
    can_cancel: bool
    csrf_token: str
    sums: tuple[tuple[str, str], ...] = ()  # (label, amount) between the lines and the total
    goods: GoodsView | None = None  # shipments and returns (`fulfilment_view`)

    @property
    def status_url(self) -> str:
        """Where the page's script asks for the status."""
        return f"{self.url}/status"

    @property
    def cancel_url(self) -> str:
        """Where the cancel button posts."""
        return f"{self.url}/cancel"


def _address(address: orders.ShippingAddress) -> tuple[str, ...]:
    city = " ".join(filter(None, [address.postal_code, address.city]))
    parts = [address.name, address.line1, address.line2, city, address.region, address.country]
    return tuple(p for p in parts if p)


def _sums(order: orders.Order) -> tuple[tuple[str, str], ...]:
    """Items, discount and delivery, when the order has either of the last two."""
    sums: list[tuple[str, str]] = []
    if order.discount is not None and order.discount.amount:
        sums.append((f"Discount ({order.discount_code})", "-" + format_money(order.discount)))
    if order.shipping is not None and order.shipping_method:
        price = format_money(order.shipping) if order.shipping.amount else "Free"
        sums.append((f"Delivery ({order.shipping_method})", price))
    if sums and order.subtotal is not None:
        sums.insert(0, ("Items", format_money(order.subtotal)))
    return tuple(sums)


def order_view(order: orders.Order, *, csrf_token: str) -> OrderView:
    """The page of `order`."""
    return OrderView(
        id=order.id,
        number=order_number(order.id),
        url=order_url(order.id),
        status=order.status,
        word=status_word(order.status),
        detail=_detail(order),
        in_progress=order.status in IN_PROGRESS,
        placed=when(order.created_at),
        lines=tuple(
            OrderLine(
                i.title or "A product",
                i.quantity,
                format_money(i.unit_price),
                format_money(i.line_total),
            )
            for i in order.items
        ),
        total=format_money(order.total),
        address=_address(order.shipping_address),
        history=tuple(
            HistoryLine(status_word(h.status), when(h.at), h.at.isoformat()) for h in order.history
        ),
        can_cancel=order.status in CANCELLABLE,
        csrf_token=csrf_token,
        sums=_sums(order),
    )


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order in the history."""

    number: str
    url: str
    placed: str
    items: int
    total: str
    word: str


def order_row(order: orders.Order) -> OrderRow:
    """The row of `order` in the history."""
    return OrderRow(
        order_number(order.id),
        order_url(order.id),
        when(order.created_at),
        sum(i.quantity for i in order.items),
        format_money(order.total),
        status_word(order.status),
    )


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """What the order history shows: a page of orders and the links to the others."""

    rows: tuple[OrderRow, ...]
    next_url: str | None
    first_url: str | None


def order_history(page: orders.OrderList, *, cursor: str | None) -> OrderHistory:
    """The history page of `page` (`cursor`: the one it was asked for)."""
    next_url = "/orders?" + urlencode({"after": page.next_cursor}) if page.next_cursor else None
    return OrderHistory(
        tuple(order_row(o) for o in page.items), next_url, "/orders" if cursor else None
    )
