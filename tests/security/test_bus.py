"""The event bus refuses a local process: no credentials, no forged events, no peeking.

Against a real nats-server configured exactly as `mercato up` configures its embedded
one (the launcher's own configuration file and generated credentials): an anonymous
connection is refused; a service's user cannot publish another service's event,
list or read the streams, consume what it does not consume, or delete, purge or
change a stream; and every service can still do everything its code does, through
the real bus code (publish, its durable consumer and its lag, the revocation tail,
dead letters), as can the operator's `mercato dead-letters`. Behind the broker, the audit log does
not record a forged event (another type than its subject, or another source than its
type's producer): it ends in the dead letters instead.
"""

from __future__ import annotations

import asyncio
import re
import stat
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
import pytest

from mercato.chassis.events import BusError, BusUnavailable, Event, PoisonEvent, admin
from mercato.chassis.events.names import DEAD_LETTERS, OPERATOR
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.permissions import TOKEN_REVOKED
from mercato.chassis.events.sampling import consumer_lag
from mercato.launcher import nats as embedded
from mercato.launcher.broker_config import nats_variable
from mercato.launcher.cli import main
from mercato.launcher.credentials import SECRETS_FILE
from mercato.launcher.topology import bus_roles
from tests.support.secured_nats import (
    SecuredNats,
    connect_as,
    running_server,
    start_secured_nats,
)
from tests.support.servers import closed_port

pytestmark = pytest.mark.integration

EVENTS, DLQ = "MERCATO_EVENTS", "MERCATO_DLQ"
WAIT = 10.0
SERVICE_USERS = [r.name for r in bus_roles()]
PRODUCTION_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats.conf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    """One secured nats-server for the module's tests."""
    with start_secured_nats(tmp_path_factory.mktemp("secured-nats")) as running_server:
        yield running_server


def bus_as(server: SecuredNats, user: str, **options: Any) -> NatsBus:
    """The real bus code, connecting as `user` with its credentials."""
    return NatsBus(server.url(user), service=user, retry_delay=0.05, fetch_timeout=0.2, **options)


@pytest.fixture
async def streams(server: SecuredNats) -> AsyncIterator[None]:
    """The streams, declared as a service declares them at start."""
    bus = bus_as(server, "auth")
    await bus.connect()
    await bus.close()
    yield


async def stream_messages(server: SecuredNats) -> int:
    """How many events the events stream holds (asked as the operator)."""
    async with connect_as(server, OPERATOR) as operator:
        info = await operator.answered(f"$JS.API.STREAM.INFO.{EVENTS}")
    count: int = info["state"]["messages"]
    return count


