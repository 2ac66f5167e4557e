"""The broker behind an e2e system, and how a fault test takes it away and back.

The e2e suite runs once per broker. On NATS the launcher runs its embedded server
as a process of the system, and a fault test kills it with SIGKILL; the launcher
restarts it. On RabbitMQ the broker is the machine's shared server, which a test
must not stop (other people use it); the services reach it through a `BrokerProxy`
in the test process instead, and a fault test cuts the proxy: every connection
between the services and RabbitMQ drops at once and new ones are refused until it
listens again, after about as long as the launcher takes to restart NATS. That is
what the services see of a broker crash. What it does not reproduce is a RabbitMQ
server losing messages it had not written to disk yet.

A fault test may also pause the broker (`pause`, then `resume`): the embedded NATS is
stopped with SIGSTOP and continued with SIGCONT, so its connections stay open and
nothing on them is answered; on RabbitMQ the proxy stops relaying in both
directions (and holds new connections) until it is resumed, which is what the
services see of a server that stalls.

`refused_pulls(system, consumer)` makes the embedded NATS refuse a durable consumer's
requests for messages while its process runs on (it still reads its consumer's
lag): the launcher's configuration of the node with a `deny` of that consumer's
`CONSUMER.MSG.NEXT` added, loaded with SIGHUP, then the original put back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from mercato.chassis.events import admin
from mercato.chassis.events.names import DEFAULT_NAMESPACE, events_stream
from mercato.launcher.nats import CONFIG_FILE

if TYPE_CHECKING:
    from tests.e2e.client import System

__all__ = [
    "OUTAGE_SECONDS",
    "BrokerControl",
    "BrokerProxy",
    "EmbeddedNats",
    "ProxiedRabbit",
    "delete_rabbit_namespace",
    "proxied",
    "refused_pulls",
]

OUTAGE_SECONDS = 2.0  # the launcher restarts a crashed NATS after 1 s, ready ~0.5 s later
CALL_TIMEOUT = 10.0
CHUNK = 65536
T = TypeVar("T")


class BrokerControl(Protocol):
    """What a fault test does to the broker of a running system."""

    name: str

    def crash(self, system: System) -> None:
        """Take the broker away from the services at once, as a SIGKILL of it would."""
        ...

    def wait_back(self, system: System) -> None:
        """Wait (bounded) until the services can reach the broker again."""
        ...

    def pause(self, system: System) -> None:
        """Stop the broker answering, its connections left open (a stalled server)."""
        ...

    def resume(self, system: System) -> None:
        """Let the paused broker answer again."""
        ...


class EmbeddedNats:
    """The launcher's NATS: killed with SIGKILL, restarted by the launcher."""

    name = "nats"

    def __init__(self) -> None:
        self._killed: int | None = None

    def crash(self, system: System) -> None:
        """SIGKILL the embedded NATS."""
        pid = system.pid(self.name)
        assert pid is not None, "the embedded NATS has no pid file"
        self._killed = pid
        os.kill(pid, signal.SIGKILL)

    def wait_back(self, system: System) -> None:
        """Wait until the launcher has restarted NATS and announced it ready."""
        if self._killed is not None:
            system.wait_restarted(self.name, self._killed)

    def pause(self, system: System) -> None:
        """SIGSTOP the embedded NATS."""
        self._signal(system, signal.SIGSTOP)

    def resume(self, system: System) -> None:
        """SIGCONT the embedded NATS."""
        self._signal(system, signal.SIGCONT)

    def _signal(self, system: System, signum: signal.Signals) -> None:
        pid = system.pid(self.name)
        assert pid is not None, "the embedded NATS has no pid file"
        os.kill(pid, signum)


def _denying(config: str, user: str, subject: str) -> str:
    """The node's configuration `config` with publishing to `subject` denied to `user`."""
    start = config.index("permissions: ", config.index(f"user: {json.dumps(user)}"))
    start += len("permissions: ")
    permissions, end = json.JSONDecoder().raw_decode(config, start)
    permissions["publish"].setdefault("deny", []).append(subject)
    text = json.dumps(permissions, indent=2, sort_keys=True).replace("\n", "\n      ")
    return config[:start] + text + config[end:]


@contextlib.contextmanager
def refused_pulls(system: System, consumer: str) -> Iterator[None]:
    """While the block runs, the embedded NATS gives the durable `consumer` no messages."""
    config = system.data_dir / CONFIG_FILE
    original = config.read_text()
    pid = system.pid(EmbeddedNats.name)
    assert pid is not None, "the embedded NATS has no pid file"
    pulls = f"$JS.API.CONSUMER.MSG.NEXT.{events_stream(DEFAULT_NAMESPACE)}.{consumer}"
    config.write_text(_denying(original, consumer, pulls))
    os.kill(pid, signal.SIGHUP)  # nats-server reloads its users and their permissions
    try:
        yield
    finally:
        config.write_text(original)
        os.kill(pid, signal.SIGHUP)


