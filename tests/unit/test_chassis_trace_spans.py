"""The spans the chassis makes, as a collector receives them over OTLP.

A request served is a server span named by its route; a call to another service is a
client span under it whose `traceparent` the callee sees; an event handled is a
consumer span and an event published a producer span, both under the span that wrote
the event; a database statement is a span when asked for. Each process's spans reach a
real OTLP/HTTP receiver through the real exporter, flushed when the process stops.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastapi import APIRouter, Request
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from mercato.chassis.config import ServiceSettings
from mercato.chassis.data.database import Database
from mercato.chassis.data.driver_reads import DirectQuery
from mercato.chassis.events import Event, EventTables, IdempotentConsumer, Outbox, OutboxRelay
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.telemetry import trace_context
from mercato.chassis.telemetry.event_spans import EventSpans
from mercato.chassis.telemetry.logs import JsonFormatter
from mercato.chassis.telemetry.statement_spans import StatementSpans
from mercato.chassis.telemetry.tracing import Tracing
from mercato.chassis.web.app import create_app
from mercato.chassis.web.json_body import StrictJsonRoute
from tests.support.apps import running
from tests.support.events import DemoPlaced
from tests.support.otlp import CLIENT, CONSUMER, PRODUCER, SERVER, OtlpReceiver, ReceivedSpan

SAMPLED = "00-" + "c" * 32 + "-" + "d" * 16 + "-01"
NOT_SAMPLED = "00-" + "e" * 32 + "-" + "f" * 16 + "-00"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A collector, and the variables that point this process's tracing at it."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    with OtlpReceiver() as running_receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running_receiver.endpoint)
        yield running_receiver


@pytest.fixture
async def upstream() -> AsyncIterator[TestServer]:
    """Another service: answers with the headers it received."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    app = web.Application()
    app.router.add_get("/echo", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


def demo_app(tmp_path: Path, upstream: TestServer) -> Any:
    router = APIRouter(prefix="/api/demo", route_class=StrictJsonRoute)

    @router.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.get("/boom")
    async def boom() -> JSONResponse:
        return JSONResponse({"detail": "down"}, status_code=502)

    @router.get("/call")
    async def call(request: Request) -> dict[str, Any]:
        runtime: Runtime[ServiceSettings, None] = request.app.state.runtime
        echo = str(upstream.make_url("/echo"))
        answer = await runtime.http.get(echo, target="upstream", auth=False)
        return {"seen": answer.json(), "mine": trace_context.current().traceparent}  # type: ignore[union-attr]

    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="demo", title="Demo", uses_database=False, uses_bus=False
    )
    settings = ServiceSettings(data_dir=tmp_path, broker_url="", instance="demo-1")
    return create_app(spec, settings, [router], configure_logs=False)


def one(spans: Sequence[ReceivedSpan], **wanted: Any) -> ReceivedSpan:
    found = [
        s for s in spans if all(getattr(s, k, s.attributes.get(k)) == v for k, v in wanted.items())
    ]
    assert len(found) == 1, (wanted, spans)
    return found[0]


