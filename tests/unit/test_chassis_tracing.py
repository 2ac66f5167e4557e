"""Tracing set up from the standard OTEL_* variables, and its spans' parents and sampling.

A process exports spans only when an OTLP endpoint is set and the SDK is not disabled;
then they go over OTLP/HTTP with protobuf bodies to that endpoint (a real receiver
here), under the process's own `service.name` and `service.instance.id`. The sampler
is the SDK's reading of `OTEL_TRACES_SAMPLER` and `_ARG`. What no process can honour
stops it with one line naming the variable.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mercato.chassis.config import ServiceSettings, SettingsError
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.telemetry.trace_context import new_context
from mercato.chassis.telemetry.tracing import (
    SpanKind,
    Tracing,
    TracingError,
    instance_id,
    sampled,
)
from tests.support.otlp import SERVER, OtlpReceiver
from tests.support.servers import closed_port

SAMPLED = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
NOT_SAMPLED = "00-" + "a" * 32 + "-" + "b" * 16 + "-00"
PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"


@pytest.fixture(autouse=True)
def no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets what it needs; nothing of the developer's shell leaks in."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def traced(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Tracing:
    """Tracing from the variables (an endpoint that nothing reads), spans kept in memory."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    tracing = Tracing.from_env("users", "users-1", exporter=InMemorySpanExporter())
    assert tracing is not None
    return tracing


def test_without_an_endpoint_there_is_no_tracing(tmp_path: Path) -> None:
    assert Tracing.from_env("users", "users-1") is None
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(name="demo", title="Demo")
    runtime = Runtime(spec, ServiceSettings(data_dir=tmp_path, broker_url=""))
    assert runtime.tracing is None
    assert runtime.http.tracing is None
    assert runtime.event_spans is None


@pytest.mark.parametrize(
    "variables",
    [
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_SDK_DISABLED": " TRUE "},
        {"OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_the_sdk_disabled_or_no_exporter_means_no_tracing_whatever_the_endpoint(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert Tracing.from_env("users", "users-1") is None


def test_a_disabled_sdk_that_is_not_true_leaves_tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "false")
    assert Tracing.from_env("users", "users-1") is not None


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
async def test_spans_go_to_the_endpoint_over_http_protobuf_as_the_service_and_instance(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver, variable: str
) -> None:
    # The traces endpoint is the whole URL; the shared one is a base the path goes after.
    endpoint = receiver.endpoint
    monkeypatch.setenv(variable, endpoint + ("/v1/traces" if "TRACES" in variable else ""))
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,service.name=x")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "not-users")
    tracing = Tracing.from_env("users", "users-2")
    assert tracing is not None
    started, ctx = tracing.entered(new_context("req-1", None), "GET /x", SpanKind.SERVER)
    assert started is not None
    started.end()
    await tracing.shutdown()

    [span] = receiver.spans()
    assert (span.service, span.instance) == ("users", "users-2")
    assert (span.name, span.kind) == ("GET /x", SERVER)
    assert span.resource["deployment.environment"] == "test"
    assert span.parent_span_id == ""
    assert (span.trace_id, span.span_id) == (ctx.trace_id, ctx.span_id)


def test_an_instance_without_a_name_is_its_host_and_process() -> None:
    assert instance_id("catalog-2") == "catalog-2"
    assert instance_id("") == f"{socket.gethostname()}-{os.getpid()}"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({PROTOCOL: "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf"),
        ({PROTOCOL: "http/json"}, "got 'http/json'"),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", PROTOCOL: "http/protobuf"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "10%"},
            "OTEL_TRACES_SAMPLER_ARG: a ratio from 0 to 1 is expected (got '10%')",
        ),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "got '1.5'"),
    ],
)
def test_what_no_process_can_honour_stops_it_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TracingError, match=re.escape(message)):
        Tracing.from_env("users")
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(name="demo", title="Demo")
    with pytest.raises(SettingsError, match=re.escape(message)):
        Runtime(spec, ServiceSettings(data_dir=tmp_path, broker_url=""))


