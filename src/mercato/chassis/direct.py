"""Direct routes: the hottest endpoints, served without FastAPI's per-request machinery.

A FastAPI route solves its dependencies, validates, and runs inside exit stacks,
exception wrappers and FastAPI's own middleware. In a served users process on the
reference machine, `GET /api/users/me` cost 0.46 ms of CPU as a FastAPI route and
0.11 ms as a direct route reading with `direct_reads` (docs/decisions.md). A
`DirectRoute` is declared and documented like any route (path, `response_model`,
summary, OpenAPI), but its endpoint takes the `Request` and returns the `Response`
itself: it calls what dependencies would have given it
(`security.authenticated(request)`, `deps.get_runtime(request)`) and raises
`ProblemError`s as usual.

`DirectDispatch`, just behind the request middleware in front of FastAPI (see
`chassis.app.ServiceApp`), sends a request for the static path of a direct route
straight to its endpoint, past FastAPI's middleware and router; every other request
goes on to FastAPI. `direct_paths` refuses, when the app is built, a direct route
that an earlier route would have answered instead, so the shortcut never changes
which endpoint serves a request. A direct route whose path has parameters is served
through the router (still without dependency solving).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from mercato.chassis.json_body import StrictJsonRequest, StrictJsonRoute

__all__ = ["DirectDispatch", "DirectRoute", "direct_paths", "direct_route"]

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Any]  # as Starlette keeps them


class DirectRoute(StrictJsonRoute):
    """A route whose endpoint is `async def endpoint(request: Request) -> Response`."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        """The endpoint itself: no dependencies to solve, no response to validate."""
        endpoint: Endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            return await endpoint(StrictJsonRequest(request.scope, request.receive))

        return handler


def direct_route(
    router: APIRouter, path: str, *, methods: Sequence[str] = ("GET",), **options: Any
) -> Callable[[Endpoint], Endpoint]:
    """Decorator: add the endpoint to `router` as a `DirectRoute` (options as for `get`)."""

    def add(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=list(methods), route_class_override=DirectRoute, **options
        )
        return endpoint

    return add


def direct_paths(routers: Sequence[APIRouter], reserved: Sequence[str]) -> dict[str, DirectRoute]:
    """The direct routes of static paths, by path; TypeError if another would shadow one.

    `reserved` are the app's own paths (health, metrics, docs), routed before any router.
    """
    ordered = [route for router in routers for route in router.routes]
    found: dict[str, DirectRoute] = {}
    for index, route in enumerate(ordered):
        if not isinstance(route, DirectRoute) or "{" in route.path:
            continue
        if route.path in reserved or route.path in found:
            raise TypeError(f"{route.path}: a direct route's path must be its own")
        for method in route.methods or ():
            scope = {"type": "http", "path": route.path, "method": method, "root_path": ""}
            for earlier in ordered[:index]:
                if isinstance(earlier, APIRoute) and earlier.matches(scope)[0] is Match.FULL:
                    raise TypeError(
                        f"{method} {route.path}: {earlier.path} is declared earlier and would "
                        "answer it; declare the direct route first"
                    )
        found[route.path] = route
    return found


class DirectDispatch:
    """Serves the static paths of direct routes for `owner`; the rest goes on to `app`.

    `owner` is the service's app: its state is what an endpoint reaches through
    `request.app`, and its exception handlers answer what an endpoint raises, looked
    up by the exception's class as Starlette does (the handler of `Exception` being
    the 500 that logs the traceback).
    """

    def __init__(
        self, app: ASGIApp, *, routes: Mapping[str, DirectRoute], owner: Starlette
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] not in (route.methods or ()):
            await self.app(scope, receive, send)
            return
        scope["app"] = self.owner
        scope["route"] = route
        request = StrictJsonRequest(scope, receive)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)  # chassis.errors' are all async
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> ErrorHandler | None:
        handlers: Mapping[Any, ErrorHandler] = self.owner.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return handler
        return None
