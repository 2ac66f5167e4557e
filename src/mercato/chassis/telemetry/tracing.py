"""Tracing with OpenTelemetry: a process's tracer from the standard variables, and its spans.

Tracing is on when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and `OTEL_SDK_DISABLED` is not `true`. Then
`Tracing.from_env` builds the SDK's `TracerProvider`, leaving every standard variable
to the SDK's own reading of it: the sampler (`OTEL_TRACES_SAMPLER`, `_ARG`), the
resource (`OTEL_RESOURCE_ATTRIBUTES`, under this process's own `service.name` and
`service.instance.id`), the batching (`OTEL_BSP_*`) and the OTLP/HTTP protobuf
exporter (`OTEL_EXPORTER_OTLP_*`: headers, timeout, compression, certificates).
Otherwise there is no provider at all, the chassis' hooks find `None` and do nothing,
and `trace_context` goes on propagating `traceparent` on its own, as it always did.

The chassis' `RequestContext` stays the one record of the work in progress: a span
the chassis starts becomes current by installing a context that names it (its trace
id, span id and flags), so the logs, the calls made and the events written under it
carry it; a child span's parent is read from there. No OpenTelemetry context is kept
beside it.

Cost: a span the SDK records costs its process ~100 µs in all, and even one it does not
record 7-9 µs, so no SDK span is started that would not be recorded. When the parent
was not sampled and the sampler follows the parent (the `parentbased_*` samplers, the
default), nothing is asked: the SDK would make a non-recording span with a fresh id
and the parent's flags, which is what the request context already holds. A new trace
is put to the sampler first, about the trace id its context already has, and becomes
an SDK span (with that trace id) only when sampled. docs/decisions.md ("Tracing") has
the figures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Protocol, cast

from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.util.types import Attributes

from mercato.chassis.telemetry.trace_context import RequestContext, new_context

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.id_generator import IdGenerator

__all__ = [
    "ENDPOINT_VARIABLES",
    "PROTOCOL_VARIABLES",
    "VARIABLES",
    "Span",
    "SpanKind",
    "Tracing",
    "TracingError",
    "failed",
    "sampled",
]

log = logging.getLogger("mercato.tracing")

ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOL_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
PROTOCOL: Final = "http/protobuf"  # the exporter installed: OTLP over HTTP, protobuf bodies
RATIO_SAMPLERS: Final = frozenset({"traceidratio", "parentbased_traceidratio"})
# The standard variables a process honours, here or in the SDK (for the deployment's checks).
VARIABLES: Final = frozenset(
    {
        *ENDPOINT_VARIABLES,
        *PROTOCOL_VARIABLES,
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_BSP_EXPORT_TIMEOUT",
    }
)
# How long a stopping process waits for its last spans to be sent: a collector that is
# down must not hold a shutdown for the exporter's own retries (10 s and more).
SHUTDOWN_SECONDS: Final = 5.0
_EMPTY = Context()


class TracingError(ValueError):
    """A tracing variable holds a value this process cannot work with; one line naming it.

    (The runtime raises it again as the `SettingsError` it is: this module cannot import
    the settings, which import the event bus, which imports the event spans.)
    """


def sampled(flags: str) -> bool:
    """Whether W3C trace flags (two hex digits) mark the trace as sampled."""
    return int(flags, 16) & 1 == 1


def _enabled(environ: Mapping[str, str]) -> bool:
    """Whether the variables ask for spans to be exported (TracingError for a bad one)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    if not any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES):
        return False
    for name in PROTOCOL_VARIABLES:
        protocol = environ.get(name, "").strip()
        if protocol:
            if protocol != PROTOCOL:
                raise TracingError(f"{name}: only {PROTOCOL} is supported (got {protocol!r})")
            break
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    ratio = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    # The SDK would warn and sample everything: a typo must not cost every request a span.
    if sampler in RATIO_SAMPLERS and ratio:
        try:
            valid = 0.0 <= float(ratio) <= 1.0
        except ValueError:
            valid = False
        if not valid:
            raise TracingError(
                f"OTEL_TRACES_SAMPLER_ARG: a ratio from 0 to 1 is expected (got {ratio!r})"
            )
    return True


class _ChosenIds(Protocol):
    """The provider's id generator, told the trace id of the next root span."""

    chosen: int


def _chosen_ids() -> _ChosenIds:
    """An id generator whose next trace id is the one `chosen` says (random otherwise).

    The chassis asks the sampler about a new trace before the SDK makes its span (see
    `Tracing._root`); the span must then have the trace id the sampler was asked about.
    The SDK's spans are all started on the event loop's thread, one at a time.
    """
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator  # noqa: PLC0415

    class ChosenIds(RandomIdGenerator):
        chosen = 0

        def generate_trace_id(self) -> int:
            trace_id, self.chosen = self.chosen, 0
            return trace_id or super().generate_trace_id()

    return ChosenIds()


def instance_id(instance: str) -> str:
    """`service.instance.id`: the launcher's name of the instance, else host and process."""
    return instance or f"{socket.gethostname()}-{os.getpid()}"


