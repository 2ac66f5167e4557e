"""The proxy's upstream leg: pooled HTTP/1.1 keep-alive connections to service instances.

The gateway forwards every request over connections it keeps open to each instance:
plain asyncio protocols whose answers httptools parses (the parser uvicorn serves
with). A proxy needs only a narrow part of an HTTP client (send a request it has
already framed, read back one whole answer), and for that aiohttp's general client
cost as much CPU as all the rest of the gateway; this way costs about half of it
(measured in docs/decisions.md, "Gateway"). The chassis' service client, for the
calls services make to each other, stays on aiohttp.

A connection carries one exchange at a time. It goes back to its instance's idle
list when the answer is complete and both sides keep it alive, and is closed
otherwise. An idle connection older than `keepalive_timeout` (below the services'
own 30 s, so that the gateway, not the server, ends it) or one the server closed is
never reused. If a reused connection fails before the first byte of its answer (the
server closed it just as it was reused), an idempotent request is sent once more on
a new connection; any other request may have reached the server and is not. An
interim answer (1xx, such as 103 Early Hints) is skipped for the final one.

Errors: `ConnectFailed` when no connection could be opened (nothing was sent),
`ExchangeFailed` when the connection broke or the answer was not HTTP, and
`TimeoutError` past the deadline (the connection is closed then, as its answer may
still come). A header that would break the framing (a line break, a character
beyond Latin-1) is a `ValueError` before anything is sent.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

__all__ = ["Answer", "ConnectFailed", "ExchangeFailed", "UpstreamPool"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class Answer:
    """An upstream's complete answer: status, raw headers and the whole body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class ConnectFailed(Exception):
    """No connection to the instance could be opened: nothing was sent."""


class ExchangeFailed(Exception):
    """The connection broke during the exchange, or the answer was not HTTP."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an instance: send a request, collect its answer."""

    def __init__(self, on_lost: Callable[[_Connection], None]) -> None:
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.head = False  # the answer to a HEAD has headers only
        self.received = False  # a byte of the current answer has arrived
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    async def exchange(self, request: bytes, *, head: bool) -> Answer:
        """Send `request` and wait for the whole answer (the caller bounds the wait)."""
        assert self.transport is not None and self.waiter is None
        self.waiter = asyncio.get_running_loop().create_future()
        self.head, self.received, self.reusable = head, False, False
        self.transport.write(request)
        return await self.waiter

    def close(self) -> None:
        """Close the connection; an exchange in progress fails."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the framing is lost
            self.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ExchangeFailed(f"the answer is not valid HTTP: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_lost(self)
        self._fail(ExchangeFailed("the connection closed before the answer was complete"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if self.head and not 100 <= status < 200:
            # The answer to a HEAD ends with its headers, but the parser would wait for
            # the body they announce (httptools cannot be told otherwise): the next
            # answer on this connection gets a parser of its own.
            keep_alive = self.parser.should_keep_alive()
            self.parser = httptools.HttpResponseParser(self)
            self._complete(status, reusable=keep_alive)

    def on_body(self, body: bytes) -> None:
        if self.waiter is not None:  # not a body sent, wrongly, after a HEAD's answer
            self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # interim (103 Early Hints): wait on
            self._headers, self._body = [], []
        elif not self.head:
            self._complete(self.parser.get_status_code(), reusable=self.parser.should_keep_alive())

    def _complete(self, status: int, *, reusable: bool) -> None:
        waiter, self.waiter = self.waiter, None
        answer = Answer(status, tuple(self._headers), b"".join(self._body))
        self._headers, self._body = [], []
        self.reusable = reusable
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)


class _Instance:
    """The address of one instance and its idle connections, most recently used last."""

    def __init__(self, origin: str, limit: int, tls: ssl.SSLContext | None) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an upstream must be an http:// or https:// origin, not {origin!r}")
        self.host = parts.hostname
        secure = parts.scheme == "https"
        self.port = parts.port or (443 if secure else 80)
        self.tls = (tls or ssl.create_default_context()) if secure else None
        self.host_header = parts.netloc
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(limit if limit > 0 else sys.maxsize)  # 0: no limit


class UpstreamPool:
    """Keep-alive connections to every instance the gateway forwards to.

    At most `limit` exchanges run at once on one instance (each on its own
    connection); more wait for one to end, within their deadline. 0: no limit.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 1.0,
        keepalive_timeout: float = 15.0,
        limit: int = 1000,
        ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.keepalive_timeout = keepalive_timeout
        self.limit = limit
        self.ssl = ssl
        self._instances: dict[str, _Instance] = {}
        self._open: set[_Connection] = set()

    async def exchange(
        self,
        origin: str,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        *,
        idempotent: bool,
        timeout: float,
    ) -> Answer:
        """Send one request to the instance at `origin` (`http[s]://host:port`), read the answer.

        `timeout` bounds the whole exchange; opening a connection is bounded by the
        smaller of it and `connect_timeout`.
        """
        instance = self._instances.get(origin)
        if instance is None:
            instance = self._instances[origin] = _Instance(origin, self.limit, self.ssl)
        request = _frame(method, target, instance.host_header, headers, body)
        head = method == "HEAD"
        async with asyncio.timeout(timeout), instance.slots:
            connection = self._idle_connection(instance)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(instance, timeout)
            try:
                answer = await _send(connection, request, head)
            except ExchangeFailed:
                if not (reused and idempotent and not connection.received):
                    raise
                connection = await self._connect(instance, timeout)
                answer = await _send(connection, request, head)
            self._release(instance, connection)
            return answer

    async def close(self) -> None:
        """Close every connection."""
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        for instance in self._instances.values():
            instance.idle.clear()

    def _idle_connection(self, instance: _Instance) -> _Connection | None:
        idle = instance.idle
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive_timeout:
                return connection
            connection.close()
        return None

    async def _connect(self, instance: _Instance, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(min(self.connect_timeout, timeout)):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self._open.discard),
                    instance.host,
                    instance.port,
                    ssl=instance.tls,
                )
        except TimeoutError:
            raise ConnectFailed(f"no connection within {self.connect_timeout:g}s") from None
        except OSError as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from None
        self._open.add(connection)
        return connection

    def _release(self, instance: _Instance, connection: _Connection) -> None:
        if connection.reusable and not connection.closed:
            connection.idle_since = time.monotonic()
            instance.idle.append(connection)
        else:
            connection.close()


async def _send(connection: _Connection, request: bytes, head: bool) -> Answer:
    """One exchange on `connection`, which is closed if it fails or is abandoned."""
    try:
        return await connection.exchange(request, head=head)
    except BaseException:
        connection.close()  # broken, or its answer may still come: never reuse it
        raise


def _frame(
    method: str, target: str, host: str, headers: Sequence[tuple[str, str]], body: bytes | None
) -> bytes:
    """The request's bytes; ValueError for a header that would break the framing."""
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    if body is not None or method in _BODY_METHODS:
        lines.append(f"content-length: {len(body or b'')}\r\n")
    lines.append("\r\n")
    text = "".join(lines)
    # Every line break must be one this function wrote: a CR or LF inside a name or
    # value would let it smuggle a header (or a whole request) past the gateway.
    if text.count("\n") != len(lines) + 1 or text.count("\r") != len(lines) + 1:
        raise ValueError("a request header holds a line break")
    return text.encode("latin-1") + (body or b"")
