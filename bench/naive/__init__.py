"""The naive design every tutorial shows, kept small so it runs beside Mercato.

A synchronous gateway that opens a new connection per request, in front of a
synchronous service that asks the auth service to validate every token.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Handler", "serve_forever"]


class Handler(BaseHTTPRequestHandler):
    """A keep-alive HTTP/1.1 handler that sends each answer in one write.

    `http.server` writes unbuffered by default: the headers and the body leave as two
    small segments, and on a keep-alive connection Nagle's algorithm holds the body
    until the client's delayed ACK of the headers, 40 ms later. That stall is an
    accident of the standard library, not a property of the design, and it would cap
    the baseline at 16 / 48 ms = 333 req/s whatever its CPU cost; so the answer is
    buffered and flushed whole, as any real server does, and Nagle is off.
    """

    protocol_version = "HTTP/1.1"
    wbufsize = -1
    disable_nagle_algorithm = True

    def answer(self, status: int, body: bytes) -> None:
        """Send a JSON answer (`handle_one_request` flushes it after the method)."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        """Stay quiet: one line per request would measure the terminal."""


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connection attempts under 16 clients,
    # each retried by the kernel a second later: another stdlib accident, not the design.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when the load generator hangs up mid-request at the end of a run."""


def serve_forever(port: int, handler: type[Handler]) -> None:
    """Serve `handler` on 127.0.0.1:`port`, a thread per connection."""
    _Server(("127.0.0.1", port), handler).serve_forever()
