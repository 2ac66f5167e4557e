"""Direct routes: the hottest endpoints, served without FastAPI's per-request machinery.

A FastAPI route solves its dependencies, validates, and runs inside exit stacks,
exception wrappers and FastAPI's own middleware, which cost `GET /api/users/me`
about four times the CPU it costs as a direct route reading with `direct_reads`
(measured in docs/decisions.md, "Chassis"). A
`DirectRoute` is declared and documented like any route (path, `response_model`,
summary, OpenAPI), but its endpoint takes the `Request` and returns the `Response`
itself: it calls what dependencies would have given it
(`security.authenticated(request)`, `deps.get_runtime(request)`) and raises
`ProblemError`s as usual. Query parameters come as a Pydantic model, declared as
FastAPI declares one (`params: Annotated[Model, Query()]`, documented field by
field): the route validates it from the query string, a bad value answering the
same 422 as FastAPI's.

`DirectDispatch`, just behind the request middleware in front of FastAPI (see
`chassis.web.app.ServiceApp`), sends a request a direct route serves straight to its
endpoint, past FastAPI's middleware and router, having matched it as FastAPI's
router would (so the shortcut never changes which endpoint answers); every other
request goes on to FastAPI.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.params import Query
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from mercato.chassis.web.json_body import StrictJsonRequest, StrictJsonRoute

__all__ = ["DirectDispatch", "DirectRoute", "direct_route"]

Endpoint = Callable[..., Awaitable[Response]]  # (request, **params)
ErrorHandler = Callable[[Request, Exception], Any]  # as Starlette keeps them


class DirectRoute(StrictJsonRoute):
    """A route whose endpoint is `async def endpoint(request, **params) -> Response`.

    Path parameters are passed by name as the router parsed them (strings unless the
    path gives a convertor); naming them in the signature also documents them. A
    parameter annotated `Annotated[Model, Query()]` gets the query string validated
    as `Model` (its fields are single values; an unknown parameter is ignored, as
    FastAPI ignores it).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        self.query_models = _query_models(endpoint)

    async def respond(self, request: Request) -> Response:
        """The endpoint's answer to `request`, its parameters parsed."""
        arguments: dict[str, Any] = dict(request.path_params)
        for name, model in self.query_models:
            arguments[name] = _query_of(model, request)
        endpoint: Endpoint = self.endpoint
        return await endpoint(request, **arguments)

    def get_route_handler(self) -> Callable[[Request], Any]:
        """The endpoint itself: no dependencies to solve, no response to validate."""

        async def handler(request: Request) -> Response:
            return await self.respond(StrictJsonRequest(request.scope, request.receive))

        return handler


def _query_models(endpoint: Callable[..., Any]) -> tuple[tuple[str, type[BaseModel]], ...]:
    """The endpoint's parameters declared `Annotated[Model, Query()]`, with their model."""
    hints = typing.get_type_hints(endpoint, include_extras=True)
    found = []
    for name, hint in hints.items():
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        model, *markers = typing.get_args(hint)
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        if is_model and any(isinstance(marker, Query) for marker in markers):
            found.append((name, model))
    return tuple(found)


def _query_of(model: type[BaseModel], request: Request) -> BaseModel:
    """The query string as `model`; a RequestValidationError locating each bad value."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


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


class DirectDispatch:
    """Serves direct routes for `owner`, past FastAPI; every other request goes on to `app`.

    `routes` are the service's routes in the order FastAPI tries them. A request is
    matched against them as Starlette's router would, up to the last direct route:
    the first route that fully matches (path and method) answers, so a direct route
    never takes a request an earlier route would have served. The app's own paths
    (`reserved`: docs, health, metrics), which FastAPI tries first, always go on.

    `owner` is the service's app: its state is what an endpoint reaches through
    `request.app`, and its exception handlers answer what an endpoint raises, looked
    up by the exception's class as Starlette does (the handler of `Exception` being
    the 500 that logs the traceback).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        reserved: Collection[str],
        owner: Starlette,
    ) -> None:
        self.app = app
        last = max((i for i, r in enumerate(routes) if isinstance(r, DirectRoute)), default=-1)
        self.candidates = tuple(routes[: last + 1])
        self.reserved = frozenset(reserved)
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._direct_route(scope) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.owner
        request = StrictJsonRequest(scope, receive)
        try:
            response = await route.respond(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)  # chassis.web.errors' are all async
        await response(scope, receive, send)

    def _direct_route(self, scope: Scope) -> DirectRoute | None:
        """The direct route serving this request, its path parameters put in `scope`."""
        if scope["path"] in self.reserved:
            return None
        for route in self.candidates:
            match, child = route.matches(scope)
            if match is Match.FULL:
                if not isinstance(route, DirectRoute):
                    return None
                scope.update(child)  # path_params, and the route for the metrics
                return route
        return None

    def _handler_for(self, exc: Exception) -> ErrorHandler | None:
        handlers: Mapping[Any, ErrorHandler] = self.owner.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return handler
        return None