def event(event_type: str, source: str, **data: Any) -> Event:
    """An event of `event_type` claiming to come from `source`."""
    return Event.new(event_type, subject=str(uuid.uuid4()), data=data, source=source)


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until `check()` holds."""
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_the_broker_configuration_is_owner_only_and_holds_no_password(server: SecuredNats) -> None:
    secrets = server.layout.data_dir / SECRETS_FILE
    assert stat.S_IMODE(server.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    text = server.config.read_text()
    users = [*SERVICE_USERS, OPERATOR, DEAD_LETTERS]
    assert text.count('"$2b$') == len(users)  # one bcrypt hash per user
    for user in users:
        assert server.layout.broker_passwords[user] not in text


async def test_an_anonymous_or_wrong_password_connection_is_refused(server: SecuredNats) -> None:
    wrong = server.url("catalog").replace(server.layout.broker_passwords["catalog"], "guess")
    for url in (server.address, wrong):
        with pytest.raises(Exception, match="Authorization Violation"):
            await nats.connect(url, allow_reconnect=False, connect_timeout=2)
    with pytest.raises(BusUnavailable):
        await NatsBus(server.address, service="intruder").connect()


async def test_a_service_cannot_publish_another_services_event(
    server: SecuredNats, streams: None
) -> None:
    before = await stream_messages(server)
    catalog = bus_as(server, "catalog", publish_timeout=1.0)
    await catalog.connect()
    try:
        with pytest.raises(BusUnavailable):
            await catalog.publish(event("payment.refunded", "payments", payment_id="p"))
        assert await stream_messages(server) == before
        await catalog.publish(event("product.deleted", "catalog", product_id="x", sku="X"))
        assert await stream_messages(server) == before + 1  # its own events go out
    finally:
        await catalog.close()
    async with connect_as(server, "catalog") as attacker:
        assert await attacker.refused("mercato.events.payment.refunded")
        assert await attacker.refused("mercato.events.order.confirmed")
        assert await attacker.refused("mercato.dlq.logs.payment.refunded")  # via a replay
        assert not await attacker.refused("mercato.events.product.updated")


async def test_a_service_cannot_list_or_read_streams_it_does_not_consume(
    server: SecuredNats, streams: None
) -> None:
    async with connect_as(server, "catalog") as attacker:
        for call in ("STREAM.NAMES", "STREAM.LIST", "INFO", f"STREAM.INFO.{DLQ}"):
            assert await attacker.refused(f"$JS.API.{call}")
        assert await attacker.refused(f"$JS.API.STREAM.MSG.GET.{EVENTS}", {"seq": 1})
        assert await attacker.refused(f"$JS.API.DIRECT.GET.{EVENTS}", {"seq": 1})
        assert await attacker.refused(f"$JS.API.STREAM.MSG.GET.{DLQ}", {"seq": 1})
        # A consumer of every event, or of another's events, or the audit log's own.
        for create in (
            f"CONSUMER.CREATE.{EVENTS}.spy.mercato.events.>",
            f"CONSUMER.CREATE.{EVENTS}.spy.mercato.events.payment.refunded",
            f"CONSUMER.CREATE.{EVENTS}.spy",
            f"CONSUMER.CREATE.{EVENTS}",
            f"CONSUMER.DURABLE.CREATE.{EVENTS}.spy",
            f"CONSUMER.CREATE.{EVENTS}.logs.mercato.events.auth.token_revoked",
            f"CONSUMER.MSG.NEXT.{EVENTS}.logs",
            f"CONSUMER.MSG.NEXT.{EVENTS}.users",
            f"CONSUMER.INFO.{EVENTS}.logs",
            f"CONSUMER.LIST.{EVENTS}",
        ):
            assert await attacker.refused(f"$JS.API.{create}"), create
        # The tail's permission pins its filter: a request that asks for more is refused.
        spoof = {
            "stream_name": EVENTS,
            "config": {"name": "spy2", "filter_subject": "mercato.events.>"},
        }
        answer = await attacker.answered(
            f"$JS.API.CONSUMER.CREATE.{EVENTS}.spy2.mercato.events.{TOKEN_REVOKED}", spoof
        )
        assert "error" in answer
        # Core subscriptions: the events themselves, and another service's replies.
        for subject in ("mercato.events.>", ">", "_INBOX.logs.>", "_INBOX.>", "$JS.ACK.>"):
            assert await attacker.subscribe_refused(subject), subject
    catalog = bus_as(server, "catalog", publish_timeout=1.0)
    await catalog.connect()
    try:
        with pytest.raises(BusError):
            await catalog.subscribe("catalog", ["payment.refunded"], _ignore)
    finally:
        await catalog.close()


@pytest.mark.parametrize("user", SERVICE_USERS)
async def test_no_service_can_delete_purge_or_change_a_stream(
    server: SecuredNats, streams: None, user: str
) -> None:
    async with connect_as(server, user) as attacker:
        for call in (
            f"STREAM.DELETE.{EVENTS}",
            f"STREAM.PURGE.{EVENTS}",
            f"STREAM.UPDATE.{EVENTS}",
            f"STREAM.DELETE.{DLQ}",
            f"STREAM.PURGE.{DLQ}",
            f"STREAM.MSG.DELETE.{EVENTS}",
            f"CONSUMER.DELETE.{EVENTS}.logs",
        ):
            assert await attacker.refused(f"$JS.API.{call}", {"seq": 1}), call
    async with connect_as(server, OPERATOR) as operator:
        assert (await operator.answered(f"$JS.API.STREAM.INFO.{EVENTS}"))["config"][
            "name"
        ] == EVENTS


async def _ignore(event: Event) -> None:
    return None


async def test_every_service_can_do_what_its_code_does(server: SecuredNats) -> None:
    buses = {role.name: bus_as(server, role.name) for role in bus_roles()}
    revoked: dict[str, list[Event]] = {name: [] for name in buses}
    taken: dict[str, list[Event]] = {"users": [], "logs": []}
    try:
        for name, bus in buses.items():
            await bus.connect()
            await bus.ping()

            async def on_revoked(got: Event, name: str = name) -> None:
                revoked[name].append(got)

            await bus.tail([TOKEN_REVOKED], on_revoked, since=timedelta(0))

        async def users_handler(got: Event) -> None:
            taken["users"].append(got)
            if got.data.get("poison"):
                raise PoisonEvent("a test's poison")

        async def logs_handler(got: Event) -> None:
            taken["logs"].append(got)

        await buses["users"].subscribe("users", ["user.registered"], users_handler)
        await buses["logs"].subscribe("logs", [">"], logs_handler)
        published: list[Event] = []
        for role in bus_roles():
            for event_type in role.publishes:
                published.append(event(event_type, role.name))
        for sent in published:
            await buses[sent.source].publish(sent)
        ids = {e.id for e in published}
        await until(lambda: ids <= {e.id for e in taken["logs"]}, "logs to take every event")
        registered = {e.id for e in published if e.type == "user.registered"}
        await until(lambda: registered <= {e.id for e in taken["users"]}, "users' event")
        # A consumer reads its own lag (for its metrics), and only its own.
        assert await consumer_lag(buses["users"], "users") == 0
        assert await consumer_lag(buses["logs"], "logs") == 0
        with pytest.raises(BusUnavailable):
            await consumer_lag(buses["users"], "logs")
        await until(lambda: all(revoked.values()), "every service's revocation tail")
        # A dead letter: the consumer's poison goes to the dead letters, which the
        # operator lists and replays.
        poison = event("user.registered", "auth", poison=True)
        await buses["auth"].publish(poison)
        operator = server.url(OPERATOR)
        letters: list[Any] = []

        async def dead_lettered() -> None:
            while not letters:
                found = await admin.list_dead_letters(operator)
                letters.extend(d for d in found if d.event and d.event.id == poison.id)
                await asyncio.sleep(0.1)

        await asyncio.wait_for(dead_lettered(), WAIT)
        assert [(d.consumer, d.event_type) for d in letters] == [("users", "user.registered")]
        handled = len(taken["users"])
        await admin.replay_dead_letter(operator, letters[0].id)
        await until(lambda: len(taken["users"]) > handled, "the replayed event")
        assert letters[0].id not in {d.id for d in await admin.list_dead_letters(operator)}
    finally:
        for bus in buses.values():
            await bus.close()


async def test_the_dead_letters_command_works_against_the_secured_broker(
    server: SecuredNats, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("MERCATO_BROKER_URL", "MERCATO_BUS_NAMESPACE", "MERCATO_PORT"):
        monkeypatch.delenv(variable, raising=False)
    where = ["--data-dir", str(server.layout.data_dir), "--port", str(server.layout.port)]
    operator = server.url(OPERATOR)
    poison = event("user.registered", "auth", cli=True)

    async def fail(got: Event) -> None:
        if got.id == poison.id:
            raise PoisonEvent("a test's poison")

    users, auth = bus_as(server, "users"), bus_as(server, "auth")
    try:
        await users.connect()
        await auth.connect()
        await users.subscribe("users", ["user.registered"], fail)
        await auth.publish(poison)
        ids: list[str] = []
        deadline = time.monotonic() + WAIT
        while not ids:
            assert time.monotonic() < deadline, "the poison was not dead-lettered"
            letters = await admin.list_dead_letters(operator)
            ids = [d.id for d in letters if d.event is not None and d.event.id == poison.id]
    finally:
        await users.close()
        await auth.close()
    assert await asyncio.to_thread(main, ["dead-letters", *where, "list"]) == 0
    assert ids[0] in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["dead-letters", *where, "replay", ids[0]]) == 0
    assert ids[0] not in {d.id for d in await admin.list_dead_letters(operator)}


async def test_the_production_nats_configuration_admits_each_service_as_itself(
    tmp_path: Path,
) -> None:
    """deploy/nats/nats.conf, run as compose runs it: passwords from the environment.

    One node of it: the file as it is, with its store in tmp_path and without the
    cluster block (its routes name the compose network's other nodes), since what is
    checked here is who may do what.
    """
    text = PRODUCTION_CONF.read_text().replace("/data", str(tmp_path / "store"))
    text, clusters = re.subn(r"\ncluster \{.*?\n\}\n", "\n", text, flags=re.DOTALL)
    assert clusters == 1
    conf = tmp_path / "nats.conf"
    conf.write_text(text)
    passwords = {user: uuid.uuid4().hex for user in [*SERVICE_USERS, OPERATOR, DEAD_LETTERS]}
    env = {nats_variable(user): password for user, password in passwords.items()}
    env["NATS_SERVER_NAME"] = "nats-1"
    port, monitor = closed_port(), closed_port()
    argv = [str(embedded.server_binary()), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port)]
    argv += ["-m", str(monitor)]
    with running_server(argv, env, port, tmp_path / "nats.log"):
        address = f"127.0.0.1:{port}"
        with pytest.raises(Exception, match="Authorization Violation"):
            await nats.connect(f"nats://{address}", allow_reconnect=False, connect_timeout=2)
        catalog = NatsBus(
            f"nats://catalog:{passwords['catalog']}@{address}",
            service="catalog",
            publish_timeout=1.0,
        )
        await catalog.connect()
        try:
            await catalog.publish(event("product.deleted", "catalog", product_id="x", sku="X"))
            with pytest.raises(BusUnavailable):
                await catalog.publish(event("payment.refunded", "payments", payment_id="p"))
        finally:
            await catalog.close()
