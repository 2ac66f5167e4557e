"""The notifications service under test: its app on a test SMTP server, events to feed it.

Events are built as their producers publish them (the right `source`, data in the
contract's shape); `consumer(app)` is the chassis's `IdempotentConsumer` over the
app's own handlers and database, so a test delivers an event exactly as the broker's
subscription would (inbox, transaction, retry on an exception) without a broker.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mercato.chassis.events import Event, IdempotentConsumer
from mercato.chassis.runtime import Runtime
from mercato.notifications.app import create_app
from mercato.notifications.models import EVENTS
from mercato.notifications.settings import load_settings
from tests.support.mail_server import MailServer

__all__ = [
    "SHOP_URL",
    "confirmed",
    "consumer",
    "delivered",
    "failed",
    "notifications_app",
    "refunded",
    "registered",
    "shipped",
]

SHOP_URL = "https://shop.example.com"
LINES = [{"product_id": "p-1", "quantity": 2, "unit_price": {"amount": 1250, "currency": "EUR"}}]


def notifications_app(tmp_path: Path, server: MailServer, **overrides: Any) -> FastAPI:
    """The notifications service on SQLite in `tmp_path`, mailing through `server`."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "broker_url": "",
        "smtp_url": server.url,
        "smtp_timeout_seconds": 3.0,
        "shop_url": SHOP_URL,
        "shop_name": "Testshop",
        "from_address": "Testshop <shop@example.com>",
    }
    settings = load_settings(**(values | overrides))
    return create_app(settings)


def consumer(app: FastAPI) -> IdempotentConsumer:
    """The chassis consumer of the (started) app's handlers, as its subscription runs it."""
    runtime: Runtime[Any, Any] = app.state.runtime
    return IdempotentConsumer(runtime.database, EVENTS, "notifications", runtime.spec.handlers)


def _event(event_type: str, source: str, subject: str, **data: Any) -> Event:
    return Event.new(event_type, subject=subject, data=data, source=source)


def registered(user_id: str, email: str, name: str = "Ada Lovelace") -> Event:
    """`user.registered`, as auth publishes it."""
    return _event(
        "user.registered",
        "auth",
        user_id,
        user_id=user_id,
        email=email,
        name=name,
        roles=["customer"],
    )


def confirmed(user_id: str, order_id: str | None = None, amount: int = 4250) -> Event:
    """`order.confirmed`, as orders publishes it."""
    order_id = order_id or f"ord-{uuid.uuid4().hex[:10]}"
    return _event(
        "order.confirmed",
        "orders",
        order_id,
        order_id=order_id,
        user_id=user_id,
        total={"amount": amount, "currency": "EUR"},
        payment_id="pay-1",
        items=LINES,
    )


def failed(user_id: str, order_id: str) -> Event:
    """`payment.failed`, as payments publishes it."""
    return _event(
        "payment.failed",
        "payments",
        "pay-2",
        payment_id="pay-2",
        order_id=order_id,
        user_id=user_id,
        amount={"amount": 4250, "currency": "EUR"},
        reason="card_declined",
    )


def refunded(user_id: str, order_id: str) -> Event:
    """`payment.refunded`, as payments publishes it."""
    return _event(
        "payment.refunded",
        "payments",
        "pay-1",
        payment_id="pay-1",
        refund_id="ref-1",
        order_id=order_id,
        user_id=user_id,
        amount={"amount": 1999, "currency": "EUR"},
        reason="requested_by_customer",
    )


def shipped(user_id: str, order_id: str) -> Event:
    """`shipment.shipped`, as shipping publishes it."""
    return _event(
        "shipment.shipped",
        "shipping",
        "shp-1",
        shipment_id="shp-1",
        order_id=order_id,
        user_id=user_id,
        items=LINES,
        carrier="DHL",
        tracking_number="JD0146000038",
        tracking_url="https://track.example.com/JD0146000038",
    )


def delivered(user_id: str, order_id: str) -> Event:
    """`shipment.delivered`, as shipping publishes it."""
    return _event(
        "shipment.delivered",
        "shipping",
        "shp-1",
        shipment_id="shp-1",
        order_id=order_id,
        user_id=user_id,
        items=LINES,
        delivered_at="2026-12-06T12:00:00Z",
    )
