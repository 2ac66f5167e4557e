"""The app factory: one call gives a service everything but its domain.

`create_app(spec, settings, routers)` returns a `ServiceApp`: a FastAPI app with
problem+json errors, strict JSON bodies (`json_body`), health probes, `/metrics`,
its OpenAPI document (`openapi`) and docs pages (`docs`), and a lifespan that
opens and closes the service's Runtime, behind the request middleware (ids, trace
context, limits, access log, metrics) and the shortcut to its direct routes
(`direct`).

A service with an edge (the gateway) passes `edge`, a hook given the runtime that
returns an `Edge`: the layers it puts around the request middleware and inside it
(in place of direct routes), its own routes, and what it opens and closes with the
app. The gateway so has the same errors, health, metrics and lifespan as a service.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from mercato.chassis.config import ServiceSettings
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.telemetry.http_metrics import metrics_endpoint
from mercato.chassis.telemetry.logs import configure_logging
from mercato.chassis.web import health
from mercato.chassis.web.direct_routes import DirectDispatch
from mercato.chassis.web.docs import docs_routes
from mercato.chassis.web.errors import install_error_handlers
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.middleware import RequestMiddleware
from mercato.chassis.web.openapi import complete_document, operation_id
from mercato.chassis.web.uploads import UploadRoutes

__all__ = ["Edge", "ServiceApp", "create_app"]

S = TypeVar("S", bound=ServiceSettings)
C = TypeVar("C")


class Edge(Protocol):
    """What a service puts in front of its routes: the gateway's proxy and its guards."""

    head_as_get: bool  # the request middleware answers HEAD with the GET route
    trust_traceparent: bool  # whether a caller's `traceparent` is continued or a new trace begun

    def routes(self) -> Sequence[BaseRoute]:
        """Routes of its own beside the chassis' health and metrics."""
        ...

    def around(self, front: ASGIApp) -> ASGIApp:
        """The layers outside the request middleware (security headers, CORS)."""
        ...

    def within(self, routed: ASGIApp) -> ASGIApp:
        """The layers between the request middleware and the app's routes."""
        ...

    def running(self) -> AbstractAsyncContextManager[None]:
        """Open what the edge needs while the app runs (after the runtime starts)."""
        ...

    def upload_routes(self) -> Sequence[str]:
        """The routes it passes files to (`chassis.web.uploads`), beside the spec's."""
        ...


class ServiceApp(FastAPI):
    """A service's ASGI app: the request middleware and direct routes, then FastAPI.

    The request middleware runs in front of FastAPI rather than as one of its
    middleware, so that a direct route skips all of FastAPI's stack: an empty
    endpoint costs about four times the CPU as a FastAPI route that it costs as raw
    ASGI (measured in docs/decisions.md, "Chassis"). A route FastAPI serves behaves
    as before, its errors answered by FastAPI's handlers, inside the request
    middleware's context, access log and metrics.
    """

    front: ASGIApp | None = None  # set by `create_app`

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.front is not None:
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's handling of a request: what the front hands every other route to."""
        await super().__call__(scope, receive, send)


def create_app(
    spec: ServiceSpec[S, C],
    settings: S,
    routers: Sequence[APIRouter],
    *,
    configure_logs: bool = True,
    edge: Callable[[Runtime[S, C]], Edge] | None = None,
) -> ServiceApp:
    """Build the ASGI app of a service; every route must be a `StrictJsonRoute`."""
    _require_strict_json(routers)
    if configure_logs:
        configure_logging(spec.name, settings.log_level, settings.instance)
    runtime = Runtime(spec, settings)
    front = edge(runtime) if edge is not None else None
    openapi_url = f"/api/{spec.name}/openapi.json"
    app = ServiceApp(
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        lifespan=_lifespan(runtime, front),
        openapi_url=openapi_url if spec.documented else None,
        docs_url=None,  # `chassis.web.docs` serves them, from the package's own assets
        redoc_url=None,
        generate_unique_id_function=operation_id(spec.name),
        # A path with a slash too many is a 404, as through the gateway: a redirect
        # would name this process's own host and port.
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    app.state.metrics = runtime.metrics
    install_error_handlers(app)
    app.add_route("/health/live", health.live, methods=["GET"], include_in_schema=False)
    app.add_route("/health/ready", health.ready, methods=["GET"], include_in_schema=False)
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    if spec.documented:
        app.router.routes.extend(docs_routes(f"/api/{spec.name}/docs", openapi_url, spec.title))
    if front is not None:
        app.router.routes.extend(front.routes())
    reserved = [path for route in app.router.routes if (path := getattr(route, "path", None))]
    for router in routers:
        app.include_router(router)
    routes = [route for router in routers for route in router.routes]
    complete_document(app, routes)
    inner = (
        front.within(app.routed)
        if front is not None
        else DirectDispatch(app.routed, routes=routes, reserved=reserved, owner=app)
    )
    app.front = RequestMiddleware(
        inner,
        metrics=runtime.metrics,
        max_body_bytes=settings.max_body_bytes,
        head_as_get=front.head_as_get if front is not None else True,
        trust_traceparent=front.trust_traceparent if front is not None else True,
        fixed_paths=_fixed_paths(app.router.routes),
        tracing=runtime.tracing,
        uploads=UploadRoutes(
            [*spec.upload_routes, *(front.upload_routes() if front is not None else ())],
            max_bytes=settings.max_upload_bytes,
        ),
    )
    if front is not None:
        app.front = front.around(app.front)
    return app


def _lifespan(
    runtime: Runtime[S, C], edge: Edge | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the runtime (then the edge) at start; close them in reverse at shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await runtime.start()
        except BaseException:
            # Close what was opened before the failure (HTTP pool, database, tasks).
            with contextlib.suppress(Exception):
                await runtime.stop()
            raise
        try:
            if edge is None:
                yield
            else:
                async with edge.running():
                    yield
        finally:
            await runtime.stop()

    return lifespan


def _fixed_paths(routes: Sequence[BaseRoute]) -> list[str]:
    """The paths of the routes without parameters: each is its own route label in metrics."""
    paths = (getattr(route, "path", None) for route in routes)
    return [path for path in paths if isinstance(path, str) and "{" not in path]


def _require_strict_json(routers: Sequence[APIRouter]) -> None:
    """Refuse to build an app one of whose routes would read bodies with Python's `json`."""
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and not isinstance(route, StrictJsonRoute):
                raise TypeError(f"{route.path}: create the router with route_class=StrictJsonRoute")
