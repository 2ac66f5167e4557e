"""Shared pieces of the logs service tests: events and their delivery to the handler."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from mercato.chassis.events import Event
from mercato.chassis.runtime import Runtime
from mercato.contracts.events import producer_of
from mercato.logs.handlers import on_any_event

EVENTS_URL = "/api/logs/events"

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def event(
    event_type: str,
    *,
    subject: str = "s1",
    source: str | None = None,
    at: float = 0.0,
    **data: Any,
) -> Event:
    """An event of `event_type` that occurred `at` seconds after BASE.

    From the service that publishes that type (the consumers refuse another source),
    or from "tests" for a type no service owns.
    """
    source = source or producer_of(event_type) or "tests"
    return Event(
        id=str(uuid.uuid4()),
        type=event_type,
        version=1,
        occurred_at=BASE + timedelta(seconds=at),
        source=source,
        subject=subject,
        trace="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        data=data,
    )


async def deliver(app: FastAPI, *events: Event) -> None:
    """Hand each event to the handler in a transaction, as the consumer does."""
    runtime: Runtime[Any, Any] = app.state.runtime
    for one in events:
        async with runtime.database.transaction() as session:
            await on_any_event(session, one)


async def listed(
    client: httpx.AsyncClient, headers: dict[str, str], **query: Any
) -> list[dict[str, Any]]:
    """Every event the query lists, following the cursor across pages."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = await client.get(EVENTS_URL, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
