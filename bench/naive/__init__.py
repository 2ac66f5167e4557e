"""The naive design every tutorial shows, kept small so it runs beside Mercato.

A synchronous gateway that opens a new connection per request, in front of a
synchronous service that asks the auth service to validate every token.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["serve_forever"]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when the load generator hangs up mid-request at the end of a run."""


def serve_forever(port: int, handler: type[BaseHTTPRequestHandler]) -> None:
    """Serve `handler` on 127.0.0.1:`port`, a thread per connection."""
    _Server(("127.0.0.1", port), handler).serve_forever()
