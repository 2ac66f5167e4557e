"""On RabbitMQ each service's user may do what its code does, and nothing of the others'.

Against the machine's RabbitMQ: the test imports the definitions that
`mercato broker-config rabbitmq` produces (`launcher.broker_config.rabbit_definitions`)
into a vhost of its own, with users of its own (a random prefix), and deletes both
afterwards. Then, through the real bus code, each service connects as its user,
publishes its own events, consumes its own queue (with a retry through its delay
queue and a dead letter the operator lists and replays) and tails the revocations;
and catalog's user is refused publishing another service's routing key, reading
another consumer's queue or the dead letters, binding its queue to what it does not
consume, and sending into another service's queue through the default exchange.
The dead-letter API's user (`mercato-dead-letters`, the logs service's) lists and
replays a dead letter, and may not consume a queue or publish on the events exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import aio_pika
import pytest

from mercato.chassis.events import BusError, Event, PoisonEvent, admin
from mercato.chassis.events.names import DEAD_LETTERS, OPERATOR
from mercato.chassis.events.permissions import TOKEN_REVOKED
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.launcher.broker_config import rabbit_definitions
from mercato.launcher.topology import bus_roles
from tests.support.servers import REQUIRE_SERVERS, rabbit_test_url

pytestmark = pytest.mark.integration

WAIT = 10.0
CTL_TIMEOUT = 60


@dataclass(frozen=True)
class Vhost:
    """A vhost of the test's own with one user per service and the operator."""

    host: str
    port: int
    name: str
    prefix: str
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        login = f"{self.prefix}{user}:{self.passwords[user]}"
        return f"amqp://{login}@{self.host}:{self.port}/{quote(self.name, safe='')}"


def _ctl(*arguments: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "--quiet", *arguments],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=CTL_TIMEOUT,
    )
    return done.stdout


def _imported(space: Vhost, definitions: dict[str, Any]) -> bool:
    """Whether the (asynchronous) import has put every right in place."""
    with contextlib.suppress(subprocess.CalledProcessError):
        rights = _ctl("list_permissions", "-p", space.name).splitlines()
        topics = _ctl("list_topic_permissions", "-p", space.name).splitlines()
        return len(rights) >= len(definitions["permissions"]) and len(topics) >= len(
            definitions["topic_permissions"]
        )
    return False


@pytest.fixture(scope="module")
def vhost() -> Iterator[Vhost]:
    """The definitions of the code, imported into a fresh vhost; deleted afterwards."""
    url = urlsplit(rabbit_test_url())
    if shutil.which("rabbitmqctl") is None:
        reason = "rabbitmqctl is not installed: the test cannot create users"
        if os.environ.get(REQUIRE_SERVERS) == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:10]
    users = [r.name for r in bus_roles()] + [OPERATOR, DEAD_LETTERS]
    passwords = {user: secrets.token_urlsafe(24) for user in users}
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    space = Vhost(host, port, f"sec_{tag}", f"sec{tag}_", passwords)
    definitions = rabbit_definitions(passwords, vhost=space.name, user_prefix=space.prefix)
    try:
        # On standard input: rabbitmqctl reads a file as the rabbitmq user.
        _ctl("import_definitions", "--format", "json", stdin=json.dumps(definitions))
        deadline = time.monotonic() + WAIT
        while not _imported(space, definitions):
            assert time.monotonic() < deadline, "RabbitMQ did not import the definitions"
            time.sleep(0.2)
        yield space
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ctl("delete_vhost", space.name)
        for user in users:
            with contextlib.suppress(subprocess.CalledProcessError):
                _ctl("delete_user", space.prefix + user)


def bus_as(space: Vhost, user: str) -> RabbitBus:
    """The real bus code, connecting as `user`."""
    return RabbitBus(space.url(user), service=user, retry_delay=0.05, max_retry_delay=0.2)


