"""The gateway's edge: what it puts in front of the chassis' app, and opens with it.

The chassis builds the gateway's app as any service's (errors, health probes,
metrics, lifespan) and asks this `Edge` for the rest. The layers, outermost first:

    SecurityHeaders      security headers on every answer, errors included
    CORSMiddleware       only when `cors_origins` is set
    RequestMiddleware    the chassis: ids, trace context, 413/415 (uploads: their own
                         bound), access log, metrics
    OperatorGate         metrics, detailed health, docs: the operator port, or admins
    ProxyDispatch        /api/..., /.well-known/jwks.json and (with a storefront) every
                         page's path -> Proxy (raw ASGI)
    (router)             /health, /health/live, /health/ready, /metrics, /asyncapi.json

While the app runs the edge holds the proxy's upstream connections, the rate
limiter and, with Redis, the shared deny list that `auth.token_revoked` events
from the bus are mirrored into.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from mercato.chassis.events import Event
from mercato.chassis.events.asyncapi import asyncapi_document
from mercato.chassis.runtime import TOKEN_REVOKED, Runtime
from mercato.chassis.web.json_response import JsonResponse
from mercato.gateway.denylist import RedisDenyList
from mercato.gateway.forward import Forwarder
from mercato.gateway.headers import SecurityHeaders
from mercato.gateway.health import HealthAggregator
from mercato.gateway.operator import ASYNCAPI_PATH, OperatorGate
from mercato.gateway.proxy import Proxy, ProxyDispatch
from mercato.gateway.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from mercato.gateway.routing import RoutePatterns, RouteTable
from mercato.gateway.settings import GatewaySettings

__all__ = ["GatewayEdge", "GatewayRuntime"]

log = logging.getLogger("mercato.gateway")
GatewayRuntime = Runtime[GatewaySettings, None]
CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "traceparent"]
CORS_EXPOSED = ["X-Request-ID", "Retry-After", "Location", "WWW-Authenticate"]


class GatewayEdge:
    """The proxy, its health aggregator and the deny list, around the chassis' app."""

    # A HEAD is forwarded as it is: the service answers it (the chassis runs its GET
    # route), so no body crosses the hop only to be dropped here.
    head_as_get = False

    def __init__(self, runtime: GatewayRuntime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.settings = settings
        self.trust_traceparent = settings.trust_traceparent
        self.proxy = _proxy(runtime)
        self.health = HealthAggregator(
            self.proxy.routes.pools(),
            self.proxy.forwarder,
            timeout=settings.health_timeout,
            cache_seconds=settings.health_cache_seconds,
        )
        self.denylist = (
            RedisDenyList(settings.redis_url, runtime.revocations) if settings.redis_url else None
        )
        self._asyncapi: bytes | None = None

    def routes(self) -> Sequence[BaseRoute]:
        """`/health`: every upstream's readiness, aggregated; the events' AsyncAPI document."""
        return [
            Route("/health", self.health.endpoint, methods=["GET"]),
            Route(ASYNCAPI_PATH, self.asyncapi, methods=["GET"]),
        ]

    async def asyncapi(self, _: Request) -> Response:
        """The AsyncAPI document of the events, in this system's bus namespace."""
        if self._asyncapi is None:  # built on first use: most processes are never asked
            document = asyncapi_document(self.settings.bus_namespace)
            self._asyncapi = bytes(JsonResponse(document).body)
        return Response(self._asyncapi, media_type="application/json")

    def around(self, front: ASGIApp) -> ASGIApp:
        """Security headers, then CORS if configured, outside the request middleware."""
        settings = self.settings
        if settings.cors_origins:
            front = CORSMiddleware(
                front,
                allow_origins=list(settings.cors_origins),
                allow_methods=CORS_METHODS,
                allow_headers=CORS_HEADERS,
                expose_headers=CORS_EXPOSED,
                max_age=600,
            )
        pages = self.proxy.routes.is_page if self.proxy.routes.pages is not None else None
        return SecurityHeaders(front, hsts=settings.hsts, is_page=pages)

    def within(self, routed: ASGIApp) -> ASGIApp:
        """The operator's gate, then the proxy; what neither takes goes to the router."""
        settings = self.settings
        return OperatorGate(
            ProxyDispatch(routed, proxy=self.proxy),
            verifier=self.runtime.verifier,
            operator_port=settings.operator_port,
            operator_admins=settings.operator_admins,
            public_docs=settings.docs_are_public,
        )

    def upload_routes(self) -> Sequence[str]:
        """The routes whose files it forwards (`upload_routes`), bounded as uploads."""
        return self.settings.upload_routes

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The proxy's connections and the deny list, closed in reverse at the end."""
        await self.proxy.forwarder.start()
        mirror = await self._start_deny_list()
        try:
            yield
        finally:
            if mirror is not None:
                await _stop_mirror(mirror)
            if self.denylist is not None:
                await self.denylist.stop()
            await self.proxy.limiter.close()
            await self.proxy.forwarder.close()

    async def _start_deny_list(self) -> asyncio.Task[Any] | None:
        """Open the shared deny list; the task mirroring the bus's revocations into it."""
        if self.denylist is None:
            return None
        await self.denylist.start()
        if self.runtime.bus is None:
            return None
        return asyncio.create_task(_mirror_revocations(self.runtime, self.denylist))


def _limiter(settings: GatewaySettings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()


def _proxy(runtime: GatewayRuntime) -> Proxy:
    """The proxy with its routes, its upstream connections and its rate limiter."""
    settings = runtime.settings
    registry = runtime.metrics.registry
    return Proxy(
        routes=RouteTable(
            settings.pools(),
            default_timeout=settings.request_timeout,
            route_timeouts=settings.route_timeouts,
            down_seconds=settings.down_seconds,
        ),
        forwarder=Forwarder(
            connect_timeout=settings.connect_timeout,
            attempt_timeout=settings.attempt_timeout,
            pool_limit=settings.pool_limit,
            registry=registry,
            ssl=settings.tls_client_context(),
        ),
        verifier=runtime.verifier,
        limiter=_limiter(settings),
        addresses=runtime.addresses,
        proof=runtime.tokens,
        client_limit=(settings.client_rate, settings.client_burst),
        user_limit=(settings.user_rate, settings.user_burst),
        keyed_routes=RoutePatterns(settings.keyed_routes),
        costly_routes=RoutePatterns(settings.costly_routes),
        costly_per_client=settings.costly_per_client,
        internal_routes=RoutePatterns(settings.internal_routes),
        registry=registry,
    )


async def _mirror_revocations(runtime: GatewayRuntime, denylist: RedisDenyList) -> Any:
    """Copy `auth.token_revoked` events from the bus into Redis; the subscription."""
    await runtime.bus_connected.wait()
    assert runtime.bus is not None

    async def on_revoked(event: Event) -> None:
        try:
            await denylist.record(str(event.data["jti"]), float(event.data["expires_at"]))
        except Exception as exc:
            log.warning("could not mirror a revocation into Redis: %s", exc)

    return await runtime.bus.tail([TOKEN_REVOKED], on_revoked, since=timedelta(hours=1))


async def _stop_mirror(mirror: asyncio.Task[Any]) -> None:
    """End the mirroring: its subscription if it got one, then the task."""
    if mirror.done() and not mirror.cancelled() and mirror.exception() is None:
        await mirror.result().stop()
    mirror.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await mirror
