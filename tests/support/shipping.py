"""Helpers of the shipping service tests: its app on SQLite, events handed to its
handlers as the consumer does, and its outbox read back."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from sqlalchemy import select

from mercato.chassis.events import Event
from mercato.chassis.runtime import Runtime
from mercato.shipping.app import create_app
from mercato.shipping.handlers import HANDLERS
from mercato.shipping.models import EVENTS
from mercato.shipping.settings import load_settings

API = "/api/shipping"
ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Springfield", "country": "US"}


def shipping_app(tmp_path: Path, **overrides: Any) -> FastAPI:
    """The shipping service on SQLite in tmp_path, without a broker."""
    return create_app(load_settings({}, data_dir=tmp_path, broker_url="", **overrides))


def confirmed(
    user_id: str, items: dict[str, int] | None, *, order_id: str | None = None, **extra: Any
) -> Event:
    """An `order.confirmed` event as orders publishes it, with `items` as product: qty."""
    order_id = order_id or uuid.uuid4().hex
    data: dict[str, Any] = {
        "order_id": order_id,
        "user_id": user_id,
        "total": {"amount": 1000, "currency": "USD"},
        "payment_id": "pay-1",
        **extra,
    }
    if items is not None:
        data["items"] = [
            {"product_id": p, "quantity": q, "unit_price": {"amount": 250, "currency": "USD"}}
            for p, q in items.items()
        ]
        data.setdefault("shipping_address", ADDRESS)
        data.setdefault("shipping_method", "express")
    return Event.new("order.confirmed", subject=order_id, data=data, source="orders")


def order_event(kind: str, data: dict[str, Any]) -> Event:
    """Another event of orders (`order.cancelled`, `order.returned`)."""
    return Event.new(kind, subject=str(data["order_id"]), data=data, source="orders")


async def deliver(app: FastAPI, event: Event) -> None:
    """Hand `event` to its handler in a transaction, as the consumer does."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.transaction() as session:
        await HANDLERS[event.type](session, event)


async def outbox(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    """The data of the events of `event_type` in the app's outbox, oldest first."""
    table = EVENTS.outbox
    query = select(table.c.payload).where(table.c.type == event_type).order_by(table.c.created_at)
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        return [orjson.loads(p)["data"] for (p,) in await session.execute(query)]
