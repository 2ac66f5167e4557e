"""Forged events and forged dead letters are refused behind the broker too.

On a real nats-server configured as `mercato up` configures its embedded one: the
audit log (the real logs service, in-process) does not record an event whose envelope
names another type than its subject or another source than its type's producer; it
ends in the dead letters. And a consumer cannot slip a forged event to everyone
through a dead letter of its own making: the operator's replay refuses a dead letter
that does not hold what the events stream holds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mercato.chassis.events import BusError, Event
from mercato.chassis.events.dead_letters import encode_dead_letter
from mercato.chassis.events.names import OPERATOR
from mercato.chassis.events.nats.bus import NatsBus
from mercato.logs.app import create_app
from mercato.logs.settings import load_settings
from tests.support.apps import running
from tests.support.secured_nats import SecuredNats, start_secured_nats
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

WAIT = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    """One secured nats-server for the module's tests."""
    with start_secured_nats(tmp_path_factory.mktemp("secured-nats")) as running_server:
        yield running_server


def bus_as(server: SecuredNats, user: str) -> NatsBus:
    """The real bus code, connecting as `user` with its credentials."""
    return NatsBus(server.url(user), service=user, retry_delay=0.05, fetch_timeout=0.2)


def event(event_type: str, source: str, **data: Any) -> Event:
    """An event of `event_type` claiming to come from `source`."""
    return Event.new(event_type, subject=str(uuid.uuid4()), data=data, source=source)


async def test_the_audit_log_does_not_record_a_forged_event(
    server: SecuredNats, tmp_path: Path, tokens: TokenFactory
) -> None:
    settings = load_settings(data_dir=tmp_path, broker_url=server.url("logs"))
    app = create_app(settings)
    admin_headers = tokens.headers(str(uuid.uuid4()), ["admin"])
    payments = bus_as(server, "payments")
    catalog = bus_as(server, "catalog")
    operator = bus_as(server, OPERATOR)
    order_id = str(uuid.uuid4())
    refund = {
        "payment_id": "p-1",
        "refund_id": "r-1",
        "order_id": order_id,
        "user_id": "u-1",
        "amount": {"amount": 100, "currency": "USD"},
        "reason": "requested",
    }
    async with running(app, tokens) as client:
        await app.state.runtime.bus_connected.wait()
        for bus in (payments, catalog, operator):
            await bus.connect()
        try:
            # On a subject catalog may use, an envelope claiming to be a payments refund.
            disguised = event("payment.refunded", "payments", **refund)
            await _publish_raw(catalog, "product.updated", disguised)
            # On the refund's own subject, a source that does not publish refunds.
            misattributed = event("payment.refunded", "catalog", **refund)
            await operator.publish(misattributed)
            forged = {disguised.id, misattributed.id}
            genuine = event("payment.refunded", "payments", **refund)
            await payments.publish(genuine)

            async def recorded() -> list[dict[str, Any]]:
                response = await client.get(
                    "/api/logs/events", params={"order_id": order_id}, headers=admin_headers
                )
                assert response.status_code == 200, response.text
                items: list[dict[str, Any]] = response.json()["items"]
                return items

            letters: list[Any] = []
            deadline = time.monotonic() + WAIT
            while len(letters) < 2 or not await recorded():
                assert time.monotonic() < deadline, "the events were not all settled in time"
                letters = [
                    d
                    for d in await operator.dead_letters()
                    if d.consumer == "logs" and d.event is not None and d.event.id in forged
                ]
                await asyncio.sleep(0.1)
            assert [item["id"] for item in await recorded()] == [genuine.id]
            assert sorted("forged" in d.error for d in letters) == [True, True]
        finally:
            for bus in (payments, catalog, operator):
                await bus.close()


async def _publish_raw(bus: NatsBus, event_type: str, sent: Event) -> None:
    """Publish `sent`'s envelope as it is on the subject of `event_type`."""
    await bus.js.publish(bus.subject(event_type), sent.to_bytes())


async def test_a_forged_dead_letter_is_not_replayed(server: SecuredNats) -> None:
    users, operator = bus_as(server, "users"), bus_as(server, OPERATOR)
    await users.connect()
    await operator.connect()
    try:
        data = {"user_id": "u-x", "email": "x@example.com", "name": "X", "roles": ["admin"]}
        forged = event("user.registered", "auth", **data)
        record = encode_dead_letter(
            consumer="users",
            event_type="user.registered",
            error="made up",
            attempts=1,
            payload=forged.to_bytes(),
        )
        # Its own name and a type it consumes, as its rights allow; event 1 of the stream.
        ack = await users.js.publish(
            "mercato.dlq.users.user.registered", record, headers={"Nats-Msg-Id": "dlq.users.1"}
        )
        before = (await operator.js.stream_info(operator.stream)).state.messages
        with pytest.raises(BusError, match="not replayed"):
            await operator.replay(str(ack.seq))
        assert (await operator.js.stream_info(operator.stream)).state.messages == before
        assert str(ack.seq) in {d.id for d in await operator.dead_letters()}  # kept, to look at
    finally:
        await users.close()
        await operator.close()
