"""The spans of HTTP: a request served, a call to another service, a request forwarded.

With the attributes of OpenTelemetry's HTTP conventions: `http.request.method`,
`url.path` and `url.scheme` on a request served (but the probes' and the metrics
scrapes', `UNTRACED_PATHS`), then `http.route` (the route's
template, which also names the span: `GET /api/users/me`) and
`http.response.status_code`; the method, `url.full` (or `url.path` for a path sent
to a pool of instances) and `peer.service` (the service called) on a call. A server
span fails on a 5xx answer, a client span on a 5xx or no answer (`error.type`).

A call's span is current while the call runs, so its `traceparent` header names the
call and the service called continues under it (`call_span` makes the service client's
`request` such a call; `forwarding` does it for the gateway's proxy, whose headers are
built before the call).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from starlette.types import Scope

from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.trace_context import RequestContext
from mercato.chassis.telemetry.tracing import Span, SpanKind, Tracing, failed

__all__ = ["UNTRACED_PATHS", "call_span", "forwarded", "forwarding", "served", "serving"]

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

    (None, ctx) when nothing is recorded, without tracing, and for the `UNTRACED_PATHS`.
    """
    if tracing is None or scope["path"] in UNTRACED_PATHS:
        return None, ctx
    method: str = scope["method"]
    attributes = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
    }
    started = tracing.entered(ctx, method, SpanKind.SERVER, attributes)
    return (None, ctx) if started is None else started


def served(span: Span, method: str, route: str | None, status: int) -> None:
    """End a request's span: its route template (when one matched) and its status."""
    if route is not None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
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
        if tracing is None:
            return await request(client, method, url, *args, **kwargs)
        method = method.upper()
        attributes = _call_attributes(method, url, kwargs.get("target", ""))
        started = tracing.child(trace_context.current(), method, SpanKind.CLIENT, attributes)
        if started is None:
            return await request(client, method, url, *args, **kwargs)
        span, ctx = started
        token = trace_context.set_current(ctx)
        try:
            answer = await request(client, method, url, *args, **kwargs)
        except BaseException as exc:
            failed(span, exc)
            raise
        else:
            span.set_attribute("http.response.status_code", answer.status)
            if answer.status >= 500:
                failed(span, str(answer.status))
            return answer
        finally:
            trace_context.reset_current(token)
            span.end()

    return traced


def forwarding(
    tracing: Tracing | None, service: str, method: str, path: str, headers: list[tuple[str, str]]
) -> Span | None:
    """The span of a request the gateway forwards to `service`, if one is recorded.

    The `traceparent` among `headers` (the request's, put there with the others) is
    replaced by the one naming this span.
    """
    if tracing is None:
        return None
    attributes = {
        "http.request.method": method,
        "url.path": path.split("?", 1)[0],
        "peer.service": service,
    }
    started = tracing.child(trace_context.current(), method, SpanKind.CLIENT, attributes)
    if started is None:
        return None
    span, ctx = started
    for index, (name, _) in enumerate(headers):
        if name == "traceparent":
            headers[index] = (name, ctx.traceparent)
            break
    return span


def forwarded(span: Span, outcome: object) -> None:
    """End a forwarded request's span with its outcome.

    The upstream's answer (anything with a `status`), the gateway's own problem (an
    exception: none could answer in time), or None (the request was given up).
    """
    if outcome is None:
        failed(span, "cancelled")
    elif isinstance(outcome, BaseException):
        failed(span, outcome)
    else:
        status = getattr(outcome, "status", 0)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            failed(span, str(status))
    span.end()
