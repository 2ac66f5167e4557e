"""The spans of events: each event the relay publishes, each event a consumer handles.

An event's envelope carries the `traceparent` of the span that wrote it (`trace`), so
both spans are that span's children: the relay's `publish <type>` (a producer span)
and each consumer's `process <type>` (a consumer span), and one checkout is one trace
from the gateway to the audit log. The attributes are OpenTelemetry's messaging
conventions: `messaging.system` (`nats`, `rabbitmq`), `messaging.destination.name`
(the event type, which names the subject or routing key), `messaging.message.id`
(the event id), `messaging.operation.type` and `.name`, and the consumer's
`messaging.consumer.group.name`.

While an event is handled, the context names its span (or, without tracing, continues
the envelope's trace as it always did), so what the handler logs, calls and writes
belongs to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Protocol

from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.tracing import Span, SpanKind, Tracing, failed

__all__ = ["EventSpans", "Message", "handling"]


class Message(Protocol):
    """What the spans need of an event envelope."""

    @property
    def id(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def trace(self) -> str | None: ...


class EventSpans:
    """Spans of the events a process publishes and handles on one messaging system."""

    def __init__(self, tracing: Tracing, system: str) -> None:
        self.tracing = tracing
        self.system = system

    def _attributes(self, event: Message, operation: str, kind: str) -> dict[str, str]:
        return {
            "messaging.system": self.system,
            "messaging.destination.name": event.type,
            "messaging.message.id": event.id,
            "messaging.operation.type": kind,
            "messaging.operation.name": operation,
        }

    @contextlib.contextmanager
    def publishing(self, events: Sequence[Message]) -> Iterator[None]:
        """A producer span per event around their publishing, each under its writer's span."""
        spans: list[Span] = []
        for event in events:
            span, _ = self.tracing.entered(
                trace_context.new_context(traceparent=event.trace),
                f"publish {event.type}",
                SpanKind.PRODUCER,
                self._attributes(event, "publish", "send"),
            )
            if span is not None:
                spans.append(span)
        try:
            yield
        except BaseException as exc:
            for span in spans:
                failed(span, exc)
            raise
        finally:
            for span in spans:
                span.end()

    @contextlib.contextmanager
    def handled(self, event: Message, consumer: str) -> Iterator[None]:
        """`event` handled by `consumer` under a consumer span, which is current meanwhile."""
        ctx = trace_context.new_context(traceparent=event.trace)
        attributes = self._attributes(event, "process", "process")
        attributes["messaging.consumer.group.name"] = consumer
        span, ctx = self.tracing.entered(
            ctx, f"process {event.type}", SpanKind.CONSUMER, attributes
        )
        if span is None:
            with _current(ctx):
                yield
            return
        try:
            with _current(ctx):
                yield
        except BaseException as exc:
            failed(span, exc)
            raise
        finally:
            span.end()


@contextlib.contextmanager
def _current(ctx: trace_context.RequestContext) -> Iterator[None]:
    token = trace_context.set_current(ctx)
    try:
        yield
    finally:
        trace_context.reset_current(token)


def handling(
    spans: EventSpans | None, event: Message, consumer: str
) -> contextlib.AbstractContextManager[None]:
    """While `consumer` handles `event`: its span with `spans`, else the envelope's trace."""
    if spans is None:
        return _current(trace_context.new_context(traceparent=event.trace))
    return spans.handled(event, consumer)
