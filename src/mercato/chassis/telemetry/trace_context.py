"""Request context: the request id and W3C trace context of the work in progress.

The values live in context variables so that logs, outgoing HTTP calls and events
published while handling a request all carry the same ids without passing them
around. Incoming `X-Request-ID` and `traceparent` headers are accepted when well
formed; otherwise fresh ones are generated.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "RequestContext",
    "current",
    "new_context",
    "outgoing_headers",
    "set_current",
]

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Ids of one unit of work: the request id and this hop's span in a trace."""

    request_id: str
    trace_id: str
    span_id: str
    parent_span_id: str = ""
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        """The W3C traceparent naming this hop as the parent of the next."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


_current: ContextVar[RequestContext | None] = ContextVar("mercato_request", default=None)


def new_context(request_id: str | None = None, traceparent: str | None = None) -> RequestContext:
    """A context continuing the caller's trace when its headers are valid."""
    rid = request_id if request_id and _REQUEST_ID.match(request_id) else secrets.token_hex(8)
    match = _TRACEPARENT.match(traceparent or "")
    if match and match.group(1) != "0" * 32 and match.group(2) != "0" * 16:
        return RequestContext(rid, match.group(1), secrets.token_hex(8), match.group(2), match[3])
    return RequestContext(rid, secrets.token_hex(16), secrets.token_hex(8))


def current() -> RequestContext | None:
    """The context of the work in progress, if any."""
    return _current.get()


def set_current(ctx: RequestContext | None) -> object:
    """Install `ctx`; returns a token for `reset_current`."""
    return _current.set(ctx)


def reset_current(token: object) -> None:
    """Restore the context that was current before `set_current`."""
    _current.reset(token)  # type: ignore[arg-type]


def outgoing_headers() -> dict[str, str]:
    """Headers that propagate the current context to a downstream call."""
    ctx = _current.get()
    if ctx is None:
        return {}
    return {"x-request-id": ctx.request_id, "traceparent": ctx.traceparent}