def event(event_type: str, source: str, **data: Any) -> Event:
    return Event.new(event_type, subject=str(uuid.uuid4()), data=data, source=source)


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_every_service_can_do_what_its_code_does(vhost: Vhost) -> None:
    buses = {role.name: bus_as(vhost, role.name) for role in bus_roles()}
    revoked: dict[str, list[str]] = {name: [] for name in buses}
    taken: dict[str, list[Event]] = {"users": [], "logs": []}
    failed_once: set[str] = set()
    try:
        for name, bus in buses.items():
            await bus.connect()
            await bus.ping()

            async def on_revoked(got: Event, name: str = name) -> None:
                revoked[name].append(got.id)

            await bus.tail([TOKEN_REVOKED], on_revoked, since=timedelta(minutes=1))

        async def users_handler(got: Event) -> None:
            if got.data.get("poison"):
                raise PoisonEvent("a test's poison")
            if got.id not in failed_once:  # once through its delay queue first
                failed_once.add(got.id)
                raise RuntimeError("not yet")
            taken["users"].append(got)

        async def logs_handler(got: Event) -> None:
            taken["logs"].append(got)

        await buses["users"].subscribe("users", ["user.registered"], users_handler)
        await buses["logs"].subscribe("logs", [">"], logs_handler)
        published = [event(t, role.name) for role in bus_roles() for t in role.publishes]
        for sent in published:
            await buses[sent.source].publish(sent)
        ids = {e.id for e in published}
        await until(lambda: ids <= {e.id for e in taken["logs"]}, "logs to take every event")
        registered = {e.id for e in published if e.type == "user.registered"}
        await until(lambda: registered <= {e.id for e in taken["users"]}, "users, after a retry")
        await until(lambda: all(revoked.values()), "every service's revocation tail")

        poison = event("user.registered", "auth", poison=True)
        await buses["auth"].publish(poison)
        operator = bus_as(vhost, OPERATOR)
        await operator.connect()
        try:
            letters: list[Any] = []
            deadline = time.monotonic() + WAIT
            while not letters:
                assert time.monotonic() < deadline, "the poison was not dead-lettered"
                found = await operator.dead_letters()
                letters = [d for d in found if d.event is not None and d.event.id == poison.id]
            assert (letters[0].consumer, letters[0].event_type) == ("users", "user.registered")
            await operator.replay(letters[0].id)
            remaining = {d.id for d in await operator.dead_letters()}
            assert letters[0].id not in remaining
        finally:
            await operator.close()
    finally:
        for bus in buses.values():
            await bus.close()


async def test_catalog_cannot_publish_another_services_routing_key(vhost: Vhost) -> None:
    catalog = bus_as(vhost, "catalog")
    await catalog.connect()
    try:
        with pytest.raises(BusError, match="ACCESS_REFUSED"):
            await catalog.publish(event("payment.refunded", "payments", payment_id="p"))
    finally:
        await catalog.close()
    catalog = bus_as(vhost, "catalog")
    await catalog.connect()
    try:
        await catalog.publish(event("product.deleted", "catalog", product_id="x", sku="X"))
    finally:
        await catalog.close()


async def _refused(vhost: Vhost, user: str, action: Callable[[Any], Any]) -> bool:
    """Whether RabbitMQ refuses `action(channel)` to `user` (ACCESS_REFUSED)."""
    connection = await aio_pika.connect(vhost.url(user))
    try:
        channel = await connection.channel(publisher_confirms=True)
        try:
            await action(channel)
        except Exception as exc:
            return "ACCESS_REFUSED" in repr(exc) or "403" in repr(exc)
        return False
    finally:
        await connection.close()


