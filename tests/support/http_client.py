"""Helpers of the inter-service client tests: a misbehaving upstream and its addresses."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web
from aiohttp.test_utils import BaseTestServer

__all__ = ["Upstream", "origin", "url"]


class Upstream:
    """A misbehaving service: counts calls per path and fails on demand."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failures_left = 0
        self.fail_status = 503
        self.slow_calls_left = 0
        self.release = asyncio.Event()
        self.seen: list[dict[str, str]] = []
        self.token_expires_in = 300
        self.token_requests: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/flaky", self.flaky)
        app.router.add_get("/echo", self.echo)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_post("/api/auth/token", self.token)
        return app

    def _record(self, request: web.Request) -> None:
        self.calls[request.path] += 1
        self.seen.append(dict(request.headers))

    async def flaky(self, request: web.Request) -> web.Response:
        """Answer `fail_status` while `failures_left` lasts, then 200."""
        self._record(request)
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.json_response({"error": "down"}, status=self.fail_status)
        return web.json_response({"ok": True, "method": request.method})

    async def echo(self, request: web.Request) -> web.Response:
        """Answer with the request's headers."""
        self._record(request)
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    async def slow(self, request: web.Request) -> web.Response:
        """Hang (until released) while `slow_calls_left` lasts, then answer at once."""
        self._record(request)
        if self.slow_calls_left > 0:
            self.slow_calls_left -= 1
            await self.release.wait()
        return web.json_response({"ok": True})

    async def status(self, request: web.Request) -> web.Response:
        """Answer the status named in the path."""
        self._record(request)
        return web.json_response({}, status=int(request.match_info["code"]))

    async def token(self, request: web.Request) -> web.Response:
        """Mint a client-credentials token, slowly enough for a burst to overlap."""
        self._record(request)
        body = await request.json()
        self.token_requests.append(body)
        await asyncio.sleep(0.05)
        n = self.calls[request.path]
        return web.json_response(
            {
                "access_token": f"token-{body['audience']}-{n}",
                "token_type": "Bearer",
                "expires_in": self.token_expires_in,
            }
        )


def url(server: BaseTestServer, path: str) -> str:
    return str(server.make_url(path))


def origin(server: BaseTestServer) -> str:
    return str(server.make_url("")).rstrip("/")
