"""Pure-ASGI middleware every service (and the gateway) runs behind.

`RequestMiddleware` establishes the request context (request id and trace
context), enforces the body size limit and the JSON media type (an upload route,
`chassis.web.uploads`, has the upload bound and checks its own media type),
refuses a NUL character in the URL (PostgreSQL cannot compare text with one) and a repeated
`Authorization`, `Content-Length`, `Host` or `Idempotency-Key`, marks every answer
to a request with credentials `Cache-Control: no-store`, answers HEAD
wherever GET is served, writes one JSON access log line and records metrics;
with tracing on, the request is a server span (`chassis.telemetry.http_spans`). It
is written against raw ASGI rather than Starlette's BaseHTTPMiddleware, which
costs a task and a copy per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.http_metrics import UNMATCHED, HttpMetrics
from mercato.chassis.telemetry.http_spans import served, serving
from mercato.chassis.telemetry.tracing import Tracing
from mercato.chassis.web.errors import (
    PROBLEM_JSON,
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMedia,
)
from mercato.chassis.web.uploads import UploadRoutes

__all__ = ["RequestMiddleware"]

access_log = logging.getLogger("mercato.access")
_BODY_METHODS = {b"POST", b"PUT", b"PATCH"}
_QUIET_PATHS = {"/health/live", "/health/ready", "/metrics"}
_SINGLE_VALUED = frozenset({b"authorization", b"content-length", b"host", b"idempotency-key"})
# An answer to a request that carried credentials is the caller's own: no cache, shared
# or private, may keep it (its route may say otherwise with a Cache-Control of its own).
_NO_STORE = (b"cache-control", b"no-store")
# The status logged for a request whose client went away before it was answered
# (nginx's 499: "client closed request").
CLIENT_GONE = 499


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


async def send_problem(send: Send, error: ProblemError, request_id: str) -> None:
    """Answer with a problem+json document directly at the ASGI level."""
    body = orjson.dumps(error.body())
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(PayloadTooLarge):
    """Raised by `receive` once the body passes its bound.

    A problem, so that whoever reads the body answers it as the 413 it is: FastAPI's
    handler of problems for a route's read, this middleware for the raw paths.
    """


def _repeated(headers: Iterable[tuple[bytes, bytes]]) -> ProblemError | None:
    """A 400 for a header that must come once and came more than once.

    Two `Authorization` headers are the attack: one hop reads the first, the next
    the last, so the identity checked is not the one that acts (RFC 9110 allows
    repeating only list-valued fields; these four are single values).
    """
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in _SINGLE_VALUED:
            if name in seen:
                return BadRequest(f"The request has more than one {name.decode()} header.")
            seen.add(name)
    return None


class RequestMiddleware:
    """Context, limits, access log and metrics for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        max_body_bytes: int,
        json_only_paths: Iterable[str] = ("/api/",),
        head_as_get: bool = True,
        trust_traceparent: bool = True,
        fixed_paths: Iterable[str] = (),
        tracing: Tracing | None = None,
        uploads: UploadRoutes | None = None,
    ) -> None:
        self.app = app
        self.uploads = uploads if uploads else None
        # The paths of routes without parameters, each its own template: the router
        # names only some routes in the scope (FastAPI's own, not health or metrics).
        self.fixed_paths = frozenset(fixed_paths)
        self.metrics = metrics
        self.tracing = tracing
        self.max_body = max_body_bytes
        self.json_only_prefixes = tuple(json_only_paths)
        self.head_as_get = head_as_get
        # At the public edge a caller's trace context is not trusted: its sampled flag
        # would let anyone have every request recorded (and chosen trace ids defeat a
        # ratio sampler), so the edge begins a trace of its own instead.
        self.trust_traceparent = trust_traceparent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw_headers = scope["headers"]
        headers = dict(raw_headers)
        ctx = trace_context.new_context(
            headers.get(b"x-request-id", b"").decode("latin-1") or None,
            (headers.get(b"traceparent", b"").decode("latin-1") or None)
            if self.trust_traceparent
            else None,
        )
        span, ctx = serving(self.tracing, ctx, scope)
        token = trace_context.set_current(ctx)
        status = CLIENT_GONE  # until an answer starts, or the app fails
        rid = ctx.request_id.encode()
        personal = b"authorization" in headers

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                answer = [*message.get("headers", []), (b"x-request-id", rid)]
                if personal and not any(name.lower() == b"cache-control" for name, _ in answer):
                    answer.append(_NO_STORE)
                message["headers"] = answer
            await send(message)

        # HTTP asks for HEAD wherever GET is served (RFC 9110, 9.3.2), but FastAPI routes
        # only the methods a route declares. So a HEAD runs the GET route in a scope of
        # its own; uvicorn, whose scope still says HEAD, sends the headers and no body.
        inner = scope
        if self.head_as_get and scope["method"] == "HEAD":
            inner = {**scope, "method": "GET"}
        try:
            error = self._refusal(scope, headers)
            if error is None and len(headers) != len(raw_headers):
                error = _repeated(raw_headers)
            if error is not None:
                status = error.status
                await send_problem(send, error, ctx.request_id)
                return
            await self.app(inner, self._limited(receive, self._bound(scope)), send_wrapper)
        except _BodyTooLarge as too_large:
            status = 413
            await send_problem(send, too_large, ctx.request_id)
        except BaseException:
            status = 500 if status == CLIENT_GONE else status
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = inner.get("route")
            template = getattr(route, "path", None) or self._template_of(scope["path"])
            self.metrics.observe(scope["method"], template, status, elapsed)
            if scope["path"] not in _QUIET_PATHS:
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            trace_context.reset_current(token)
            if span is not None:
                served(span, scope["method"], getattr(route, "path", None), status)

    def _template_of(self, path: str) -> str:
        return path if path in self.fixed_paths else UNMATCHED

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> ProblemError | None:
        if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            return BadRequest("The URL holds a NUL character (%00).")
        if scope["method"].encode() not in _BODY_METHODS:
            return None
        upload = self._is_upload(scope)
        bound = self.uploads.max_bytes if upload and self.uploads else self.max_body
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > bound:
            return PayloadTooLarge(f"The body exceeds {bound} bytes.")
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        if (
            has_body
            and scope["path"].startswith(self.json_only_prefixes)
            and not upload  # an upload's route reads its own media type, after the caller
            and not _is_json(headers.get(b"content-type", b""))
        ):
            return UnsupportedMedia("Send the body as application/json.")
        return None

    def _is_upload(self, scope: Scope) -> bool:
        """Whether the request goes to an upload route (`chassis.web.uploads`)."""
        return self.uploads is not None and self.uploads.match(scope["method"], scope["path"])

    def _bound(self, scope: Scope) -> int:
        """The most bytes the request's body may have: an upload's bound, or the JSON one."""
        if self.uploads is not None and self._is_upload(scope):
            return self.uploads.max_bytes
        return self.max_body

    @staticmethod
    def _limited(receive: Receive, limit: int) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(f"The body exceeds {limit} bytes.")
            return message

        return wrapped
