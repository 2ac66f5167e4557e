"""Raw HTTP/1.1 over sockets, for attacks an HTTP client would normalise away.

`Wire` is one TCP connection from a chosen loopback address (so that an attacker on
127.0.0.2 and a customer on 127.0.0.1 are two clients to the gateway); `Answer` is
what came back, parsed just enough to check a status, a header and a problem.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any

ATTACKER = "127.0.0.2"  # every 127.0.0.0/8 address is this host's on Linux


@dataclass
class Answer:
    """One HTTP answer read off the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called `name`, or None."""
        return next((v for k, v in self.headers if k == name.lower()), None)

    def problem(self) -> dict[str, Any]:
        """The problem+json document of the answer."""
        assert self.header("content-type") == "application/problem+json", self.headers
        document: dict[str, Any] = json.loads(self.body)
        assert document["status"] == self.status
        return document


class Wire:
    """One raw connection to `port` on 127.0.0.1, from `source`."""

    def __init__(self, port: int, *, source: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
        )
        self.buffer = b""

    def send(self, data: bytes) -> None:
        """Write `data` (all of it, or until the peer stops reading)."""
        self.sock.sendall(data)

    def closed_by_peer(self, within: float) -> bool:
        """Whether the peer closes (EOF or reset) within `within` s; what it sent is kept."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buffer += chunk
        return False

    def answer(self, *, head_only: bool = False) -> Answer:
        """Read one answer (its body by Content-Length; to EOF without one)."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = [
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in lines[1:])
        ]
        length = next((int(v) for k, v in headers if k == "content-length"), None)
        if head_only or status in (204, 304):
            length = 0
        if length is None:
            while self._more(eof_ok=True):
                pass
            length = len(self.buffer) - len(head) - 4
            rest = self.buffer[len(head) + 4 :]
        while len(rest) < length:
            self._more()
            rest = self.buffer[len(head) + 4 :]
        self.buffer = rest[length:]
        return Answer(status, headers, rest[:length])

    def _more(self, *, eof_ok: bool = False) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            if eof_ok:
                return False
            raise ConnectionError(f"the peer closed after {self.buffer[:200]!r}")
        self.buffer += chunk
        return True

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def request(
    port: int,
    data: bytes,
    *,
    source: str = "127.0.0.1",
    timeout: float = 10.0,
) -> Answer:
    """Send `data` on a new connection and read one answer."""
    wire = Wire(port, source=source, timeout=timeout)
    try:
        wire.send(data)
        return wire.answer()
    finally:
        wire.close()


def get(path: str, *headers: str, host: str = "shop.test") -> bytes:
    """A GET request's bytes, with extra header lines."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")
