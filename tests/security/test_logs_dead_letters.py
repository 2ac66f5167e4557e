"""The logs service's dead-letter API on a real broker, as its own broker user.

Against a nats-server configured as `mercato up` configures its embedded one: a real
consumer (`users`, through the real bus code with its own credentials) fails an
event until it has tried it `max_deliver` times, and the event goes to the dead
letters. The logs app, given only the `mercato-dead-letters` user's URL, lists it,
reads it and replays it over HTTP for an administrator, and the consumer, now
healthy, handles the replayed event; a replayed dead letter is gone. The API refuses
a customer and an anonymous caller, and says 503 without credentials or without a
broker. The `mercato-dead-letters` user may do that and nothing else: it cannot read
a consumer, change or purge a stream, or subscribe to the events. The same replay
runs on RabbitMQ when the machine has one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mercato.chassis.events import Event, EventBus, connect_bus
from mercato.chassis.events.names import DEAD_LETTERS
from mercato.logs.app import create_app as create_logs
from mercato.logs.dead_letters import NOT_CONFIGURED
from mercato.logs.settings import load_settings as logs_settings
from tests.support.apps import running
from tests.support.secured_nats import SecuredNats, connect_as, start_secured_nats
from tests.support.servers import closed_port, rabbit_test_url
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration

API = "/api/logs/dead-letters"
EVENTS, DLQ = "MERCATO_EVENTS", "MERCATO_DLQ"
WAIT = 15.0
ATTEMPTS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    """One secured nats-server for the module's tests."""
    with start_secured_nats(tmp_path_factory.mktemp("dead-letters-nats")) as running_server:
        yield running_server


def logs_app(tmp_path: Path, url: str, namespace: str = "MERCATO") -> FastAPI:
    """The logs app with no consumer of its own, its dead-letter API on `url`."""
    settings = logs_settings(
        {},
        data_dir=tmp_path / "logs",
        broker_url="",
        bus_namespace=namespace,
        dead_letters_broker_url=url,
        dead_letters_timeout_seconds=3.0,
    )
    return create_logs(settings)


class FlakyConsumer:
    """The users consumer, failing every delivery of an event until it is healed."""

    def __init__(self) -> None:
        self.healed = False
        self.failures: list[str] = []
        self.handled: list[str] = []

    async def handle(self, event: Event) -> None:
        if not self.healed:
            self.failures.append(event.id)
            raise RuntimeError("the profile store is down (a test's failure)")
        self.handled.append(event.id)


async def until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        found = await check() if asyncio.iscoroutinefunction(check) else check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def dead_letter_through_api(
    client: httpx.AsyncClient, headers: dict[str, str], event_id: str
) -> dict[str, Any]:
    async def listed() -> dict[str, Any] | None:
        answer = await client.get(API, headers=headers)
        assert answer.status_code == 200, answer.text
        found = [d for d in answer.json()["items"] if (d["event"] or {}).get("id") == event_id]
        return found[0] if found else None

    letter: dict[str, Any] = await until(listed, "the dead letter in the API's list")
    return letter


async def fail_then_replay(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    publisher: EventBus,
    consumer: EventBus,
) -> None:
    """A real consumer dead-letters an event; the API lists, reads and replays it."""
    flaky = FlakyConsumer()
    await consumer.subscribe("users", ["user.registered"], flaky.handle, max_deliver=ATTEMPTS)
    event = Event.new(
        "user.registered",
        subject=str(uuid.uuid4()),
        data={"user_id": str(uuid.uuid4()), "email": "dl@example.com", "name": "Dee"},
        source="auth",
    )
    await publisher.publish(event)
    admin = tokens.headers(str(uuid.uuid4()), ["admin"])

    letter = await dead_letter_through_api(client, admin, event.id)

    assert (letter["consumer"], letter["event_type"]) == ("users", "user.registered")
    assert letter["attempts"] == ATTEMPTS and flaky.failures == [event.id] * ATTEMPTS
    assert "the profile store is down" in letter["error"]
    assert letter["event"]["source"] == "auth" and event.id in letter["payload"]
    one = await client.get(f"{API}/{letter['id']}", headers=admin)
    assert one.status_code == 200 and one.json() == letter

    flaky.healed = True
    replayed = await client.post(f"{API}/{letter['id']}/replay", headers=admin)

    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {
        "id": letter["id"],
        "replayed": True,
        "consumer": "users",
        "event_type": "user.registered",
        "event_id": event.id,
    }
    await until(lambda: flaky.handled == [event.id], "the replayed event handled")
    gone = await client.get(f"{API}/{letter['id']}", headers=admin)
    assert gone.status_code == 404
    again = await client.post(f"{API}/{letter['id']}/replay", headers=admin)
    assert again.status_code == 404


