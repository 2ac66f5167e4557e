"""Integration test of the logs service on a real broker: every event, once.

It runs on NATS JetStream and on RabbitMQ. The whole logs app runs in-process,
configured with the test's broker URL and bus namespace (`MERCATO_BUS_NAMESPACE`),
so that its durable consumer (`logs`, the catch-all type `">"`) is the one the
service really creates, on whatever server version the test runs against.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mercato.chassis.events import Event
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.runtime import Runtime
from mercato.contracts.events import producer_of
from mercato.logs.app import create_app
from mercato.logs.settings import load_settings
from tests.integration.conftest import Broker
from tests.support.apps import running
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]
EVENTS_URL = "/api/logs/events"


def new(event_type: str, subject: str = "s1", **data: Any) -> Event:
    """An event of `event_type` from the tests."""
    source = producer_of(event_type) or "tests"  # consumers refuse another source
    return Event.new(event_type, subject=subject, data=data, source=source)


@pytest.fixture
async def logs(
    tmp_path: Path, broker: Broker, tokens: TokenFactory
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The logs service on `broker`, in its namespace by the settings, connected."""
    settings = load_settings(
        data_dir=tmp_path, broker_url=broker.url, bus_namespace=broker.namespace
    )
    app = create_app(settings)
    runtime: Runtime[Any, Any] = app.state.runtime
    broker.consumer_elsewhere("logs")
    async with running(app, tokens) as client:
        await runtime.bus_connected.wait()
        yield app, client


async def stored(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    """Every stored event, in the order they occurred."""
    response = await client.get(EVENTS_URL, params={"limit": 500}, headers=admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_every_event_type_is_stored_exactly_once(
    logs: tuple[FastAPI, httpx.AsyncClient],
    broker: Broker,
    tokens: TokenFactory,
    eventually: Eventually,
) -> None:
    _, client = logs
    bus = broker.bus
    admin = tokens.headers(str(uuid.uuid4()), ["admin"])
    user_id = str(uuid.uuid4())
    events = [
        new("user.registered", user_id, user_id=user_id, email="a@b.c", name="A", roles=[]),
        new("order.placed", "o-1", user_id=user_id),
        new("payment.succeeded", "pay-1", order_id="o-1", amount={"amount": 5}),
        new("giftcard.redeemed", "g-1", code="no schema knows this type"),
        new("user.registered", "u-x", user_id="u-x"),  # breaks its schema: kept anyway
    ]
    await bus.publish_many(events)
    # Published again: NATS drops it (same message id); RabbitMQ delivers it, and the
    # consumer's inbox drops it.
    await bus.publish(events[1])
    # A copy past any broker de-duplication (no message id): the consumer's inbox drops it.
    await broker.publish_raw(events[2].type, events[2].to_bytes())
    sentinel = new("zz.sentinel", "end")  # handled after the copies: one consumer, in order
    await bus.publish(sentinel)

    async def all_stored() -> bool:
        return sentinel.id in {item["id"] for item in await stored(client, admin)}

    await eventually(all_stored, timeout=10.0, what="every event in the audit log")
    items = await stored(client, admin)
    assert sorted(item["id"] for item in items) == sorted(e.id for e in [*events, sentinel])
    assert [item["order_id"] for item in items if item["type"] != "user.registered"][:2] == [
        "o-1",
        "o-1",
    ]
    assert await bus.dead_letters() == []
    if isinstance(bus, NatsBus):  # the consumer takes every subject, on any server version
        info = await bus.js.consumer_info(bus.stream, "logs")
        subjects = [info.config.filter_subject, *(info.config.filter_subjects or [])]
        assert f"{bus.events_prefix}>" in subjects


async def test_the_consumers_metrics_count_each_delivery_and_sample_its_lag(
    logs: tuple[FastAPI, httpx.AsyncClient], broker: Broker, eventually: Eventually
) -> None:
    app, _ = logs
    registry = app.state.metrics.registry
    runtime: Runtime[Any, Any] = app.state.runtime
    event = new("order.placed", "o-9", user_id=str(uuid.uuid4()))
    await broker.bus.publish(event)
    # A copy past any broker de-duplication: the consumer's inbox drops it.
    await broker.publish_raw(event.type, event.to_bytes())
    labels = {"service": "logs", "event_type": "order.placed"}

    def outcome(name: str) -> float:
        return float(
            registry.get_sample_value("events_handled_total", {**labels, "outcome": name}) or 0
        )

    await eventually(lambda: outcome("duplicate") == 1, what="the copy dropped")
    assert outcome("handled") == 1
    assert registry.get_sample_value("events_handler_duration_seconds_count", labels) == 2

    await runtime.sample_metrics()
    lag = {"service": "logs", "consumer": "logs"}
    assert registry.get_sample_value("events_consumer_lag_events", lag) == 0
    assert registry.get_sample_value("outbox_backlog_events", {"service": "logs"}) == 0