class Tracing:
    """The tracer of a process whose spans are exported."""

    def __init__(self, provider: TracerProvider, ids: _ChosenIds) -> None:
        from opentelemetry.sdk.trace.sampling import Decision, ParentBased  # noqa: PLC0415

        self.provider = provider
        self.recorded = Decision.RECORD_AND_SAMPLE
        self.tracer = provider.get_tracer("mercato.chassis")
        self.sampler = provider.sampler
        self.ids = ids
        # A parent-based sampler never records the child of a span that was not sampled:
        # such a child needs no SDK span (see the module docstring).
        self.follows_parent = isinstance(provider.sampler, ParentBased)

    @classmethod
    def from_env(
        cls,
        service: str,
        instance: str = "",
        *,
        exporter: SpanExporter | None = None,
    ) -> Tracing | None:
        """The process's tracing as the OTEL_* variables say; None when they ask for none.

        `exporter` replaces the OTLP one (tests); TracingError for a variable this
        process cannot honour (a protocol other than http/protobuf, a ratio outside 0-1).
        """
        if not _enabled(os.environ):
            return None
        # Imported only here: a process without tracing never loads the SDK, the
        # exporter, nor what they need (requests, protobuf: ~3 MiB and 50 ms).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

        resource = Resource.create(
            {"service.name": service, "service.instance.id": instance_id(instance)}
        )
        ids = _chosen_ids()
        # The sampler is the SDK's reading of OTEL_TRACES_SAMPLER and _ARG.
        provider = TracerProvider(resource=resource, id_generator=cast("IdGenerator", ids))
        provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
        log.info("tracing on: %s", provider.sampler.get_description())
        return cls(provider, ids)

    def entered(
        self, ctx: RequestContext, name: str, kind: SpanKind, attributes: Attributes = None
    ) -> tuple[Span | None, RequestContext]:
        """The span of the work `ctx` (from `new_context`) stands for, and the context naming it.

        Its parent is the caller's span named by `ctx` (`parent_span_id`); a new trace
        (`ctx`'s trace id) when it has none. The span is None when nothing is recorded;
        the context is then `ctx`, or for a new trace `ctx` marked as not sampled.
        """
        if not ctx.parent_span_id:
            return self._root(ctx, name, kind, attributes)
        if self.skips_children_of(ctx):
            return None, ctx
        caller = ctx.parent_span_id
        parent = _parent(ctx.trace_id, caller, ctx.flags, remote=True)
        return self._start(
            name, kind, attributes, request_id=ctx.request_id, parent_id=caller, parent=parent
        )

    def child(
        self, ctx: RequestContext | None, name: str, kind: SpanKind, attributes: Attributes = None
    ) -> tuple[Span | None, RequestContext]:
        """A span under the work of `ctx` (a new trace without), and the context naming it.

        The span is None when nothing is recorded; the context is then `ctx` (or, for a
        new trace, a new context marked as not sampled), which the child propagates.
        """
        if ctx is None:
            return self._root(new_context(), name, kind, attributes)
        if self.skips_children_of(ctx):
            return None, ctx
        parent = _parent(ctx.trace_id, ctx.span_id, ctx.flags, remote=False)
        return self._start(
            name, kind, attributes, request_id=ctx.request_id, parent_id=ctx.span_id, parent=parent
        )

    def skips_children_of(self, ctx: RequestContext) -> bool:
        """Whether no child of the work of `ctx` is ever recorded (it was not sampled)."""
        return self.follows_parent and not sampled(ctx.flags)

    def _root(
        self, ctx: RequestContext, name: str, kind: SpanKind, attributes: Attributes
    ) -> tuple[Span | None, RequestContext]:
        # The sampler is asked first, about the trace id the context already has: a new
        # trace that is not sampled then costs no SDK span (7-9 µs), only this decision.
        trace_id = int(ctx.trace_id, 16)
        if self.sampler.should_sample(_EMPTY, trace_id, name, kind).decision != self.recorded:
            return None, RequestContext(ctx.request_id, ctx.trace_id, ctx.span_id, "", "00")
        self.ids.chosen = trace_id  # the root span's trace id: the one just sampled
        return self._start(name, kind, attributes, request_id=ctx.request_id)

    def _start(
        self,
        name: str,
        kind: SpanKind,
        attributes: Attributes,
        *,
        request_id: str,
        parent_id: str = "",
        parent: Context = _EMPTY,
    ) -> tuple[Span | None, RequestContext]:
        """The span (None if not recorded), and the context naming it."""
        span = self.tracer.start_span(name, parent, kind, attributes)
        found = span.get_span_context()
        ctx = RequestContext(
            request_id,
            format(found.trace_id, "032x"),
            format(found.span_id, "016x"),
            parent_id,
            format(found.trace_flags, "02x"),
        )
        return (span if span.is_recording() else None), ctx

    async def shutdown(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """Send what is batched and stop, waiting `timeout` seconds at most."""
        # The SDK's shutdown blocks (it joins the exporting thread): run it on a daemon
        # thread of its own, so that a collector that is down delays the stop by
        # `timeout` at most and never keeps the process alive.
        worker = threading.Thread(
            target=self.provider.shutdown, name="tracing-shutdown", daemon=True
        )
        worker.start()
        await asyncio.get_running_loop().run_in_executor(None, worker.join, timeout)
        if worker.is_alive():
            log.warning("spans not all sent within %.0f s of the stop; dropped", timeout)


def _parent(trace_id: str, span_id: str, flags: str, *, remote: bool) -> Context:
    """An OpenTelemetry context whose span is the one these ids name."""
    flags_ = TraceFlags(int(flags, 16))
    span = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=remote, trace_flags=flags_)
    return set_span_in_context(NonRecordingSpan(span), _EMPTY)


def failed(span: Span, error: BaseException | str) -> None:
    """Mark `span` failed: `error.type` and an error status (its description for a string)."""
    if isinstance(error, BaseException):
        span.set_attribute("error.type", type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR, str(error) or None))
    else:
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR))