@pytest.fixture
async def nats_buses(server: SecuredNats) -> AsyncIterator[tuple[EventBus, EventBus]]:
    publisher = connect_bus(server.url("auth"), service="auth")
    consumer = connect_bus(server.url("users"), service="users", retry_delay=0.05)
    await publisher.connect()
    await consumer.connect()
    yield publisher, consumer
    await consumer.close()
    await publisher.close()


async def test_a_real_dead_letter_is_listed_read_and_replayed_over_http_on_nats(
    server: SecuredNats,
    nats_buses: tuple[EventBus, EventBus],
    tmp_path: Path,
    tokens: TokenFactory,
) -> None:
    app = logs_app(tmp_path, server.url(DEAD_LETTERS))
    async with running(app, tokens) as client:
        await fail_then_replay(client, tokens, *nats_buses)


async def test_a_real_dead_letter_is_replayed_over_http_on_rabbitmq(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    url = rabbit_test_url()
    namespace = f"dl_{uuid.uuid4().hex[:8]}"
    publisher = connect_bus(url, service="auth", namespace=namespace)
    consumer = connect_bus(url, service="users", namespace=namespace, retry_delay=0.05)
    await publisher.connect()
    await consumer.connect()
    try:
        async with running(logs_app(tmp_path, url, namespace), tokens) as client:
            await fail_then_replay(client, tokens, publisher, consumer)
    finally:
        await consumer.close()
        await publisher.close()
        from mercato.chassis.events.admin import delete_rabbit_namespace  # noqa: PLC0415

        await delete_rabbit_namespace(url, namespace, ["users"])


async def test_only_an_administrator_reaches_the_dead_letters(
    server: SecuredNats, tmp_path: Path, tokens: TokenFactory
) -> None:
    app = logs_app(tmp_path, server.url(DEAD_LETTERS))
    customer = tokens.headers(str(uuid.uuid4()), ["customer"])
    minted = tokens.token("service:orders", ["service"], typ="service", aud="logs")
    service = {"Authorization": f"Bearer {minted}"}
    async with running(app, tokens) as client:
        for method, path in (("GET", API), ("GET", f"{API}/1"), ("POST", f"{API}/1/replay")):
            assert (await client.request(method, path)).status_code == 401, path
            assert (await client.request(method, path, headers=customer)).status_code == 403
            assert (await client.request(method, path, headers=service)).status_code == 403


async def test_without_credentials_or_a_broker_the_api_says_503(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    admin = tokens.headers(str(uuid.uuid4()), ["admin"])
    async with running(logs_app(tmp_path / "a", ""), tokens) as client:
        answer = await client.get(API, headers=admin)
        assert answer.status_code == 503 and answer.json()["detail"] == NOT_CONFIGURED
    down = f"nats://127.0.0.1:{closed_port()}"
    async with running(logs_app(tmp_path / "b", down), tokens) as client:
        for method, path in (("GET", API), ("POST", f"{API}/1/replay")):
            answer = await client.request(method, path, headers=admin)
            assert answer.status_code == 503, answer.text
            assert answer.json()["detail"] == "The broker did not answer; retry in a moment."


async def test_the_dead_letter_user_can_do_nothing_else(server: SecuredNats) -> None:
    async with connect_as(server, DEAD_LETTERS) as user:
        for call in (
            f"STREAM.UPDATE.{EVENTS}",
            f"STREAM.DELETE.{EVENTS}",
            f"STREAM.PURGE.{EVENTS}",
            f"STREAM.PURGE.{DLQ}",
            f"STREAM.MSG.DELETE.{EVENTS}",
            f"CONSUMER.INFO.{EVENTS}.logs",
            f"CONSUMER.MSG.NEXT.{EVENTS}.logs",
            f"CONSUMER.CREATE.{EVENTS}.spy",
            "STREAM.LIST",
        ):
            assert await user.refused(f"$JS.API.{call}", {"seq": 1}), call
        assert await user.subscribe_refused("mercato.events.>")
        assert await user.subscribe_refused("_INBOX.logs.>")
