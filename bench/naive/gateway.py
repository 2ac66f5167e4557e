"""Naive gateway: threads, and a new upstream connection for every request.

Usage: python -m bench.naive.gateway PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from bench.naive import Handler, serve_forever


def main() -> None:
    """Serve on PORT, forwarding every GET to UPSTREAM_URL + path."""
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")

    class Gateway(Handler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
            request = urllib.request.Request(upstream + self.path)
            if self.headers.get("Authorization"):
                request.add_header("Authorization", self.headers["Authorization"])
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            self.answer(status, body)

    serve_forever(port, Gateway)


if __name__ == "__main__":
    main()
