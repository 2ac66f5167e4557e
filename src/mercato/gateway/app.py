"""The gateway's wiring: a plain Starlette app, its middleware and its lifecycle.

The middleware, outermost first:

    SecurityHeaders      security headers on every answer, errors included
    CORSMiddleware       only when `cors_origins` is set
    RequestMiddleware    the chassis: ids, trace context, 413/415, access log, metrics
    OperatorGate         metrics, detailed health, docs: the operator port, or admins
    ProxyDispatch        /api/... and /.well-known/jwks.json -> Proxy (raw ASGI)
    (router)             /health, /health/live, /health/ready, /metrics

The chassis `Runtime` (no database; the bus for `auth.token_revoked`) gives the
token verifier and its revocation list; the lifespan starts and stops it together
with the proxy's session, the rate limiter and, with Redis, the shared deny list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mercato.chassis import health
from mercato.chassis.errors import (
    MethodNotAllowed,
    NotFound,
    ProblemError,
    allowed_methods,
    problem_response,
)
from mercato.chassis.events import Event
from mercato.chassis.logs import configure_logging
from mercato.chassis.metrics import HttpMetrics, metrics_endpoint
from mercato.chassis.middleware import RequestMiddleware
from mercato.chassis.runtime import TOKEN_REVOKED, Runtime, ServiceSpec
from mercato.chassis.security import JwksKeySource, KeySource
from mercato.gateway.denylist import RedisDenyList
from mercato.gateway.forward import Forwarder
from mercato.gateway.headers import SecurityHeaders
from mercato.gateway.health import HealthAggregator
from mercato.gateway.operator import OperatorGate
from mercato.gateway.proxy import Proxy, ProxyDispatch
from mercato.gateway.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from mercato.gateway.routing import JWKS_PATH, RoutePatterns, RouteTable
from mercato.gateway.settings import GatewaySettings, load_settings

__all__ = ["SPEC", "create_app"]

log = logging.getLogger("mercato.gateway")


def _auth_keys(runtime: Runtime) -> KeySource:
    """Auth's JWKS, fetched from the auth pool's instances in turn (first answer wins)."""
    settings = runtime.settings
    pools = settings.pools() if isinstance(settings, GatewaySettings) else {}
    origins = pools.get("auth") or (settings.auth_url.rstrip("/"),)
    urls = [origin + JWKS_PATH for origin in origins]

    async def fetch(_: str) -> bytes:
        error: Exception = RuntimeError("no auth instance")
        for url in urls:
            try:
                response = await runtime.http.get(url, target="auth", auth=False, timeout=3.0)
                response.raise_for_status()
            except ProblemError as exc:
                error = exc
                continue
            return response.body
        raise error

    return JwksKeySource(urls[0], fetch)


SPEC = ServiceSpec(
    name="gateway",
    title="Mercato gateway",
    description="The public entry point: routing, edge authentication, rate limits.",
    uses_database=False,
    uses_bus=True,
    key_source=_auth_keys,
)

CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "traceparent"]
CORS_EXPOSED = ["X-Request-ID", "Retry-After", "Location", "WWW-Authenticate"]


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return problem_response(NotFound(f"Nothing is served at {request.url.path}."))
    if exc.status_code == 405:
        return problem_response(MethodNotAllowed(headers={"Allow": allowed_methods(request)}))
    error = ProblemError(str(exc.detail))
    error.status, error.title = exc.status_code, str(exc.detail)
    return problem_response(error)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(ProblemError("An unexpected error occurred."))


def _limiter(settings: GatewaySettings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()


async def _mirror_revocations(runtime: Runtime, denylist: RedisDenyList) -> Any:
    """Copy `auth.token_revoked` events from the bus into Redis; the subscription."""
    await runtime.bus_connected.wait()
    assert runtime.bus is not None

    async def on_revoked(event: Event) -> None:
        try:
            await denylist.record(str(event.data["jti"]), float(event.data["expires_at"]))
        except Exception as exc:
            log.warning("could not mirror a revocation into Redis: %s", exc)

    return await runtime.bus.tail([TOKEN_REVOKED], on_revoked, since=timedelta(hours=1))


def create_app(
    settings: GatewaySettings | None = None, *, configure_logs: bool = True
) -> Starlette:
    """Build the gateway's ASGI app."""
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(SPEC.name, settings.log_level, settings.instance)
    runtime = Runtime(SPEC, settings)
    metrics = HttpMetrics(SPEC.name)
    proxy = _proxy(settings, runtime, metrics)
    aggregator = HealthAggregator(
        proxy.routes.pools(),
        proxy.forwarder,
        timeout=settings.health_timeout,
        cache_seconds=settings.health_cache_seconds,
    )
    denylist = (
        RedisDenyList(settings.redis_url, runtime.revocations) if settings.redis_url else None
    )
    app = Starlette(
        routes=[
            Route("/health", aggregator.endpoint, methods=["GET"]),
            Route("/health/live", health.live, methods=["GET"]),
            Route("/health/ready", health.ready, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=_middleware(settings, runtime, metrics, proxy),
        exception_handlers={HTTPException: _on_http_error, Exception: _on_unexpected},
        lifespan=_lifespan(runtime, proxy, denylist),
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.proxy = proxy
    app.state.limiter = proxy.limiter
    app.state.health = aggregator
    app.state.denylist = denylist
    return app


def _proxy(settings: GatewaySettings, runtime: Runtime, metrics: HttpMetrics) -> Proxy:
    """The proxy with its routes, its upstream connections and its rate limiter."""
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
            registry=metrics.registry,
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
        registry=metrics.registry,
    )


def _middleware(
    settings: GatewaySettings, runtime: Runtime, metrics: HttpMetrics, proxy: Proxy
) -> list[Middleware]:
    """The middleware stack, outermost first (the module's docstring draws it)."""
    middleware = [Middleware(SecurityHeaders, hsts=settings.hsts)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=CORS_METHODS,
                allow_headers=CORS_HEADERS,
                expose_headers=CORS_EXPOSED,
                max_age=600,
            )
        )
    middleware += [
        # A HEAD is forwarded as it is: the service answers it (the chassis runs its
        # GET route), so no body crosses the hop only to be dropped here.
        Middleware(
            RequestMiddleware,
            metrics=metrics,
            max_body_bytes=settings.max_body_bytes,
            head_as_get=False,
        ),
        Middleware(
            OperatorGate,
            verifier=runtime.verifier,
            operator_port=settings.operator_port,
            operator_admins=settings.operator_admins,
            public_docs=settings.docs_are_public,
        ),
        Middleware(ProxyDispatch, proxy=proxy),
    ]
    return middleware


def _lifespan(
    runtime: Runtime, proxy: Proxy, denylist: RedisDenyList | None
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start the runtime, the proxy's connections and the deny list; stop them in reverse."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        await proxy.forwarder.start()
        mirror = await _start_deny_list(runtime, denylist)
        try:
            yield
        finally:
            if mirror is not None:
                await _stop_mirror(mirror)
            if denylist is not None:
                await denylist.stop()
            await proxy.limiter.close()
            await proxy.forwarder.close()
            await runtime.stop()

    return lifespan


async def _start_deny_list(
    runtime: Runtime, denylist: RedisDenyList | None
) -> asyncio.Task[Any] | None:
    """Open the shared deny list; the task mirroring the bus's revocations into it, if any."""
    if denylist is None:
        return None
    await denylist.start()
    if runtime.bus is None:
        return None
    return asyncio.create_task(_mirror_revocations(runtime, denylist))


async def _stop_mirror(mirror: asyncio.Task[Any]) -> None:
    """End the mirroring: its subscription if it got one, then the task."""
    if mirror.done() and not mirror.cancelled() and mirror.exception() is None:
        await mirror.result().stop()
    mirror.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await mirror
