"""Integration test of the logs service on a real NATS server: every event, once.

The whole logs app runs in-process with its runtime's bus pointed at a namespace of
its own, so its durable consumer (`logs`, the catch-all type `">"`) is the one the
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
from mercato.chassis.events.nats_bus import MSG_ID, NatsBus
from mercato.chassis.runtime import Runtime
from mercato.logs.app import create_app
from mercato.logs.settings import load_settings
from tests.support import TokenFactory, running

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]
EVENTS_URL = "/api/logs/events"


def new(event_type: str, subject: str = "s1", **data: Any) -> Event:
    """An event of `event_type` from the tests."""
    return Event.new(event_type, subject=subject, data=data, source="tests")


@pytest.fixture
async def logs(
    tmp_path: Path, nats_url: str, nats_bus: NatsBus, tokens: TokenFactory
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The logs service consuming from `nats_bus`'s namespace, connected."""
    app = create_app(load_settings(data_dir=tmp_path, broker_url=nats_url))
    runtime: Runtime = app.state.runtime
    runtime.bus = NatsBus(nats_url, service="logs", namespace=nats_bus.namespace, fetch_timeout=0.2)
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
    nats_bus: NatsBus,
    tokens: TokenFactory,
    eventually: Eventually,
) -> None:
    _, client = logs
    admin = tokens.headers(str(uuid.uuid4()), ["admin"])
    user_id = str(uuid.uuid4())
    events = [
        new("user.registered", user_id, user_id=user_id, email="a@b.c", name="A", roles=[]),
        new("order.placed", "o-1", user_id=user_id),
        new("payment.succeeded", "pay-1", order_id="o-1", amount={"amount": 5}),
        new("giftcard.redeemed", "g-1", code="no schema knows this type"),
        new("user.registered", "u-x", user_id="u-x"),  # breaks its schema: kept anyway
    ]
    await nats_bus.publish_many(events)
    await nats_bus.publish(events[1])  # dropped by the broker (same message id)
    # A copy past the broker's de-duplication: the consumer's inbox drops it.
    headers = {MSG_ID: f"{events[2].id}.again"}
    await nats_bus.js.publish(
        nats_bus.subject(events[2].type), events[2].to_bytes(), headers=headers
    )
    sentinel = new("zz.sentinel", "end")  # handled after the copy: one consumer, in order
    await nats_bus.publish(sentinel)

    async def all_stored() -> bool:
        return sentinel.id in {item["id"] for item in await stored(client, admin)}

    await eventually(all_stored, timeout=10.0, what="every event in the audit log")
    items = await stored(client, admin)
    assert sorted(item["id"] for item in items) == sorted(e.id for e in [*events, sentinel])
    assert [item["order_id"] for item in items if item["type"] != "user.registered"][:2] == [
        "o-1",
        "o-1",
    ]
    assert await nats_bus.dead_letters() == []
    info = await nats_bus.js.consumer_info(nats_bus.stream, "logs")
    subjects = [info.config.filter_subject, *(info.config.filter_subjects or [])]
    assert f"{nats_bus.events_prefix}>" in subjects