class Lines(logging.Handler):
    """The JSON lines of the access log."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("demo", "demo-1"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


async def test_requests_served_and_calls_made_are_spans(
    receiver: OtlpReceiver, upstream: TestServer, tmp_path: Path
) -> None:
    app = demo_app(tmp_path, upstream)
    lines = Lines()
    access = logging.getLogger("mercato.access")
    access.addHandler(lines)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        async with running(app) as client:
            assert (await client.get("/api/demo/items/7")).status_code == 200
            assert (await client.get("/api/demo/boom")).status_code == 502
            assert (await client.get("/api/demo/missing")).status_code == 404
            called = (await client.get("/api/demo/call")).json()
            for probe in ("/health/live", "/health/ready", "/metrics"):
                assert (await client.get(probe)).status_code == 200
    finally:
        access.removeHandler(lines)
        access.setLevel(level)
    spans = receiver.spans()  # the app's stop sent them

    assert not [s for s in spans if s.attributes.get("url.path", "").startswith(("/health", "/me"))]
    item = one(spans, name="GET /api/demo/items/{item_id}")
    assert (item.service, item.instance, item.kind) == ("demo", "demo-1", SERVER)
    assert item.attributes == {
        "http.request.method": "GET",
        "url.path": "/api/demo/items/7",
        "url.scheme": "http",
        "http.route": "/api/demo/items/{item_id}",
        "http.response.status_code": 200,
    }
    assert item.parent_span_id == "" and not item.failed
    boom = one(spans, name="GET /api/demo/boom")
    assert boom.failed and boom.attributes["http.response.status_code"] == 502
    assert boom.attributes["error.type"] == "502"
    missing = one(spans, **{"url.path": "/api/demo/missing"})
    assert missing.name == "GET" and "http.route" not in missing.attributes
    assert missing.attributes["http.response.status_code"] == 404 and not missing.failed

    served = one(spans, name="GET /api/demo/call")
    call = one(spans, kind=CLIENT)
    assert (call.name, call.trace_id) == ("GET", served.trace_id)
    assert call.parent_span_id == served.span_id
    assert call.attributes["peer.service"] == "upstream"
    assert call.attributes["url.full"] == str(upstream.make_url("/echo"))
    assert call.attributes["http.response.status_code"] == 200
    # The service called was told the call's span; the route's own context is the request's.
    # (Its flags say sampled, and the SDK's "random trace id" of W3C trace context 2.)
    assert called["seen"]["traceparent"] == f"00-{call.trace_id}-{call.span_id}-03"
    assert called["mine"] == f"00-{served.trace_id}-{served.span_id}-03"

    # The access log line names the request's span.
    line = next(x for x in lines.lines if x["path"] == "/api/demo/items/7")
    assert (line["trace_id"], line["span_id"]) == (item.trace_id, item.span_id)


async def test_a_request_continues_its_callers_trace_when_it_was_sampled(
    receiver: OtlpReceiver, upstream: TestServer, tmp_path: Path
) -> None:
    app = demo_app(tmp_path, upstream)
    async with running(app) as client:
        await client.get("/api/demo/items/1", headers={"traceparent": SAMPLED})
        unsampled = await client.get("/api/demo/call", headers={"traceparent": NOT_SAMPLED})
    spans = receiver.spans()
    item = one(spans, name="GET /api/demo/items/{item_id}")
    assert (item.trace_id, item.parent_span_id) == ("c" * 32, "d" * 16)
    # Not sampled by the caller: no span here, and the call goes on unsampled in its trace.
    assert [s for s in spans if s.trace_id == "e" * 32] == []
    seen = unsampled.json()["seen"]["traceparent"]
    assert seen.startswith("00-" + "e" * 32 + "-") and seen.endswith("-00")


async def test_without_tracing_the_trace_context_propagates_as_before(
    monkeypatch: pytest.MonkeyPatch, upstream: TestServer, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    app = demo_app(tmp_path, upstream)
    async with running(app) as client:
        assert app.state.runtime.tracing is None
        called = (await client.get("/api/demo/call", headers={"traceparent": SAMPLED})).json()
    assert called["seen"]["traceparent"] == called["mine"]
    assert called["mine"].startswith("00-" + "c" * 32 + "-") and called["mine"].endswith("-01")


class IdRow(TypedDict):
    """A row of the direct read below."""

    id: str


class Published:
    """A bus that keeps what is published (the relay's side is under test)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish_many(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


async def test_events_published_and_handled_are_spans_under_their_writer(
    receiver: OtlpReceiver, db: Database, tables: EventTables
) -> None:
    tracing = Tracing.from_env("orders", "orders-1")
    assert tracing is not None
    spans = EventSpans(tracing, "nats")
    writer = trace_context.new_context("req", SAMPLED)
    token = trace_context.set_current(writer)
    try:
        async with db.transaction() as session:
            outbox = Outbox(tables, source="orders")
            written = await outbox.add(session, DemoPlaced(n=1), subject="o1")
    finally:
        trace_context.reset_current(token)
    bus = Published()
    relay = OutboxRelay(db, tables, bus, spans=spans)  # type: ignore[arg-type]
    assert await relay.flush() == 1

    handled: list[trace_context.RequestContext | None] = []

    async def handler(session: AsyncSession, event: Event) -> None:
        handled.append(trace_context.current())

    async def failing(session: AsyncSession, event: Event) -> None:
        raise ConnectionError("downstream hiccup")

    await IdempotentConsumer(db, tables, "audit", {"demo.placed": handler}, spans=spans).handle(
        bus.events[0]
    )
    with pytest.raises(ConnectionError):
        await IdempotentConsumer(
            db, tables, "mailer", {"demo.placed": failing}, spans=spans
        ).handle(bus.events[0])
    await tracing.shutdown()

    received = receiver.spans()
    publish = one(received, kind=PRODUCER)
    process = one(received, kind=CONSUMER, **{"messaging.consumer.group.name": "audit"})
    failed = one(received, kind=CONSUMER, **{"messaging.consumer.group.name": "mailer"})
    for span in (publish, process, failed):
        assert (span.trace_id, span.parent_span_id) == (writer.trace_id, writer.span_id)
        assert span.attributes["messaging.system"] == "nats"
        assert span.attributes["messaging.destination.name"] == "demo.placed"
        assert span.attributes["messaging.message.id"] == written.id
    assert publish.name == "publish demo.placed"
    assert publish.attributes["messaging.operation.type"] == "send"
    assert process.name == "process demo.placed" and not process.failed
    assert process.attributes["messaging.operation.type"] == "process"
    assert failed.failed and failed.attributes["error.type"] == "ConnectionError"
    # The handler ran in its span: what it logs, calls or writes belongs to it.
    [ctx] = handled
    assert ctx is not None and (ctx.trace_id, ctx.span_id) == (process.trace_id, process.span_id)


async def test_a_consumer_without_tracing_continues_the_envelopes_trace(
    db: Database, tables: EventTables
) -> None:
    seen: list[trace_context.RequestContext | None] = []

    async def handler(session: AsyncSession, event: Event) -> None:
        seen.append(trace_context.current())

    event = Event.new("demo.placed", subject="o1", data={}, source="orders").model_copy(
        update={"trace": SAMPLED}
    )
    await IdempotentConsumer(db, tables, "audit", {"demo.placed": handler}).handle(event)
    [ctx] = seen
    assert ctx is not None and (ctx.trace_id, ctx.parent_span_id) == ("c" * 32, "d" * 16)
    assert trace_context.current() is None


async def test_statements_are_spans_only_when_asked_for_and_under_some_work(
    receiver: OtlpReceiver, db: Database, tables: EventTables
) -> None:
    tracing = Tracing.from_env("users", "users-1")
    assert tracing is not None
    db.reader.statements = StatementSpans(tracing, db.engine).watch()
    query = DirectQuery(select(tables.outbox.c.id).limit(1), IdRow)
    async with db.session() as session:
        await session.execute(text("SELECT 1"))  # no work in progress: no span
    ctx = trace_context.new_context("req", SAMPLED)
    token = trace_context.set_current(ctx)
    try:
        async with db.session() as session:
            await session.execute(text("SELECT 2"))
            with pytest.raises(Exception, match="no such table"):
                await session.execute(text("SELECT * FROM missing"))
        assert await db.reader.one(query) is None
    finally:
        trace_context.reset_current(token)
    await tracing.shutdown()

    received = [s for s in receiver.spans() if s.attributes.get("db.system.name") == "sqlite"]
    texts = [s.attributes["db.query.text"] for s in received]
    assert "SELECT 1" not in texts
    assert texts[0] == "SELECT 2" and texts[1] == "SELECT * FROM missing"
    assert texts[2].startswith("SELECT ") and "outbox" in texts[2]  # the direct read
    for span in received:
        assert (span.name, span.kind, span.trace_id) == ("SELECT", CLIENT, "c" * 32)
        assert span.parent_span_id == ctx.span_id
        assert span.attributes["db.system"] == "sqlite"
        assert span.attributes["db.namespace"].endswith("service.db")
    assert [s.failed for s in received] == [False, True, False]
