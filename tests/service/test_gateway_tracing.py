"""The gateway's spans: a request it serves, and its forwarding to a service.

Against real upstream servers, with the gateway's spans sent to a real OTLP receiver:
the request is a server span named by its route, its forwarding a client span under
it, and the service is told the forwarding's span in `traceparent`. A forwarding that
no instance answers fails its span; a caller's unsampled trace goes on unsampled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.gateway import gateway, upstreams
from tests.support.otlp import CLIENT, SERVER, OtlpReceiver
from tests.support.tokens import TokenFactory

NOT_SAMPLED = "00-" + "e" * 32 + "-" + "f" * 16 + "-00"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    """A collector, and the variables that point the gateway's tracing at it."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    with OtlpReceiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        yield running


async def test_a_forwarded_request_is_a_server_span_and_a_client_span_under_it(
    tokens: TokenFactory, receiver: OtlpReceiver
) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get("/api/catalog/products?q=red")
    assert response.status_code == 200
    spans = receiver.spans()  # the gateway's stop sent them
    [served] = [s for s in spans if s.kind == SERVER]
    [forwarded] = [s for s in spans if s.kind == CLIENT]
    assert served.service == "gateway"
    assert served.name == "GET /api/catalog/*"
    assert served.attributes["http.route"] == "/api/catalog/*"
    assert served.attributes["url.path"] == "/api/catalog/products"
    assert served.attributes["http.response.status_code"] == 200
    assert (forwarded.trace_id, forwarded.parent_span_id) == (served.trace_id, served.span_id)
    assert forwarded.attributes == {
        "http.request.method": "GET",
        "url.path": "/api/catalog/products",
        "peer.service": "catalog",
        "http.response.status_code": 200,
    }
    seen = response.json()["headers"]["traceparent"]
    assert seen.startswith(f"00-{forwarded.trace_id}-{forwarded.span_id}-")


async def test_a_forwarding_nobody_answers_fails_its_span(
    tokens: TokenFactory, receiver: OtlpReceiver
) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        await catalog.stop()
        response = await http.get("/api/catalog/products")
    assert response.status_code == 503
    spans = receiver.spans()
    [served] = [s for s in spans if s.kind == SERVER]
    [forwarded] = [s for s in spans if s.kind == CLIENT]
    assert served.failed and served.attributes["http.response.status_code"] == 503
    assert forwarded.failed and forwarded.attributes["error.type"] == "ServiceUnavailable"
    assert "http.response.status_code" not in forwarded.attributes


async def test_a_callers_unsampled_trace_goes_on_unsampled_and_unrecorded(
    tokens: TokenFactory, receiver: OtlpReceiver
) -> None:
    async with upstreams("c1") as [catalog], gateway(tokens, {"catalog": [catalog]}) as (http, _):
        response = await http.get("/api/catalog/products", headers={"traceparent": NOT_SAMPLED})
    seen = response.json()["headers"]["traceparent"]
    assert seen.startswith("00-" + "e" * 32 + "-") and seen.endswith("-00")
    assert receiver.spans() == []
