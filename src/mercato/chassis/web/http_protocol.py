"""The HTTP/1.1 server protocol every process serves with: uvicorn's, with bounds.

uvicorn's httptools protocol parses well and fast but bounds nothing a client holds:
a connection that never sends a byte, or half a header line, stays open for ever; a
32 MiB header is buffered whole and handed on; a body that stops mid-way keeps its
request waiting. `BoundedHttpProtocol` is that protocol with the bounds nginx and
Envoy keep (`HttpLimits`, from the settings):

- time: a request head must arrive whole within `head_timeout` of its first byte,
  and a new connection's first byte within `head_timeout` of the accept; a body may
  pause at most `body_timeout` while the app waits for it; an idle keep-alive
  connection is closed after `keepalive_timeout`. A late head or body gets a 408.
- size: the request target (414), each header line, the number of headers and the
  whole head (431), counted as the bytes arrive: at most one read beyond
  `max_head_bytes` is ever buffered, and nothing of such a request reaches the app.
- connections: `max_connections` in all (when full, the connection idle the longest
  is closed to make room) and `max_connections_per_client` from one address (not
  counting the trusted proxies, behind which every client shares an address); a
  connection beyond them gets a 503 with Retry-After.
- an HTTP/0.9 request line (no version) gets a 400.
- an answer given before the request body was read (a 413 from the Content-Length,
  a 401) is followed by a lingering close, as nginx does: the rest of the body is
  read and dropped, at most `linger_bytes` of it for at most `linger_timeout`, so
  that a client that writes its whole body before reading (Python's urllib, many
  SDKs) reads the answer instead of a connection reset. A keep-alive connection
  drops such a body as it parses it, up to `max_drain_bytes`, and then lingers. A
  refused head lingers for `max_drain_bytes` only: what follows a 32 MiB header is
  an attack, not a body, and reading it would cost the server the attacker's
  bandwidth.

Every refusal is a problem+json document with `Connection: close`. The subclass
overrides uvicorn's protocol callbacks and sets the request cycle's `transport`;
the security tests fail if a uvicorn release changes them (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mercato.chassis.security.client_addresses import ClientAddresses
from mercato.chassis.web.errors import (
    PROBLEM_JSON,
    BadRequest,
    HeadersTooLarge,
    ProblemError,
    RequestTimeout,
    ServiceUnavailable,
    UriTooLong,
)

__all__ = ["BoundedHttpProtocol", "ConnectionBook", "HttpLimits", "bounded_protocol"]


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one client may hold of a server process; see the module docstring."""

    head_timeout: float = 10.0
    body_timeout: float = 10.0
    keepalive_timeout: float = 30.0
    linger_timeout: float = 5.0
    max_request_line_bytes: int = 8192
    max_header_bytes: int = 8192
    max_headers: int = 100
    max_head_bytes: int = 65536
    max_drain_bytes: int = 1_048_576
    linger_bytes: int = 16 << 20
    max_connections: int = 4096
    max_connections_per_client: int = 0  # 0: no bound per client
    trusted_proxies: tuple[str, ...] = ()


