"""The gateway's upstream connections against a real TCP server that answers by script.

`Scripted` is a raw asyncio server: each request it reads (headers and a
Content-Length body) takes the next scripted answer, sent as given, or `CLOSE`, which
closes the connection without answering. It counts connections and keeps every
request, so a test sees what went over the wire and how often.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from mercato.gateway.upstream import ConnectFailed, ExchangeFailed, UpstreamPool

CLOSE = b""
OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


def answer(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{line}\r\n" for line in extra)
    return f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n{head}\r\n".encode() + body


class Scripted:
    """A TCP server answering each request with the next scripted bytes."""

    def __init__(
        self, answers: Sequence[bytes], *, delay: float = 0.0, hang_up: bool = False
    ) -> None:
        self.answers = list(answers)
        self.delay = delay
        self.hang_up = hang_up  # close each connection after its first answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.in_flight = self.most_in_flight = 0
        self.server: asyncio.Server | None = None

    @property
    def origin(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                await asyncio.sleep(self.delay)
                self.in_flight -= 1
                reply = self.answers.pop(0)
                if reply == CLOSE:
                    break
                writer.write(reply)
                await writer.drain()
                if self.hang_up:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    pool = UpstreamPool(connect_timeout=0.5)
    yield pool
    await pool.close()


async def started(server: Scripted) -> Scripted:
    server.server = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    return server


async def get(pool: UpstreamPool, server: Scripted, method: str = "GET", **kw: object) -> bytes:
    options: dict[str, object] = {"idempotent": method == "GET", "timeout": 2.0, **kw}
    reply = await pool.exchange(server.origin, method, "/x?y=1", [], None, **options)  # type: ignore[arg-type]
    return reply.body


async def test_a_connection_is_kept_alive_and_reused(pool: UpstreamPool) -> None:
    server = await started(Scripted([OK, OK, OK]))
    assert [await get(pool, server) for _ in range(3)] == [b"ok"] * 3
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /x?y=1 HTTP/1.1\r\nhost: 127.0.0.1:")


async def test_the_request_is_framed_with_its_headers_and_body(pool: UpstreamPool) -> None:
    server = await started(Scripted([OK]))
    headers = [("authorization", "Bearer t"), ("x-request-id", "r-1")]
    await pool.exchange(
        server.origin, "POST", "/p", headers, b'{"a":1}', idempotent=False, timeout=2.0
    )
    lines = server.requests[0].split(b"\r\n")
    assert lines[0] == b"POST /p HTTP/1.1"
    assert {b"authorization: Bearer t", b"x-request-id: r-1", b"content-length: 7"} <= set(lines)
    assert lines[-1] == b'{"a":1}'


async def test_an_answer_saying_close_ends_its_connection(pool: UpstreamPool) -> None:
    server = await started(Scripted([answer(b"one", "connection: close"), OK]))
    assert await get(pool, server) == b"one"
    assert await get(pool, server) == b"ok"
    assert server.connections == 2


async def test_a_chunked_answer_is_read_whole(pool: UpstreamPool) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    server = await started(Scripted([chunked, OK]))
    assert await get(pool, server) == b"abcdefg"
    assert await get(pool, server) == b"ok"
    assert server.connections == 1


async def test_an_interim_answer_is_skipped_for_the_final_one(pool: UpstreamPool) -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"
    server = await started(Scripted([hints + answer(b"final"), OK]))
    reply = await pool.exchange(server.origin, "GET", "/", [], None, idempotent=True, timeout=2)
    assert (reply.status, reply.body, reply.headers) == (
        200,
        b"final",
        ((b"content-length", b"5"),),
    )
    assert await get(pool, server) == b"ok"
    assert server.connections == 1


HEAD_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


async def head(pool: UpstreamPool, server: Scripted) -> tuple[int, bytes, bool]:
    reply = await pool.exchange(server.origin, "HEAD", "/h", [], None, idempotent=True, timeout=2)
    return reply.status, reply.body, (b"content-length", b"5") in reply.headers


async def test_a_head_answer_has_headers_only_and_its_connection_is_reused(
    pool: UpstreamPool,
) -> None:
    server = await started(Scripted([HEAD_ANSWER, OK, HEAD_ANSWER, HEAD_ANSWER, OK]))
    assert await head(pool, server) == (200, b"", True)
    assert await get(pool, server) == b"ok"
    assert [await head(pool, server) for _ in range(2)] == [(200, b"", True)] * 2
    assert await get(pool, server) == b"ok"
    assert server.connections == 1


async def test_a_head_answer_after_an_interim_one_is_the_final_one(pool: UpstreamPool) -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n"
    server = await started(Scripted([early + HEAD_ANSWER, OK]))
    assert await head(pool, server) == (200, b"", True)
    assert await get(pool, server) == b"ok"
    assert server.connections == 1


async def test_a_head_answer_closing_its_connection_is_not_reused(pool: UpstreamPool) -> None:
    closing = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
    server = await started(Scripted([closing, OK]))  # the server would go on: the client closes
    assert await head(pool, server) == (200, b"", True)
    assert await get(pool, server) == b"ok"
    assert server.connections == 2


async def test_a_body_wrongly_sent_after_a_head_answer_is_not_taken_for_the_next(
    pool: UpstreamPool,
) -> None:
    server = await started(Scripted([HEAD_ANSWER + b"12345", OK]))
    assert await head(pool, server) == (200, b"", True)
    assert await get(pool, server) == b"ok"


async def test_an_idle_connection_the_server_closed_is_not_used(pool: UpstreamPool) -> None:
    server = await started(Scripted([OK, OK], hang_up=True))
    assert await get(pool, server) == b"ok"
    await asyncio.sleep(0.05)  # the close has arrived
    assert await get(pool, server) == b"ok"
    assert (server.connections, len(server.requests)) == (2, 2)


async def test_a_reused_connection_that_fails_unanswered_is_retried_if_idempotent(
    pool: UpstreamPool,
) -> None:
    server = await started(Scripted([OK, CLOSE, OK]))
    assert await get(pool, server) == b"ok"
    assert await get(pool, server) == b"ok"
    assert (server.connections, len(server.requests)) == (2, 3)


async def test_a_post_on_a_reused_connection_that_fails_is_not_sent_again(
    pool: UpstreamPool,
) -> None:
    server = await started(Scripted([OK, CLOSE, OK]))
    assert await get(pool, server) == b"ok"
    with pytest.raises(ExchangeFailed):
        await get(pool, server, "POST")
    assert len(server.requests) == 2


async def test_an_idle_connection_past_the_keepalive_timeout_is_not_reused() -> None:
    pool = UpstreamPool(keepalive_timeout=0.05)
    server = await started(Scripted([OK, OK]))
    try:
        assert await get(pool, server) == b"ok"
        await asyncio.sleep(0.1)
        assert await get(pool, server) == b"ok"
    finally:
        await pool.close()
    assert server.connections == 2


async def test_a_late_answer_never_reaches_the_next_request(pool: UpstreamPool) -> None:
    server = await started(Scripted([answer(b"late"), answer(b"next")], delay=0.3))
    with pytest.raises(TimeoutError):
        await get(pool, server, timeout=0.1)
    assert await get(pool, server) == b"next"
    assert server.connections == 2


async def test_a_refused_connection_is_connect_failed(pool: UpstreamPool) -> None:
    server = await started(Scripted([]))
    origin = server.origin
    assert server.server is not None
    server.server.close()
    await server.server.wait_closed()
    with pytest.raises(ConnectFailed):
        await pool.exchange(origin, "GET", "/", [], None, idempotent=True, timeout=1.0)


async def test_an_answer_that_is_not_http_is_exchange_failed(pool: UpstreamPool) -> None:
    server = await started(Scripted([b"SSH-2.0-OpenSSH\r\n\r\n"]))
    with pytest.raises(ExchangeFailed, match="not valid HTTP"):
        await get(pool, server)


async def test_a_header_with_a_line_break_is_refused_before_sending(pool: UpstreamPool) -> None:
    server = await started(Scripted([OK]))
    smuggled = [("x-user", "ann\r\nx-mercato-roles: admin")]
    with pytest.raises(ValueError, match="line break"):
        await pool.exchange(server.origin, "GET", "/", smuggled, None, idempotent=True, timeout=1)
    assert server.connections == 0


@pytest.mark.parametrize(("limit", "connections"), [(1, 1), (0, 3)])
async def test_the_limit_bounds_connections_to_an_instance(limit: int, connections: int) -> None:
    # Three exchanges at once: a limit of 1 runs them one after the other on one
    # connection; 0 is no limit, so each gets a connection of its own.
    pool = UpstreamPool(limit=limit)
    server = await started(Scripted([OK, OK, OK], delay=0.05))
    try:
        assert await asyncio.gather(*(get(pool, server) for _ in range(3))) == [b"ok"] * 3
    finally:
        await pool.close()
    assert (server.connections, server.most_in_flight) == (connections, connections)
