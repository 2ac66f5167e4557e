"""An OTLP/HTTP receiver for the tests and the tracing benchmark: spans as a collector gets them.

`OtlpReceiver` serves `POST /v1/traces` on 127.0.0.1 (aiohttp, on a thread of its own
so that synchronous tests can use it), decodes each body as OpenTelemetry's
`ExportTraceServiceRequest` (protobuf, gzip or deflate when the exporter compresses)
and keeps every span with its resource's `service.name` and `service.instance.id`.
Its `endpoint` is what `OTEL_EXPORTER_OTLP_ENDPOINT` takes. It can be stopped and
started again on the same port, to play a collector that goes away and comes back.

`traces` groups the spans by trace id; `eventually` waits for spans to arrive (the
services send them in batches, `OTEL_BSP_SCHEDULE_DELAY` apart).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as ProtoStatus

from tests.support.servers import closed_port

__all__ = ["CLIENT", "CONSUMER", "PRODUCER", "SERVER", "OtlpReceiver", "ReceivedSpan", "traces"]

T = TypeVar("T")

SERVER = ProtoSpan.SPAN_KIND_SERVER
CLIENT = ProtoSpan.SPAN_KIND_CLIENT
PRODUCER = ProtoSpan.SPAN_KIND_PRODUCER
CONSUMER = ProtoSpan.SPAN_KIND_CONSUMER
ERROR = ProtoStatus.STATUS_CODE_ERROR


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as exported, with the service and instance that sent it."""

    service: str
    instance: str
    name: str
    kind: int  # ProtoSpan.SpanKind: SERVER, CLIENT, PRODUCER, CONSUMER above
    trace_id: str  # hex
    span_id: str
    parent_span_id: str  # "" for a root span
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status: int  # ProtoStatus.StatusCode: ERROR above
    links: tuple[tuple[str, str], ...]  # (trace id, span id) of each link
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether the span's status is an error."""
        return self.status == ERROR


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        found[pair.key] = _value(pair.value)
    return found


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one export request's body."""
    request = ExportTraceServiceRequest.FromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=str(resource.get("service.name", "")),
                        instance=str(resource.get("service.instance.id", "")),
                        name=span.name,
                        kind=span.kind,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes=_attributes(span.attributes),
                        status=span.status.code,
                        links=tuple((ln.trace_id.hex(), ln.span_id.hex()) for ln in span.links),
                        resource=resource,
                    )
                )
    return spans


def _count(body: bytes) -> int:
    """How many spans one export request's body holds (parsed by protobuf's C code)."""
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(scope.spans) for res in request.resource_spans for scope in res.scope_spans)


def traces(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    """`spans` by trace id."""
    found: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        found.setdefault(span.trace_id, []).append(span)
    return found


class OtlpReceiver:
    """A collector's OTLP/HTTP traces endpoint on 127.0.0.1, keeping what it receives.

    `decode=False` only counts the spans (for a benchmark: making an object of every
    span would take CPU from the system measured).
    """

    def __init__(self, port: int | None = None, *, decode: bool = True) -> None:
        self.port = port or closed_port()
        self.decode = decode
        self.requests = 0
        self.received_bytes = 0
        self.counted = 0  # spans received
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._task_id = 0  # the serving thread's id in /proc

    @property
    def endpoint(self) -> str:
        """The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`."""
        return f"http://127.0.0.1:{self.port}"

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._lock:
            return list(self._spans)

    def span_count(self) -> int:
        """How many spans have been received."""
        with self._lock:
            return self.counted

    def cpu_seconds(self) -> float:
        """CPU time the serving thread has used so far (Linux), 0 when it is not running."""
        if not self._task_id:
            return 0.0
        try:
            stat = Path(f"/proc/self/task/{self._task_id}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of proc(5)'s stat; index 0 here is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def eventually(
        self, found: Callable[[list[ReceivedSpan]], T | None], timeout: float = 60.0
    ) -> T:
        """`found(spans)` once it is not None, asking again as spans arrive."""
        deadline = time.monotonic() + timeout
        while True:
            result = found(self.spans())
            if result is not None:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"not received within {timeout:.0f} s")
            time.sleep(0.1)

    async def _export(self, request: web.Request) -> web.Response:
        body = await request.read()
        encoding = request.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        spans = decode(body) if self.decode else []
        count = len(spans) if self.decode else _count(body)
        with self._lock:
            self.requests += 1
            self.received_bytes += len(body)
            self.counted += count
            self._spans.extend(spans)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    def start(self) -> OtlpReceiver:
        """Listen (again) on `port`, in a thread of its own."""
        if self._thread is not None:
            return self
        started = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/v1/traces", self._export)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
            self._runner = runner

        def run() -> None:
            self._task_id = threading.get_native_id()
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="otlp-receiver", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop listening (what was received stays)."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = self._runner = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
