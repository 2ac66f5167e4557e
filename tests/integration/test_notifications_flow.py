"""Integration test of the notifications service on a real broker and PostgreSQL.

The whole app runs in-process on the test's broker (NATS JetStream, then RabbitMQ)
and a fresh PostgreSQL database, mailing through a real SMTP server (aiosmtpd) that
is down when the events arrive: the chassis's retries, with their backoff, deliver
each mail once the server is back, and the copies of an event the broker hands over
again mail nobody twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.notifications.app import SPEC
from mercato.notifications.models import Message, NotificationsBase
from tests.integration.conftest import Broker
from tests.support.apps import running
from tests.support.mail_server import MailServer
from tests.support.migrations import differences
from tests.support.notifications import confirmed, notifications_app, registered
from tests.support.servers import DATABASES, fresh_database, fresh_postgres_database
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
Eventually = Callable[..., Awaitable[None]]


@pytest.fixture
async def smtp() -> AsyncIterator[MailServer]:
    """A mail server on a loopback port, not started: the test starts it."""
    server = MailServer()
    yield server
    server.stop()


async def test_mail_server_down_then_back_mails_each_event_once(
    tmp_path: Path,
    broker: Broker,
    smtp: MailServer,
    tokens: TokenFactory,
    eventually: Eventually,
) -> None:
    async with fresh_postgres_database("notifications") as url:
        app = notifications_app(
            tmp_path, smtp, database_url=url, broker_url=broker.url,
            bus_namespace=broker.namespace,
        )  # fmt: skip
        broker.consumer_elsewhere("notifications")
        runtime: Any = app.state.runtime
        async with running(app, tokens) as client:
            await runtime.bus_connected.wait()
            user_id = str(uuid.uuid4())
            welcome, order = registered(user_id, "ivy@example.com", "Ivy"), confirmed(user_id)
            await broker.bus.publish_many([welcome, order])
            # The server is down: the first attempt fails and is retried after ~1 s.
            registry = app.state.metrics.registry

            def retried() -> bool:
                labels = {"service": "notifications", "event_type": "user.registered"}
                sample = registry.get_sample_value(
                    "events_handled_total", {**labels, "outcome": "retried"}
                )
                return bool(sample)

            await eventually(retried, timeout=10.0, what="a failed attempt, to be retried")
            assert smtp.arrived() == []
            smtp.start()
            mails = await smtp.wait_for(2, timeout=20.0)
            # A copy of the order's event past the broker's de-duplication.
            await broker.publish_raw(order.type, order.to_bytes())
            headers = tokens.headers(user_id, ["customer"])

            async def both_recorded() -> bool:
                listed = await client.get("/api/notifications/messages", headers=headers)
                return len(listed.json()["items"]) == 2

            await eventually(both_recorded, timeout=10.0, what="two messages recorded")
            await asyncio.sleep(1.0)  # time for the copy to be handled (and dropped)
            assert len(smtp.arrived()) == 2
            subjects = sorted(str(mail.message["Subject"]) for mail in mails)
            assert subjects == [
                "Welcome to Testshop",
                f"Your Testshop order {order.data['order_id']} is confirmed",
            ]
            assert await broker.bus.dead_letters() == []
            response: httpx.Response = await client.get(
                "/api/notifications/messages", headers=headers
            )
            assert {item["status"] for item in response.json()["items"]} == {"sent"}


@pytest.mark.parametrize("kind", DATABASES)
async def test_the_migration_matches_the_models_and_keeps_one_mail_per_event(kind: str) -> None:
    """On PostgreSQL and MariaDB: the schema is the models', and (event, kind) is unique."""
    async with fresh_database(kind, "notifications") as url:
        db = Database(url)
        try:
            assert SPEC.migrations is not None
            await upgrade(db, SPEC.migrations, "notifications")
            async with db.engine.connect() as conn:
                assert (
                    await conn.run_sync(differences("notifications", NotificationsBase.metadata))
                    == []
                )
            row = {
                "event_id": "e-1", "kind": "order_confirmed", "status": "sent", "user_id": "u",
                "order_id": "o", "to_address": "a@example.com", "subject": "s", "text_body": "t",
                "created_at": datetime.now(UTC),
            }  # fmt: skip
            async with db.session() as session:
                session.add(Message(id="m1", **row))
                await session.commit()
            with pytest.raises(IntegrityError):
                async with db.session() as session:
                    session.add(Message(id="m2", **row))
                    await session.commit()
        finally:
            await db.dispose()