def test_the_per_signal_protocol_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")  # for other signals
    assert Tracing.from_env("users") is not None


def test_every_request_is_sampled_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    tracing = traced(monkeypatch)
    assert tracing.follows_parent
    for _ in range(50):
        span, ctx = tracing.entered(new_context(), "GET /x", SpanKind.SERVER)
        assert span is not None and span.is_recording()
        assert sampled(ctx.flags)


def test_a_ratio_samples_that_share_of_new_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    tracing = traced(
        monkeypatch, OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1"
    )
    assert "0.1" in tracing.provider.sampler.get_description()
    kept = 0
    for _ in range(4000):
        fresh = new_context()
        span, ctx = tracing.entered(fresh, "GET /x", SpanKind.SERVER)
        # A new trace keeps the trace id it had; the sampler's choice is in its flags.
        assert ctx.trace_id == fresh.trace_id
        assert (span is not None) == sampled(ctx.flags)
        assert span is None or span.get_span_context().trace_id == int(fresh.trace_id, 16)
        kept += span is not None
    # 400 expected; below 280 or above 520 is a chance of about 1e-9.
    assert 280 < kept < 520


def test_a_parent_based_sampler_follows_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    tracing = traced(
        monkeypatch, OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0"
    )
    # The caller sampled: so is this hop, whatever the ratio, under the caller's span.
    span, ctx = tracing.entered(new_context("r", SAMPLED), "GET /x", SpanKind.SERVER)
    assert span is not None and span.is_recording()
    assert (ctx.trace_id, ctx.parent_span_id, ctx.request_id) == ("a" * 32, "b" * 16, "r")
    # Not sampled: no span at all, and the context goes on as the caller's says.
    unsampled = new_context("r", NOT_SAMPLED)
    assert tracing.entered(unsampled, "GET /x", SpanKind.SERVER) == (None, unsampled)
    assert tracing.child(unsampled, "GET", SpanKind.CLIENT) == (None, unsampled)
    # A new trace the ratio leaves out: no span, and the calls say "not sampled".
    fresh = new_context("r")
    assert tracing.entered(fresh, "GET /x", SpanKind.SERVER) == (None, replace(fresh, flags="00"))


def test_a_sampler_that_ignores_the_parent_is_asked_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracing = traced(monkeypatch, OTEL_TRACES_SAMPLER="always_on")
    assert not tracing.follows_parent
    span, _ = tracing.entered(new_context("r", NOT_SAMPLED), "GET /x", SpanKind.SERVER)
    assert span is not None and span.is_recording()


def test_a_child_is_under_the_current_span_and_named_by_its_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    tracing = Tracing.from_env("orders", "orders-1", exporter=exporter)
    assert tracing is not None
    server, ctx = tracing.entered(new_context("req", SAMPLED), "POST /api/orders", SpanKind.SERVER)
    assert server is not None
    client, call_ctx = tracing.child(ctx, "POST", SpanKind.CLIENT, {"peer.service": "catalog"})
    assert client is not None
    assert (call_ctx.trace_id, call_ctx.parent_span_id) == (ctx.trace_id, ctx.span_id)
    assert call_ctx.traceparent == f"00-{ctx.trace_id}-{call_ctx.span_id}-{call_ctx.flags}"
    client.end()
    server.end()
    tracing.provider.force_flush()
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert finished["POST"].parent is not None
    assert finished["POST"].parent.span_id == int(ctx.span_id, 16)
    assert finished["POST /api/orders"].parent is not None
    assert finished["POST /api/orders"].parent.span_id == int("b" * 16, 16)
    assert finished["POST /api/orders"].parent.is_remote


async def test_stopping_with_the_collector_down_does_not_wait_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    tracing = Tracing.from_env("users", "users-1")
    assert tracing is not None
    span, _ = tracing.entered(new_context(), "GET /x", SpanKind.SERVER)
    assert span is not None
    span.end()
    await tracing.shutdown(timeout=0.5)  # returns: the export goes on failing on its own
