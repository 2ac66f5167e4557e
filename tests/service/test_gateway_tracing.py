"""The gateway's span of a request it serves, which the service it forwards to continues.

Against real upstream servers, with the gateway's spans sent to a real OTLP receiver:
the request is a server span named by its route (`/api/<service>/*`), and the service is
told that span in `traceparent` (the forwarding makes no span of its own: a span costs
more than the gateway's whole work on a request). A request no instance answers fails
its span. A client's `traceparent` is not trusted at the edge (its sampled flag would let
anyone have every request recorded): the gateway begins a trace of its own, unless told to
trust the caller (a proxy in front that sets the header itself), whose unsampled trace then
goes on unsampled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.gateway import gateway, upstreams
from tests.support.otlp import SERVER, OtlpReceiver
from tests.support.tokens import TokenFactory

NOT_SAMPLED = "00-" + "e" * 32 + "-" + "f" * 16 + "-00"
SAMPLED = "00-" + "d" * 32 + "-" + "f" * 16 + "-01"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A collector, and the variables that point the gateway's tracing at it."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    with OtlpReceiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        yield running


async def test_a_forwarded_request_is_a_server_span_the_service_continues(
    tokens: TokenFactory, receiver: OtlpReceiver
) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get("/api/catalog/products?q=red")
    assert response.status_code == 200
    [served] = receiver.spans()  # the gateway's stop sent them; its forwarding is no span
    assert (served.service, served.kind) == ("gateway", SERVER)
    assert served.name == "GET /api/catalog/*"
    assert served.attributes == {
        "http.request.method": "GET",
        "url.path": "/api/catalog/products",
        "url.scheme": "http",
        "http.route": "/api/catalog/*",
        "http.response.status_code": 200,
    }
    seen = response.json()["headers"]["traceparent"]
    assert seen.startswith(f"00-{served.trace_id}-{served.span_id}-")


async def test_a_request_no_instance_answers_fails_its_span(
    tokens: TokenFactory, receiver: OtlpReceiver
) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        await catalog.stop()
        response = await http.get("/api/catalog/products")
    assert response.status_code == 503
    [served] = receiver.spans()
    assert served.failed and served.attributes["http.response.status_code"] == 503
    assert served.attributes["error.type"] == "503"


async def test_a_trusted_callers_unsampled_trace_goes_on_unsampled_and_unrecorded(
    tokens: TokenFactory, receiver: OtlpReceiver
) -> None:
    async with (
        upstreams("c1") as [catalog],
        gateway(tokens, {"catalog": [catalog]}, trust_traceparent=True) as (http, _),
    ):
        response = await http.get("/api/catalog/products", headers={"traceparent": NOT_SAMPLED})
    seen = response.json()["headers"]["traceparent"]
    assert seen.startswith("00-" + "e" * 32 + "-") and seen.endswith("-00")
    assert receiver.spans() == []


async def test_an_anonymous_client_cannot_have_its_requests_recorded(
    tokens: TokenFactory, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sampling is off: a client asking for its trace to be sampled must change nothing.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get("/api/catalog/products", headers={"traceparent": SAMPLED})
    assert response.status_code == 200
    version, trace_id, _parent, flags = response.json()["headers"]["traceparent"].split("-")
    assert (version, flags) == ("00", "00")
    assert trace_id != "d" * 32  # a trace of the gateway's own, not the client's
    assert receiver.spans() == []


async def test_a_clients_unsampled_trace_is_not_continued_either(
    tokens: TokenFactory, receiver: OtlpReceiver
) -> None:
    # Everything is sampled here: the client's "not sampled" is no more its say than "sampled".
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get("/api/catalog/products", headers={"traceparent": NOT_SAMPLED})
    [served] = receiver.spans()
    seen = response.json()["headers"]["traceparent"]
    assert served.trace_id != "e" * 32
    assert seen.startswith(f"00-{served.trace_id}-{served.span_id}-")
    assert int(seen.rsplit("-", 1)[1], 16) & 1  # sampled: the gateway's decision
