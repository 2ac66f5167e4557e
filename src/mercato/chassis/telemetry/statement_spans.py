"""The spans of database statements: one per statement, when asked for (off by default).

A statement's span is a child of the work in progress (a request, an event handled)
and carries OpenTelemetry's database conventions: `db.system.name` (and the older
`db.system`, which many backends still show), `db.namespace` (the database), the
statement as sent with its placeholders, never its values (`db.query.text`) and its
first word (`db.operation.name`, which names the span: `SELECT`). A statement that
fails marks its span failed.

Statements through SQLAlchemy are seen by the engine's cursor events; the direct
reads (`chassis.data.driver_reads`) run on the driver and report themselves through
`statement`. Work that was not sampled costs one look at the context per statement.
Turned on by `MERCATO_TRACE_STATEMENTS` (or `MERCATO_<SERVICE>_TRACE_STATEMENTS`): a
recorded span costs a process ~60 µs of CPU in all, made then encoded for export,
several times what a direct read costs itself (docs/decisions.md, "Tracing").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.tracing import Span, SpanKind, Tracing, failed

__all__ = ["StatementSpans"]

_OPEN = "_mercato_span"  # the span of a statement, on its execution context


class StatementSpans:
    """Spans of the statements run on one engine's database."""

    def __init__(self, tracing: Tracing, engine: AsyncEngine) -> None:
        self.tracing = tracing
        self.engine = engine
        self.system = engine.dialect.name
        self.namespace = engine.url.database or ""

    def watch(self) -> Callable[[str], contextlib.AbstractContextManager[None]]:
        """Make a span of every statement SQLAlchemy runs on the engine.

        Returns what the direct reads, which SQLAlchemy does not see, report to.
        """
        sync = self.engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)
        event.listen(sync, "handle_error", self._failed)
        return self.statement

    def start(self, sql: str) -> Span | None:
        """The span of `sql`, about to run under the current work; None if not recorded.

        Nothing is recorded outside any work (migrations, the relay's polls, start-up).
        """
        ctx = trace_context.current()
        if ctx is None or self.tracing.skips_children_of(ctx):
            return None
        operation = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else self.system
        attributes = {
            "db.system.name": self.system,
            "db.system": self.system,
            "db.namespace": self.namespace,
            "db.operation.name": operation,
            "db.query.text": sql,
        }
        return self.tracing.child(ctx, operation, SpanKind.CLIENT, attributes)[0]

    @contextlib.contextmanager
    def statement(self, sql: str) -> Iterator[None]:
        """Around a statement run outside SQLAlchemy's events (a direct read)."""
        span = self.start(sql)
        if span is None:
            yield
            return
        try:
            yield
        except BaseException as exc:
            failed(span, exc)
            raise
        finally:
            span.end()

    def _before(
        self, _conn: Connection, _cursor: Any, statement: str, _p: Any, context: Any, _m: bool
    ) -> None:
        if context is None:
            return
        span = self.start(statement)
        if span is not None:
            setattr(context, _OPEN, span)  # the execution's own: it goes with it

    def _after(
        self, _conn: Connection, _cursor: Any, _s: str, _p: Any, context: Any, _m: bool
    ) -> None:
        span: Span | None = getattr(context, _OPEN, None)
        if span is not None:
            setattr(context, _OPEN, None)
            span.end()

    def _failed(self, error: ExceptionContext) -> None:
        span: Span | None = getattr(error.execution_context, _OPEN, None)
        if span is not None:
            setattr(error.execution_context, _OPEN, None)
            failed(span, error.original_exception)
            span.end()
