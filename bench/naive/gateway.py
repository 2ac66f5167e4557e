"""Naive gateway: threads, and a new upstream connection for every request.

Usage: python -m bench.naive.gateway PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

from bench.naive import serve_forever


def main() -> None:
    """Serve on PORT, forwarding every GET to UPSTREAM_URL + path."""
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            request = urllib.request.Request(upstream + self.path)
            if self.headers.get("Authorization"):
                request.add_header("Authorization", self.headers["Authorization"])
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    serve_forever(port, Handler)


if __name__ == "__main__":
    main()
