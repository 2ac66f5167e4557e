"""Shared pieces of the gateway's service tests: real upstream servers and the gateway.

`Upstream` is a real aiohttp server on 127.0.0.1 standing in for one service
instance: it echoes what it received (method, path, query, headers, body) and can
be told to answer slowly, with another status, to report itself not ready, or to
report something beside its readiness (`reported`, as a service reports its broker).
`gateway()` runs the gateway app in-process (its lifespan included, no broker)
with the test signing key, behind an httpx client whose peer address is chosen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
from aiohttp import web
from aiohttp.test_utils import TestServer
from starlette.applications import Starlette

from mercato.gateway.app import create_app
from mercato.gateway.settings import load_settings
from tests.support.tokens import TokenFactory

CLIENT_IP = "203.0.113.7"


class Instance(Protocol):
    """What the gateway is told of an instance: its origin (an `Upstream`, or a real app)."""

    @property
    def url(self) -> str: ...


class Upstream:
    """A real HTTP server standing in for one instance of a service."""

    def __init__(self, name: str = "backend") -> None:
        self.name = name
        self.hits: list[dict[str, Any]] = []
        self.delay = 0.0
        self.status = 200
        self.ready = True
        self.reported: dict[str, Any] = {}  # what its readiness reports beside (its broker)
        self.extra_headers: dict[str, str] = {}
        app = web.Application()
        app.router.add_get("/health/ready", self._ready)
        app.router.add_route("*", "/{tail:.*}", self._echo)
        self.server = TestServer(app, host="127.0.0.1")
        self.running = False
        self.url = ""

    async def start(self) -> None:
        """Listen on a free port; `url` is the instance's origin from now on."""
        await self.server.start_server()
        self.running = True
        self.url = f"http://127.0.0.1:{self.server.port}"

    async def stop(self) -> None:
        """Stop listening: connections are refused from now on."""
        if self.running:
            self.running = False
            await self.server.close()

    async def _ready(self, request: web.Request) -> web.Response:
        status = 200 if self.ready else 503
        body: dict[str, Any] = {"status": "ok" if self.ready else "down"}
        if self.reported:
            body["reported"] = self.reported
        return web.json_response(body, status=status)

    async def _echo(self, request: web.Request) -> web.Response:
        record = {
            "instance": self.name,
            "method": request.method,
            "path": request.rel_url.raw_path,
            "query": request.rel_url.raw_query_string,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": (await request.read()).decode("utf-8", "replace"),
        }
        self.hits.append(record)
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(record, status=self.status, headers=self.extra_headers)


@asynccontextmanager
async def upstreams(*names: str) -> AsyncIterator[list[Upstream]]:
    """Start one Upstream per name; stop them all at the end."""
    servers = [Upstream(name) for name in names]
    for server in servers:
        await server.start()
    try:
        yield servers
    finally:
        for server in servers:
            await server.stop()


def upstreams_setting(pools: Mapping[str, Sequence[Instance]]) -> str:
    """The `upstreams` setting for these instances."""
    return ",".join(f"{svc}=" + "|".join(u.url for u in ups) for svc, ups in pools.items())


@asynccontextmanager
async def gateway(
    tokens: TokenFactory,
    pools: Mapping[str, Sequence[Instance]],
    *,
    client: tuple[str, int] = (CLIENT_IP, 40000),
    **overrides: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """The gateway in-process in front of `pools`, with an httpx client talking to it."""
    settings = load_settings(
        upstreams=upstreams_setting(pools), broker_url="", health_cache_seconds=0, **overrides
    )
    app = create_app(settings, configure_logs=False)
    app.state.runtime.verifier.keys = tokens.keys
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
            yield http, app