class ProxiedRabbit:
    """The shared RabbitMQ server, which the services reach through `proxy`."""

    name = "rabbitmq"

    def __init__(self, proxy: BrokerProxy) -> None:
        self.proxy = proxy

    def crash(self, system: System) -> None:
        """Drop every connection to RabbitMQ and refuse new ones for OUTAGE_SECONDS."""
        self.proxy.cut(restore_after=OUTAGE_SECONDS)

    def wait_back(self, system: System) -> None:
        """Wait until the proxy listens again (it does after OUTAGE_SECONDS)."""
        self.proxy.wait_listening(OUTAGE_SECONDS + CALL_TIMEOUT)

    def pause(self, system: System) -> None:
        """Stop relaying: the connections stay open, nothing crosses them."""
        self.proxy.pause()

    def resume(self, system: System) -> None:
        """Relay again what waited, and what comes."""
        self.proxy.resume()


class BrokerProxy:
    """A TCP relay from a local port to the broker, which a test can cut as a crash would.

    It runs an asyncio loop in a thread of the test process. `cut()` stops listening
    and aborts every relayed connection on both sides: the clients see their
    connections drop and new ones refused, the broker sees its clients gone (and
    requeues what they had not acknowledged). `restore()` listens on the same port
    again. `pause()` holds every byte in both directions (and new connections before
    they reach the broker) until `resume()`.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.listen_port = 0  # chosen by the system on the first start
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="broker-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._restore: asyncio.TimerHandle | None = None
        self._listening = threading.Event()
        self._flowing: asyncio.Event | None = None  # made in the loop's thread

    def url_for(self, url: str) -> str:
        """`url` (of the broker) with the proxy's address instead of the broker's."""
        parts = urlsplit(url)
        credentials, _, _ = parts.netloc.rpartition("@")
        netloc = f"{credentials}@" if credentials else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{self.listen_port}"))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT)

    def start(self) -> None:
        """Start the loop and listen."""
        self._thread.start()
        self._call(self._listen())

    def pause(self) -> None:
        """Hold what crosses the proxy, both ways, until `resume()`."""
        self._call(self._set_flowing(False))

    def resume(self) -> None:
        """Let it cross again."""
        self._call(self._set_flowing(True))

    async def _set_flowing(self, flowing: bool) -> None:
        gate = self._gate()
        if flowing:
            gate.set()
        else:
            gate.clear()

    def _gate(self) -> asyncio.Event:
        if self._flowing is None:
            self._flowing = asyncio.Event()
            self._flowing.set()
        return self._flowing

    def cut(self, *, restore_after: float | None = None) -> None:
        """Stop listening and drop every connection; listen again after `restore_after` s."""
        self._call(self._cut(restore_after))

    def restore(self) -> None:
        """Listen again now (nothing happens if it listens)."""
        self._call(self._listen())

    def wait_listening(self, timeout: float) -> None:
        """Wait until the proxy listens; AssertionError after `timeout` seconds."""
        if not self._listening.wait(timeout):
            raise AssertionError(f"the broker proxy did not listen again within {timeout:.0f} s")

    def close(self) -> None:
        """Drop everything and stop the loop."""
        with contextlib.suppress(FutureTimeout, RuntimeError):
            self._call(self._cut(None))
            self._call(_others_finish())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT)
        self._loop.close()

    async def _listen(self) -> None:
        if self._restore is not None:
            self._restore.cancel()
            self._restore = None
        if self._server is None:
            self._server = await asyncio.start_server(
                self._relay, "127.0.0.1", self.listen_port, reuse_address=True
            )
            self.listen_port = self._server.sockets[0].getsockname()[1]
            self._listening.set()

    async def _cut(self, restore_after: float | None) -> None:
        self._listening.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        if restore_after is not None:
            self._restore = self._loop.call_later(
                restore_after, lambda: self._loop.create_task(self._listen())
            )

    async def _relay(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        gate = self._gate()
        await gate.wait()  # a paused server accepts a connection and says nothing
        try:
            broker, to_broker = await asyncio.open_connection(self.host, self.port)
        except OSError:
            to_client.transport.abort()
            return
        pair = {to_client, to_broker}
        self._writers |= pair
        try:
            await asyncio.gather(_pipe(client, to_broker, gate), _pipe(broker, to_client, gate))
        finally:
            self._writers -= pair


async def _others_finish() -> None:
    """Wait for every other task of the loop (the relays of dropped connections)."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    await asyncio.gather(*others, return_exceptions=True)


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gate: asyncio.Event
) -> None:
    """Copy `reader` to `writer` while `gate` is open, until either side ends; close `writer`.

    AMQP never half-closes a connection, so one side ending ends both: closing
    `writer` makes the other direction's reader see the end too.
    """
    try:
        while data := await reader.read(CHUNK):
            await gate.wait()
            writer.write(data)
            await writer.drain()
    except OSError:
        pass  # a connection dropped (by a cut, or by either end)
    finally:
        writer.transport.abort()


@contextlib.contextmanager
def proxied(url: str) -> Iterator[BrokerProxy]:
    """A started proxy to the broker at `url`, closed at the end."""
    parts = urlsplit(url)
    proxy = BrokerProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


def delete_rabbit_namespace(url: str, namespace: str, consumers: list[str]) -> None:
    """Delete a namespace's exchanges and queues, `consumers`' queues included."""
    asyncio.run(admin.delete_rabbit_namespace(url, namespace, consumers))
