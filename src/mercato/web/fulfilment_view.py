"""What an order's page shows of its goods: where they are, each shipment, the returns.

Orders tells where the goods stand (`fulfilment`, a word here) and each shipment with
its carrier and tracking (a tracking link only for an `http(s)://` address: the
carrier's text is never made a `javascript:` link). Shipping tells the returns the
shopper asked for and their status. A line that was delivered may be sent back: the
"Return items" form has a quantity per delivered line (from 0 to what was delivered
less what earlier returns, not rejected, claim) and a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from mercato.web.api import orders, shipping
from mercato.web.order_view import order_url, when

__all__ = [
    "FULFILMENT",
    "REASON_MAX",
    "GoodsView",
    "ReturnForm",
    "ReturnLine",
    "ReturnView",
    "ShipmentView",
    "goods_view",
    "quantity_field",
    "returnable",
]

# fulfilment: what it reads on the page
FULFILMENT: dict[str, str] = {
    "unfulfilled": "Not shipped yet",
    "awaiting_shipment": "Being prepared for shipping",
    "partially_shipped": "Partly shipped",
    "shipped": "Shipped",
    "partially_delivered": "Partly delivered",
    "delivered": "Delivered",
    "partially_returned": "Partly returned",
    "returned": "Returned",
}
SHIPMENT_WORDS = {
    "created": "Being prepared",
    "pending": "Being prepared",
    "packed": "Packed",
    "shipped": "On its way",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
}
RETURN_WORDS = {
    "requested": "Requested: we will tell you where to send it",
    "accepted": "Accepted: please send the items back",
    "rejected": "Not accepted",
    "received": "Received: your refund is on its way",
    "refunded": "Refunded",
}
REASON_MAX = 1000


def _word(words: Mapping[str, str], status: str) -> str:
    return words.get(status, status.replace("_", " ").capitalize())


def _safe_link(url: str | None) -> str | None:
    """`url` when it is an http(s) address with a host, else None (shown as no link)."""
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


@dataclass(frozen=True, slots=True)
class ShipmentView:
    """A shipment as the order's page shows it."""

    number: int
    word: str
    items: tuple[str, ...]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None  # only an http(s) one


@dataclass(frozen=True, slots=True)
class ReturnView:
    """A return the shopper asked for."""

    word: str
    status: str
    items: tuple[str, ...]
    reason: str
    rejection_reason: str | None
    asked: str


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """A delivered line in the return form: how many may go back, what was typed."""

    index: int
    product_id: str
    title: str
    most: int
    value: str = ""
    error: str | None = None

    @property
    def name(self) -> str:
        """The quantity input's name."""
        return quantity_field(self.product_id)

    @property
    def id(self) -> str:
        """The quantity input's id."""
        return f"return-quantity-{self.index}"


@dataclass(frozen=True, slots=True)
class ReturnForm:
    """The "Return items" form."""

    action: str
    lines: tuple[ReturnLine, ...]
    reason: str = ""
    reason_error: str | None = None
    message: str | None = None

    @property
    def has_errors(self) -> bool:
        """Whether something in it is in error (the page opens at the form)."""
        return bool(self.message or self.reason_error or any(ln.error for ln in self.lines))


@dataclass(frozen=True, slots=True)
class GoodsView:
    """Where the order's goods are, its shipments, its returns and the return form."""

    word: str
    shipments: tuple[ShipmentView, ...]
    returns: tuple[ReturnView, ...] | None  # None: shipping could not say just now
    form: ReturnForm | None  # None: nothing delivered that may go back
    csrf_token: str
    notice: str | None = None


def quantity_field(product_id: str) -> str:
    """The name of the form's quantity input of a product."""
    return f"quantity-{product_id}"


def _titles(order: orders.Order) -> dict[str, str]:
    return {i.product_id: i.title or "A product" for i in order.items}


def _lines(
    items: Sequence[orders.ShipmentLine | shipping.Line], titles: Mapping[str, str]
) -> tuple[str, ...]:
    return tuple(f"{titles.get(i.product_id, 'A product')} × {i.quantity}" for i in items)


def returnable(order: orders.Order, returns: Sequence[shipping.Return] | None) -> dict[str, int]:
    """Units of each product that may still go back: delivered less what returns claim."""
    left: Counter[str] = Counter()
    for shipment in order.shipments:
        if shipment.status == "delivered":
            for line in shipment.items:
                left[line.product_id] += line.quantity
    for ret in returns or ():
        if ret.status != "rejected":
            for item in ret.items:
                left[item.product_id] -= item.quantity
    return {product: units for product, units in left.items() if units > 0}


def goods_view(
    order: orders.Order,
    returns: Sequence[shipping.Return] | None,
    *,
    csrf_token: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> GoodsView:
    """The goods part of `order`'s page; `values`, `errors`, `message`: a refused return."""
    titles = _titles(order)
    values, errors = values or {}, errors or {}
    shipments = tuple(
        ShipmentView(
            n,
            _word(SHIPMENT_WORDS, s.status),
            _lines(s.items, titles),
            s.carrier,
            s.tracking_number,
            _safe_link(s.tracking_url),
        )
        for n, s in enumerate(order.shipments, start=1)
    )
    returns_view = None
    if returns is not None:
        returns_view = tuple(
            ReturnView(
                _word(RETURN_WORDS, r.status),
                r.status,
                _lines(r.items, titles),
                r.reason,
                r.rejection_reason,
                when(r.created_at),
            )
            for r in returns
        )
    left = returnable(order, returns)
    # A refused post keeps its lines, even one of which nothing is left now (its error
    # says so); otherwise the lines that may still go back.
    delivered = returnable(order, None)
    products = [p for p in delivered if left.get(p) or quantity_field(p) in errors]
    form = None
    if products and returns is not None:  # unknown returns: the form might offer too much
        lines = tuple(
            ReturnLine(
                n,
                product,
                titles.get(product, "A product"),
                left.get(product, 0),
                values.get(quantity_field(product), "0"),
                errors.get(quantity_field(product)),
            )
            for n, product in enumerate(products, start=1)
        )
        form = ReturnForm(
            f"{order_url(order.id)}/returns",
            lines,
            values.get("reason", ""),
            errors.get("reason"),
            message,
        )
    return GoodsView(_word(FULFILMENT, order.fulfilment), shipments, returns_view, form, csrf_token)
