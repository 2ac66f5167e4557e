"""The spans of HTTP: a request served, and a call to another service.

With the attributes of OpenTelemetry's HTTP conventions: `http.request.method`,
`url.path` and `url.scheme` on a request served (but the probes' and the metrics
scrapes', `UNTRACED_PATHS`), then `http.route` (the route's
template, which also names the span: `GET /api/users/me`) and
`http.response.status_code`; the method, `url.full` (or `url.path` for a path sent
to a pool of instances) and `peer.service` (the service called) on a call. A server
span fails on a 5xx answer, a client span on a 5xx or no answer (`error.type`).

A call's span is current while the call runs, so its `traceparent` header names the
call and the service called continues under it (`call_span` makes the service client's
`request` such a call). The gateway's forwarding of a request makes no span of its
own: the gateway's server span is the parent of the service's (docs/decisions.md,
"Tracing", says what a span costs).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from starlette.types import Scope

from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.trace_context import RequestContext
from mercato.chassis.telemetry.tracing import Span, SpanKind, Tracing, failed

__all__ = ["UNTRACED_PATHS", "call_span", "served", "serving"]

P = ParamSpec("P")
# The probes and the metrics scrapes, every few seconds each: no trace anyone reads,
# as the access log leaves them out too.
UNTRACED_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})


class _Traced(Protocol):
    """What `call_span` needs of a client: its tracing (None when off)."""

    @property
    def tracing(self) -> Tracing | None: ...


class _Answer(Protocol):
    """What `call_span` needs of an answer: its status."""

    @property
    def status(self) -> int: ...


C = TypeVar("C", bound=_Traced)
R = TypeVar("R", bound=_Answer)


def serving(
    tracing: Tracing | None, ctx: RequestContext, scope: Scope
) -> tuple[Span | None, RequestContext]:
    """The span of the request `scope` that `ctx` continues, and the context naming it.

    (None, ctx) without tracing and for the `UNTRACED_PATHS`; the span is None too when
    nothing is recorded (the context then says so to the calls made).
    """
    if tracing is None or scope["path"] in UNTRACED_PATHS:
        return None, ctx
    method: str = scope["method"]
    attributes = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
    }
    return tracing.entered(ctx, method, SpanKind.SERVER, attributes)


def served(span: Span, method: str, route: str | None, status: int) -> None:
    """End a request's span: its route template (when one matched) and its status."""
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attributes({"http.route": route, "http.response.status_code": status})
    else:
        span.set_attribute("http.response.status_code", status)
    if status >= 500:
        failed(span, str(status))
    span.end()


def _call_attributes(method: str, url: str, target: object) -> dict[str, str]:
    where = "url.full" if url.startswith(("http://", "https://")) else "url.path"
    return {"http.request.method": method, where: url.split("?", 1)[0], "peer.service": str(target)}


def call_span(
    request: Callable[Concatenate[C, str, str, P], Awaitable[R]],
) -> Callable[Concatenate[C, str, str, P], Awaitable[R]]:
    """Make `request(client, method, url, ..., target=...)` a call with a client span.

    Nothing changes while the client's `tracing` is None, or under a span that was not
    sampled (the context then propagates as it is).
    """

    @functools.wraps(request)
    async def traced(client: C, method: str, url: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        tracing = client.tracing
        current = trace_context.current()
        if tracing is None or (current is not None and tracing.skips_children_of(current)):
            return await request(client, method, url, *args, **kwargs)
        method = method.upper()
        attributes = _call_attributes(method, url, kwargs.get("target", ""))
        span, ctx = tracing.child(current, method, SpanKind.CLIENT, attributes)
        token = trace_context.set_current(ctx)  # the call's headers name it
        try:
            answer = await request(client, method, url, *args, **kwargs)
        except BaseException as exc:
            if span is not None:
                failed(span, exc)
                span.end()
            raise
        finally:
            trace_context.reset_current(token)
        if span is not None:
            span.set_attribute("http.response.status_code", answer.status)
            if answer.status >= 500:
                failed(span, str(answer.status))
            span.end()
        return answer

    return traced
