"""Service tests of the console's dead letters: a real one listed, inspected and replayed.

A nats-server runs as `mercato up` runs it (`tests.support.secured_nats`); the logs
service holds the `mercato-dead-letters` user's URL. A real consumer (users' broker
user, the real bus code) fails an event until it is dead-lettered; an administrator
finds it in the console, opens it, presses Replay, and reads the result on the list
while the consumer, healed, handles the event. A customer cannot replay it, even by
posting to the form directly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from mercato.chassis.events import Event, EventBus, connect_bus
from mercato.chassis.events.names import DEAD_LETTERS
from mercato.web.ops.access import ADMINS_ONLY
from mercato.web.ops.dead_letters import GONE, UNAVAILABLE
from tests.support.console import Console, open_console
from tests.support.secured_nats import SecuredNats, start_secured_nats
from tests.support.tokens import TokenFactory
from tests.support.web import csrf_token, submit

pytestmark = pytest.mark.integration

WAIT = 15.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    with start_secured_nats(tmp_path_factory.mktemp("console-nats")) as server:
        yield server


class Flaky:
    """The users consumer: fails every delivery until healed."""

    def __init__(self) -> None:
        self.healed = False
        self.handled: list[str] = []

    async def handle(self, event: Event) -> None:
        if not self.healed:
            raise RuntimeError("profile store unavailable (a test's failure)")
        self.handled.append(event.id)


@pytest.fixture
async def consumer(broker: SecuredNats) -> AsyncIterator[tuple[Flaky, EventBus]]:
    flaky = Flaky()
    users = connect_bus(broker.url("users"), service="users", retry_delay=0.05)
    auth = connect_bus(broker.url("auth"), service="auth")
    await users.connect()
    await auth.connect()
    await users.subscribe("users", ["user.registered"], flaky.handle, max_deliver=2)
    yield flaky, auth
    await users.close()
    await auth.close()


@pytest.fixture
async def console(
    tmp_path: Path, tokens: TokenFactory, broker: SecuredNats
) -> AsyncIterator[Console]:
    logs = {"dead_letters_broker_url": broker.url(DEAD_LETTERS)}
    async with open_console(tmp_path, tokens, logs=logs) as console:
        yield console


async def dead_lettered(console: Console, publisher: EventBus) -> tuple[Event, dict[str, Any]]:
    """An event the flaky consumer dead-letters; it and its dead letter (from the API)."""
    event = Event.new(
        "user.registered",
        subject=str(uuid.uuid4()),
        data={"user_id": str(uuid.uuid4()), "email": "c@example.com", "name": "Cy"},
        source="auth",
    )
    await publisher.publish(event)
    logs, headers = console.http("logs"), await console.admin_api()
    deadline = time.monotonic() + WAIT
    while True:
        items = (await logs.get("/api/logs/dead-letters", headers=headers)).json()["items"]
        found = [d for d in items if (d["event"] or {}).get("id") == event.id]
        if found:
            return event, found[0]
        assert time.monotonic() < deadline, "the event was not dead-lettered"
        await asyncio.sleep(0.1)


async def test_an_admin_lists_inspects_and_replays_a_real_dead_letter(
    console: Console, consumer: tuple[Flaky, EventBus]
) -> None:
    flaky, publisher = consumer
    event, letter = await dead_lettered(console, publisher)
    admin = await console.admin()

    listed = await admin.get("/ops/dead-letters")
    assert listed.status_code == 200
    link = f'<a href="/ops/dead-letters/{letter["id"]}">Dead letter {letter["id"]}</a>'
    assert link in listed.text
    assert "profile store unavailable (a test&#39;s failure)" in listed.text

    inspected = await admin.get(f"/ops/dead-letters/{letter['id']}")
    assert inspected.status_code == 200
    html = inspected.text
    assert "<dt>Consumer</dt>\n  <dd>users</dd>" in html
    assert "<dt>Attempts</dt>\n  <dd>2</dd>" in html
    assert f"<dd>{event.id}</dd>" in html and "RuntimeError" in html
    assert f'action="/ops/dead-letters/{letter["id"]}/replay"' in html
    assert f'href="/ops/audit?subject={event.subject}"' in html

    flaky.healed = True
    replayed = await submit(
        admin,
        f"/ops/dead-letters/{letter['id']}/replay",
        {},
        page=f"/ops/dead-letters/{letter['id']}",
    )

    assert replayed.status_code == 303 and replayed.headers["location"] == "/ops/dead-letters"
    after = await admin.get("/ops/dead-letters")
    assert f"Replayed dead letter {letter['id']}: user.registered (event {event.id})" in after.text
    assert link not in after.text
    deadline = time.monotonic() + WAIT
    while flaky.handled != [event.id]:
        assert time.monotonic() < deadline, "the replayed event was not handled"
        await asyncio.sleep(0.1)
    again = await submit(admin, f"/ops/dead-letters/{letter['id']}/replay", {}, page="/ops")
    assert again.status_code == 404
    assert GONE.format(id=letter["id"]) in again.text
    gone = await admin.get(f"/ops/dead-letters/{letter['id']}")
    assert gone.status_code == 404 and "Page not found" in gone.text


async def test_a_customer_cannot_see_or_replay_a_dead_letter(
    console: Console, consumer: tuple[Flaky, EventBus]
) -> None:
    _, publisher = consumer
    _, letter = await dead_lettered(console, publisher)
    customer, _ = await console.customer()
    path = f"/ops/dead-letters/{letter['id']}"

    for page in ("/ops/dead-letters", path):
        answer = await customer.get(page)
        assert answer.status_code == 403 and ADMINS_ONLY in answer.text
    token = await csrf_token(customer, "/")  # the customer's own, valid session token
    posted = await customer.post(
        f"{path}/replay",
        data={"csrf_token": token},
        headers={"Origin": "http://shop.test", "Sec-Fetch-Site": "same-origin"},
    )

    assert posted.status_code == 403 and ADMINS_ONLY in posted.text
    still = await console.http("logs").get(
        f"/api/logs/dead-letters/{letter['id']}", headers=await console.admin_api()
    )
    assert still.status_code == 200  # not replayed


async def test_a_replay_without_the_forms_token_is_refused(
    console: Console, consumer: tuple[Flaky, EventBus]
) -> None:
    _, publisher = consumer
    _, letter = await dead_lettered(console, publisher)
    admin = await console.admin()
    path = f"/ops/dead-letters/{letter['id']}/replay"

    forged = await admin.post(path, data={}, headers={"Origin": "http://shop.test"})
    cross_site = await admin.post(
        path,
        data={"csrf_token": await csrf_token(admin, "/ops")},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )

    assert forged.status_code == 403 and cross_site.status_code == 403
    still = await console.http("logs").get(
        f"/api/logs/dead-letters/{letter['id']}", headers=await console.admin_api()
    )
    assert still.status_code == 200


async def test_without_broker_credentials_the_page_says_so(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_console(tmp_path, tokens) as console:
        admin = await console.admin()

        answer = await admin.get("/ops/dead-letters")

    assert answer.status_code == 503
    assert UNAVAILABLE in answer.text
