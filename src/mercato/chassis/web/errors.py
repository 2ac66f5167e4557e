"""Errors as RFC 9457 problem+json, and the handlers that render them.

The hierarchy, all rendered as `application/problem+json`:

    ProblemError                 any HTTP error with a status, title and detail
    ├── BadRequest          400  malformed input (e.g. JSON that does not parse)
    ├── Unauthorized        401  missing, malformed, expired or revoked token
    ├── Forbidden           403  authenticated, but the role does not allow it
    ├── NotFound            404  absent, or not yours (never 403 for another's data)
    ├── Conflict            409  a unique value is taken, or a concurrent change
    ├── RequestTimeout      408  the request head or body stopped arriving
    ├── PayloadTooLarge     413
    ├── UriTooLong          414
    ├── UnsupportedMedia    415
    ├── Unprocessable       422  schema or business-rule violation, naming fields
    ├── TooManyRequests     429  carries Retry-After
    ├── HeadersTooLarge     431  a header, or the whole request head, is too large
    ├── BadGateway          502  a dependency answered with an error we cannot pass on
    ├── ServiceUnavailable  503  a dependency is down or its circuit is open
    └── GatewayTimeout      504  a dependency did not answer in time

Unexpected exceptions become a 500 problem without any stack trace in the body.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

__all__ = [
    "PROBLEM_JSON",
    "BadGateway",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "GatewayTimeout",
    "HeadersTooLarge",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "RequestTimeout",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMedia",
    "UriTooLong",
    "allowed_methods",
    "database_lost",
    "database_refused",
    "field_error",
    "install_error_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://mercato.dev/problems/"
log = logging.getLogger("mercato.errors")


class ProblemError(Exception):
    """An HTTP error rendered as problem+json."""

    status = 500
    title = "Internal Server Error"
    slug = "internal"

    def __init__(
        self,
        detail: str = "",
        *,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors) if errors else None
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The problem document."""
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


class BadRequest(ProblemError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ProblemError):
    status, title, slug = 404, "Not Found", "not-found"


class MethodNotAllowed(ProblemError):
    status, title, slug = 405, "Method Not Allowed", "method-not-allowed"


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class RequestTimeout(ProblemError):
    status, title, slug = 408, "Request Timeout", "request-timeout"


class PayloadTooLarge(ProblemError):
    status, title, slug = 413, "Payload Too Large", "payload-too-large"


class UriTooLong(ProblemError):
    status, title, slug = 414, "URI Too Long", "uri-too-long"


class UnsupportedMedia(ProblemError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class Unprocessable(ProblemError):
    status, title, slug = 422, "Unprocessable Content", "validation"


class TooManyRequests(ProblemError):
    status, title, slug = 429, "Too Many Requests", "rate-limited"


class HeadersTooLarge(ProblemError):
    status, title, slug = 431, "Request Header Fields Too Large", "headers-too-large"


class BadGateway(ProblemError):
    status, title, slug = 502, "Bad Gateway", "bad-gateway"


class ServiceUnavailable(ProblemError):
    status, title, slug = 503, "Service Unavailable", "unavailable"


class GatewayTimeout(ProblemError):
    status, title, slug = 504, "Gateway Timeout", "timeout"


_BY_STATUS: dict[int, type[ProblemError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        RequestTimeout,
        PayloadTooLarge,
        UriTooLong,
        UnsupportedMedia,
        Unprocessable,
        TooManyRequests,
        HeadersTooLarge,
        BadGateway,
        ServiceUnavailable,
        GatewayTimeout,
    )
}


def problem_response(error: ProblemError) -> Response:
    """Render a ProblemError."""
    return Response(
        orjson.dumps(error.body()),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )


def field_error(
    field: str, message: str, *, location: str = "body", type: str | None = None, **details: Any
) -> dict[str, Any]:
    """One entry of a problem's `errors`: `{"field", "in", "message", ...details, "type"}`.

    `field` is a dotted path (`items.0.quantity`), `location` where it was sent
    (`body`, `query`, `path` or `header`), `type` a machine-readable kind (pydantic's
    error type, or one of ours such as `refund_limit`), left out when None; `details`
    are facts a client may act on (`product_id`, `available`), in the order given.
    """
    error = {"field": field, "in": location, "message": message, **details}
    if type is not None:
        error["type"] = type
    return error


def field_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Turn pydantic's error list into `[{"field", "in", "message", "type"}]`."""
    out = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        out.append(
            field_error(
                ".".join(loc) or "body",
                err.get("msg", "invalid"),
                location=str(err["loc"][0]) if err.get("loc") else "body",
                type=err.get("type", "invalid"),
            )
        )
    return out


async def _on_problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(exc)


async def _on_validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    invalid = next((e for e in raw if e.get("type") == "json_invalid"), None)
    if invalid is not None:
        reason = (invalid.get("ctx") or {}).get("error") or "malformed"
        return problem_response(BadRequest(f"The request body cannot be read as JSON: {reason}."))
    errors = field_errors(raw)
    names = ", ".join(e["field"] for e in errors)
    return problem_response(Unprocessable(f"Invalid fields: {names}", errors=errors))


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """The `Allow` header of a 405: every method some route serves on this path.

    Starlette's router answers a 405 with the methods of the first route whose path
    matches, though another route may serve the same path with other methods (GET
    and PATCH on `/me` are two routes). So each method is tried against the app's
    routes (nested routers included); HEAD is served wherever GET is.
    """
    routes = request.app.router.routes
    allowed = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    }
    if "GET" in allowed:
        allowed.add("HEAD")
    return ", ".join(sorted(allowed))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cls = _BY_STATUS.get(exc.status_code)
    if cls is None:
        error = ProblemError(str(exc.detail))
        error.status = exc.status_code
        error.title = str(exc.detail)
    else:
        detail = "" if exc.detail == cls.title else str(exc.detail)
        if exc.status_code == 404 and not detail:  # no route matched the path
            detail = f"Nothing is served at {request.url.path}."
        error = cls(detail, headers=dict(exc.headers or {}))
    if exc.status_code == 405:
        error.headers["Allow"] = allowed_methods(request)
    return problem_response(error)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(ProblemError("An unexpected error occurred."))


def database_lost() -> ServiceUnavailable:
    """The 503 for a statement on a connection the server dropped (a restart, a failover).

    The connection has been invalidated and the pool reconnects on the next
    checkout, so a retry succeeds.
    """
    return ServiceUnavailable(
        "The database connection was lost; retry the request.", headers={"Retry-After": "1"}
    )


def database_refused() -> ServiceUnavailable:
    """The 503 for a new connection the server refused (down, restarting, too many clients)."""
    return ServiceUnavailable(
        "The database refused a connection; retry the request.", headers={"Retry-After": "1"}
    )


async def _on_database_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        error = database_lost()
    elif exc.statement is None:  # no statement ran: the connection was refused
        error = database_refused()
    else:
        return await _on_unexpected(request, exc)
    log.warning("%s (%s %s)", error.detail, request.method, request.url.path)
    return problem_response(error)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of `app` a problem+json response."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
