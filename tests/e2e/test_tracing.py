"""Tracing end to end: `mercato up` exporting OTLP to a receiver, one checkout one trace.

The `traced` system (NATS, every process pointed at the session's OTLP/HTTP receiver
by `OTEL_EXPORTER_OTLP_ENDPOINT`) serves a checkout through the gateway. The receiver
then holds one trace rooted at the gateway's span of `POST /api/orders`, with spans
from the gateway, orders, catalog, payments and the audit log's consumer, every span's
parent in it: the gateway's span is the parent of orders' request, orders' calls the
parents of catalog's and payments' requests, and each event's publishing and
handling are children of the span that wrote the event. The log lines name the spans.
A collector that goes away costs the shop nothing, and spans flow again when it is back.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from mercato.contracts.events import producer_of
from tests.e2e.client import Account, Shop, System, confirmed_checkout
from tests.support.otlp import CLIENT, CONSUMER, PRODUCER, SERVER, OtlpReceiver, ReceivedSpan

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["traced"], indirect=True)]

FIVE = {"gateway", "orders", "catalog", "payments", "logs"}


def checkout_trace(spans: list[ReceivedSpan], since_ns: int) -> list[ReceivedSpan] | None:
    """The trace of the checkout the gateway received after `since_ns`, once it is whole.

    Whole: the five processes are in it, every parent is in it, and every event
    published in it was handled by the audit log in it.
    """
    roots = [
        s
        for s in spans
        if (s.service, s.kind, s.attributes.get("url.path")) == ("gateway", SERVER, "/api/orders")
        and s.attributes.get("http.request.method") == "POST"
        and s.start_ns >= since_ns
    ]
    if not roots:
        return None
    trace = [s for s in spans if s.trace_id == roots[0].trace_id]
    ids = {s.span_id for s in trace}
    published = {s.attributes["messaging.message.id"] for s in trace if s.kind == PRODUCER}
    audited = {
        s.attributes["messaging.message.id"]
        for s in trace
        if s.kind == CONSUMER and s.service == "logs"
    }
    whole = (
        {s.service for s in trace} >= FIVE
        and all(s.parent_span_id in ids for s in trace if s is not roots[0])
        and published
        and published <= audited
    )
    return trace if whole else None


def test_one_checkout_is_one_trace_across_the_five_processes(
    system: System, shop: Shop, customer: Account, otlp_receiver: OtlpReceiver
) -> None:
    since = time.time_ns()
    confirmed_checkout(shop, customer)
    trace = otlp_receiver.eventually(lambda spans: checkout_trace(spans, since))
    by_id = {s.span_id: s for s in trace}

    [root] = [s for s in trace if s.parent_span_id == ""]
    assert (root.service, root.name) == ("gateway", "POST /api/orders/*")
    assert root.attributes["http.route"] == "/api/orders/*"
    assert root.attributes["http.response.status_code"] == 201
    assert root.instance == "gateway-1"

    def served_under(caller: str, service: str) -> list[ReceivedSpan]:
        """The requests `service` served under a call `caller` made to it."""
        return [
            s
            for s in trace
            if s.service == service
            and s.kind == SERVER
            and by_id[s.parent_span_id].service == caller
            and by_id[s.parent_span_id].kind == CLIENT
            and by_id[s.parent_span_id].attributes["peer.service"] == service
        ]

    # The gateway's span is the parent of the request it forwarded to orders.
    [placed] = [s for s in trace if s.service == "orders" and s.parent_span_id == root.span_id]
    assert placed.kind == SERVER
    assert placed.name == "POST /api/orders" and placed.attributes["http.route"] == "/api/orders"
    assert served_under("orders", "catalog"), "orders' calls to the catalog"
    assert served_under("orders", "payments"), "orders' calls to payments"
    assert {s.instance for s in trace if s.service == "catalog"} <= {"catalog-1", "catalog-2"}

    # Each event: published by the relay of, and handled by the audit log under, its writer.
    audited = [s for s in trace if s.kind == CONSUMER and s.service == "logs"]
    types = {s.attributes["messaging.destination.name"] for s in audited}
    assert {"order.placed", "order.confirmed"} <= types
    for handled in audited:
        event_type = handled.attributes["messaging.destination.name"]
        writer = by_id[handled.parent_span_id]
        assert writer.service == producer_of(event_type), (event_type, writer)
        assert handled.name == f"process {event_type}"
        assert handled.attributes["messaging.system"] == "nats"
        assert handled.attributes["messaging.consumer.group.name"] == "logs"
        # Two replicas' relays may both publish a row before either marks it (the broker
        # keeps one): each such publish is a span under the writer.
        publishes = [
            s
            for s in trace
            if s.kind == PRODUCER
            and s.attributes["messaging.message.id"] == handled.attributes["messaging.message.id"]
        ]
        assert publishes, handled
        for publish in publishes:
            assert (publish.service, publish.parent_span_id) == (writer.service, writer.span_id)
    assert not [s for s in trace if s.failed], [s for s in trace if s.failed]

    # The log lines of the checkout carry its trace and their span.
    lines = [_json(line) for line in system.log().splitlines() if root.trace_id in line]
    access = [x for x in lines if x and (x.get("method"), x.get("path")) == ("POST", "/api/orders")]
    assert {(x["service"], x["span_id"]) for x in access} == {
        ("gateway", root.span_id),
        ("orders", placed.span_id),
    }


def test_log_lines_hold_no_ansi_escapes(system: System) -> None:
    lines = [x for line in system.log().splitlines() if (x := _json(line)) is not None]
    assert any(x["msg"].startswith("Started server process") for x in lines)
    assert not [x for x in lines if "color_message" in x]
    assert "\\u001b" not in system.log() and "\x1b" not in system.log()


def test_a_collector_that_goes_away_costs_the_shop_nothing(
    system: System, shop: Shop, customer: Account, otlp_receiver: OtlpReceiver
) -> None:
    otlp_receiver.stop()
    try:
        confirmed_checkout(shop, customer)
        assert shop.http.get("/health").status_code == 200
    finally:
        otlp_receiver.start()
    since = time.time_ns()
    confirmed_checkout(shop, customer)
    otlp_receiver.eventually(lambda spans: checkout_trace(spans, since))


def _json(line: str) -> dict[str, Any] | None:
    """A service's log line as the launcher relays it (`name | {...}`), or None."""
    _, _, text = line.partition("| ")
    if not text.startswith("{"):
        return None
    try:
        found: dict[str, Any] = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return found