def problem_bytes(error: ProblemError) -> bytes:
    """A whole HTTP/1.1 answer carrying `error` as problem+json, closing the connection."""
    body = orjson.dumps(error.body())
    head = [
        f"HTTP/1.1 {error.status} {error.title}",
        f"content-type: {PROBLEM_JSON}",
        f"content-length: {len(body)}",
        "connection: close",
        *(f"{name.lower()}: {value}" for name, value in error.headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class ConnectionBook:
    """The open connections of one server process, in all and per client address."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.per_client: dict[str, int] = {}
        self.open: dict[BoundedHttpProtocol, str] = {}  # insertion order: oldest first
        self.proxies = ClientAddresses(limits.trusted_proxies)

    def _counted(self, address: str) -> bool:
        """Whether `address` is held to the bound per client (a trusted proxy is not)."""
        return not self.proxies.is_trusted(address)

    def admit(self, connection: BoundedHttpProtocol, address: str) -> ProblemError | None:
        """Count a new connection in, or give the refusal it gets."""
        limits = self.limits
        per_client = limits.max_connections_per_client
        if per_client and self.per_client.get(address, 0) >= per_client and self._counted(address):
            return ServiceUnavailable(
                "Too many connections from your address.", headers={"Retry-After": "1"}
            )
        if len(self.open) >= limits.max_connections and not self._close_idlest():
            return ServiceUnavailable(
                "The server is at its connection limit.", headers={"Retry-After": "1"}
            )
        self.open[connection] = address
        self.per_client[address] = self.per_client.get(address, 0) + 1
        return None

    def release(self, connection: BoundedHttpProtocol) -> None:
        """Count a closed connection out (a second call does nothing)."""
        address = self.open.pop(connection, None)
        if address is None:
            return
        left = self.per_client.get(address, 1) - 1
        if left > 0:
            self.per_client[address] = left
        else:
            self.per_client.pop(address, None)

    def _close_idlest(self) -> bool:
        """Close the oldest connection with no request under way; whether there was one."""
        for connection in self.open:
            if connection.idle:
                self.release(connection)
                connection.transport.close()
                return True
        return False


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol held to `limits`; one process shares `book`."""

    limits: HttpLimits = HttpLimits()
    book: ConnectionBook

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.keepalive_timeout  # type: ignore[assignment]
        self._in_head = False  # a request's head has begun and is not complete
        self._head_bytes = 0  # bytes read since the last head was complete
        self._line_bytes = 0
        self._headers_seen = 0
        self._headers_bytes = 0
        self._drained = 0
        self._lingering = False
        self._linger_left = 0  # what a lingering close still reads before it resets
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        refusal = self.book.admit(self, self.client[0] if self.client else "")
        if refusal is not None:
            self._refuse(refusal)
            return
        self._arm(self.limits.head_timeout, self._head_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.book.release(self)
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._lingering:  # the client has sent all it will: the answer is read
            self.transport.close()

    @property
    def idle(self) -> bool:
        """Whether no request is under way: before the first, between two, or lingering."""
        if self._lingering:
            return True
        return not self._in_head and (self.cycle is None or self.cycle.response_complete)

    # -- reading ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # dropped: the answer is written, the connection is closing
            self._linger_left -= len(data)
            if self._linger_left < 0:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no upgrade is served: the request was handed on as plain HTTP/1.1
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._refuse(cause if isinstance(cause, ProblemError) else _malformed(exc))
            return
        except httptools.HttpParserError as exc:
            self._refuse(_malformed(exc))
            return
        if self._in_head and self._head_bytes > self.limits.max_head_bytes:
            self._refuse(HeadersTooLarge("The request head is too large."))
            return
        cycle = self.cycle
        if self.idle and self._deadline is None:  # bytes that began no request (CRLFs)
            self._arm(self.limits.head_timeout, self._head_late)
        elif cycle is not None and cycle.more_body:
            if not cycle.response_complete:
                self._arm(self.limits.body_timeout, self._body_late)
            else:  # answered already: what still comes of the body is dropped
                self._drained += len(data)
                if self._drained > self.limits.max_drain_bytes:
                    self._linger(self.limits.linger_bytes)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._line_bytes = self._headers_seen = self._headers_bytes = self._drained = 0
        if self._deadline is None:
            self._arm(self.limits.head_timeout, self._head_late)

    def on_url(self, url: bytes) -> None:
        self._line_bytes += len(url)
        if self._line_bytes > self.limits.max_request_line_bytes:
            raise UriTooLong("The request target is too long.")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        limits = self.limits
        size = len(name) + len(value) + 4  # "name: value\r\n"
        self._headers_seen += 1
        self._headers_bytes += size
        if size > limits.max_header_bytes:
            raise HeadersTooLarge("A request header is too large.")
        if self._headers_seen > limits.max_headers:
            raise HeadersTooLarge("The request has too many headers.")
        if self._line_bytes + self._headers_bytes > limits.max_head_bytes:
            raise HeadersTooLarge("The request head is too large.")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.parser.get_http_version() == "0.9":
            raise BadRequest("HTTP/0.9 is not served: send an HTTP/1.1 request line.")
        self._in_head = False
        self._head_bytes = 0
        self._disarm()
        super().on_headers_complete()
        # The cycle closes the connection through its transport once it has answered;
        # an answer given before the body was read then lingers instead (`_close`).
        self.cycle.transport = _LingeringTransport(self)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # -- deadlines -------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_late(self) -> None:
        self._deadline = None
        if self._in_head:
            self._refuse(RequestTimeout("The request head took too long to arrive."))
        elif self.idle:
            self.transport.close()  # a new connection that never sent a byte

    def _body_late(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or cycle.response_complete:
            return
        if self.flow.read_paused:  # the app is not reading yet: the client is not late
            self._arm(self.limits.body_timeout, self._body_late)
            return
        # The app waiting for the body learns of the end as from a client gone away.
        cycle.disconnected = True
        cycle.message_event.set()
        if cycle.response_started:
            self.transport.close()
        else:
            self._refuse(RequestTimeout("The request body stopped arriving."))

    # -- answering and closing -------------------------------------------------------

    def _refuse(self, error: ProblemError) -> None:
        """Answer `error` in place of the app, and close (lingering)."""
        self._disarm()
        if self.transport.is_closing():
            return
        self.transport.write(problem_bytes(error))
        self._linger(self.limits.max_drain_bytes)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's own 400, as problem+json."""
        self._refuse(BadRequest(msg))

    def _close(self) -> None:
        """Close after an answer, lingering if the request body is still arriving."""
        cycle = self.cycle
        if cycle is not None and cycle.more_body and not self.transport.is_closing():
            self._linger(self.limits.linger_bytes)
        else:
            self._disarm()
            self.transport.close()

    def _linger(self, budget: int) -> None:
        """Write nothing more, drop what the client still sends (`budget` bytes at most),
        close at its EOF, or at the budget's or `linger_timeout`'s end."""
        if self._lingering:
            return
        self._lingering = True
        self._linger_left = budget
        self.flow.resume_reading()
        try:
            self.transport.write_eof()
        except (OSError, RuntimeError, NotImplementedError):  # TLS cannot half-close
            self.transport.close()
            return
        self._arm(self.limits.linger_timeout, self.transport.close)


def _malformed(exc: Exception) -> BadRequest:
    reason = str(exc).strip().rstrip(".")[:120] or "not HTTP/1.1"
    return BadRequest(f"The request is malformed: {reason}.")


class _LingeringTransport:
    """The transport a request cycle writes to, whose `close` may linger (`_close`)."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, protocol: BoundedHttpProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._protocol._close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def bounded_protocol(limits: HttpLimits) -> type[BoundedHttpProtocol]:
    """The protocol class for uvicorn's `http=`: `limits`, and a book of its own."""
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {"limits": limits, "book": ConnectionBook(limits)},
    )
