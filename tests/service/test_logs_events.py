"""Service tests of the logs service's intake: every event stored once, as it is."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.chassis.events import Event, IdempotentConsumer, PoisonEvent
from mercato.chassis.runtime import Runtime
from mercato.logs.app import SPEC, create_app
from mercato.logs.models import EVENTS, AuditEvent
from mercato.logs.settings import load_settings
from tests.support.logs import EVENTS_URL, deliver, event
from tests.support.tokens import TokenFactory


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The logs service on SQLite in tmp_path, without a broker."""
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    """Headers of an admin."""
    return tokens.headers(str(uuid.uuid4()), ["admin"])


async def stored(app: FastAPI) -> int:
    """How many audit events are stored."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def test_an_event_is_stored_as_published_and_read_back(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    placed = event("order.placed", subject="o-1", source="orders", user_id="u-1", total=5)
    await deliver(app, placed)
    response = await client.get(f"{EVENTS_URL}/{placed.id}", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == placed.id and body["type"] == "order.placed"
    assert (body["source"], body["subject"], body["version"]) == ("orders", "o-1", 1)
    assert (body["user_id"], body["order_id"]) == ("u-1", "o-1")
    assert body["trace"] == placed.trace and body["data"] == {"user_id": "u-1", "total": 5}
    assert Event.model_validate(body) == placed  # envelope-like: it parses as the event
    assert body["recorded_at"] >= body["occurred_at"]


async def test_the_same_event_twice_is_stored_once(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    first = event("payment.succeeded", order_id="o-2")
    await deliver(app, first, first)
    await deliver(app, first)
    assert await stored(app) == 1


async def test_order_id_is_lifted_from_data_or_the_order_subject(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await deliver(
        app,
        event("inventory.reserved", subject="r-1", order_id="o-3"),
        event("order.confirmed", subject="o-3"),
        event("product.price_changed", subject="p-1", user_id=42),
        event("user.registered", subject="u-9", user_id={"not": "an id"}),
    )
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.type))).all()
    lifted = {row.type: (row.user_id, row.order_id) for row in rows}
    assert lifted == {
        "inventory.reserved": (None, "o-3"),
        "order.confirmed": (None, "o-3"),
        "product.price_changed": ("42", None),
        "user.registered": (None, None),
    }


async def test_consumer_takes_every_type_even_without_or_against_a_schema(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime[Any, Any] = app.state.runtime
    consumer = IdempotentConsumer(runtime.database, EVENTS, "logs", SPEC.handlers)
    unknown = event("giftcard.redeemed", code="X1")  # no schema knows this type
    broken = event("user.registered", user_id="u-1")  # breaks its schema: kept as it is
    for one in (unknown, broken, unknown, broken):
        await consumer.handle(one)
    assert await stored(app) == 2


async def test_unknown_event_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.get(f"{EVENTS_URL}/{uuid.uuid4()}", headers=admin)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_log_is_for_admins_only(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    one = event("order.placed")
    await deliver(app, one)
    customer = tokens.headers(str(uuid.uuid4()), ["customer"])
    for path in (EVENTS_URL, f"{EVENTS_URL}/{one.id}"):
        assert (await client.get(path)).status_code == 401, path
        response = await client.get(path, headers=customer)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_service_publishes_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    await deliver(app, event("order.placed"))
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(EVENTS.outbox)) == 0


async def test_a_batch_is_stored_in_one_go_each_event_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime[Any, Any] = app.state.runtime
    consumer = IdempotentConsumer(runtime.database, EVENTS, "logs", SPEC.handlers, batches=True)
    first, second, third = (event("order.placed", subject=f"o-{i}") for i in range(3))
    await consumer.handle_many([first, second])
    await consumer.handle_many([second, third, third])  # redelivered ones: no second row
    assert await stored(app) == 3


async def test_a_batch_with_a_forged_event_stores_nothing_and_raises(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime[Any, Any] = app.state.runtime
    consumer = IdempotentConsumer(runtime.database, EVENTS, "logs", SPEC.handlers, batches=True)
    genuine = event("order.placed", subject="o-1")
    forged = event("order.placed", subject="o-2", source="payments")  # orders owns the type
    with pytest.raises(PoisonEvent):
        await consumer.handle_many([genuine, forged])
    assert await stored(app) == 0  # rolled back: the bus settles each alone instead
    await consumer.handle(genuine)
    assert await stored(app) == 1