async def test_catalog_cannot_read_or_reach_what_is_not_its_own(vhost: Vhost) -> None:
    # The queues and exchanges exist: the services declared them.
    for user, consumer in (("logs", "logs"), ("users", "users")):
        bus = bus_as(vhost, user)
        await bus.connect()
        await bus.subscribe(consumer, [">"] if user == "logs" else ["user.registered"], _ignore)
        await bus.close()

    async def consume_logs(channel: Any) -> None:
        queue = await channel.get_queue("mercato.logs", ensure=False)
        await queue.get(fail=False)

    async def read_dead_letters(channel: Any) -> None:
        queue = await channel.get_queue("mercato.dead-letters", ensure=False)
        await queue.get(fail=False)

    async def bind_to_refunds(channel: Any) -> None:
        queue = await channel.declare_queue("mercato.catalog", durable=True)
        await queue.bind("mercato.events", "payment.refunded")

    async def bind_to_everything(channel: Any) -> None:
        queue = await channel.declare_queue("mercato.catalog", durable=True)
        await queue.bind("mercato.events", "#")

    async def into_logs_queue(channel: Any) -> None:
        forged = event("payment.refunded", "payments", payment_id="p")
        await channel.default_exchange.publish(aio_pika.Message(forged.to_bytes()), "mercato.logs")

    async def read_the_events_stream(channel: Any) -> None:
        queue = await channel.declare_queue("mercato.stream.#", durable=True)
        await queue.bind("mercato.events", "#")

    async def dead_letter_as_logs(channel: Any) -> None:
        exchange = await channel.get_exchange("mercato.dlx", ensure=False)
        await exchange.publish(aio_pika.Message(b"{}"), "logs.payment.refunded")

    for action in (
        consume_logs,
        read_dead_letters,
        bind_to_refunds,
        bind_to_everything,
        into_logs_queue,
        read_the_events_stream,
        dead_letter_as_logs,
    ):
        assert await _refused(vhost, "catalog", action), action.__name__
    # And users, a consumer, cannot dead-letter in logs' name either.
    assert await _refused(vhost, "users", dead_letter_as_logs)


async def _ignore(got: Event) -> None:
    return None


async def test_the_dead_letter_user_replays_and_can_do_nothing_else(vhost: Vhost) -> None:
    users, auth = bus_as(vhost, "users"), bus_as(vhost, "auth")
    await users.connect()
    await auth.connect()
    taken: list[str] = []

    async def handler(got: Event) -> None:
        if got.data.get("poison") and not taken:
            raise PoisonEvent("a test's poison")
        taken.append(got.id)

    try:
        await users.subscribe("users", ["user.registered"], handler)
        poison = event("user.registered", "auth", poison=True)
        await auth.publish(poison)
        url = vhost.url(DEAD_LETTERS)
        letters: list[Any] = []
        deadline = time.monotonic() + WAIT
        while not letters:
            assert time.monotonic() < deadline, "the poison was not dead-lettered"
            found = await admin.list_dead_letters(url, user=DEAD_LETTERS)
            letters = [d for d in found if d.event is not None and d.event.id == poison.id]
        taken.append("healed")  # the handler takes the event from now on
        await admin.replay_dead_letter(url, letters[0].id, user=DEAD_LETTERS)
        await until(lambda: poison.id in taken, "the replayed event in users' queue")
        remaining = await admin.list_dead_letters(url, user=DEAD_LETTERS)
        assert letters[0].id not in {d.id for d in remaining}
    finally:
        await users.close()
        await auth.close()

    async def consume_users(channel: Any) -> None:
        queue = await channel.get_queue("mercato.users", ensure=False)
        await queue.get(fail=False)

    async def publish_an_event(channel: Any) -> None:
        exchange = await channel.get_exchange("mercato.events", ensure=False)
        await exchange.publish(aio_pika.Message(b"{}"), "payment.refunded")

    async def declare_a_queue(channel: Any) -> None:
        await channel.declare_queue("mercato.spy", durable=True)

    for action in (consume_users, publish_an_event, declare_a_queue):
        assert await _refused(vhost, DEAD_LETTERS, action), action.__name__
