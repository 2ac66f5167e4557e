"""Unit tests of the event envelope and of choosing a transport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from pydantic import ValidationError

from mercato.chassis.events import Event, connect_bus
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.telemetry.trace_context import new_context, reset_current, set_current


def test_new_fills_id_time_and_no_trace_outside_a_request() -> None:
    event = Event.new("user.registered", subject="u1", data={"a": 1}, source="auth")
    other = Event.new("user.registered", subject="u1", data={"a": 1}, source="auth")
    assert event.id != other.id and len(event.id) == 36
    assert event.version == 1 and event.trace is None
    assert event.occurred_at.tzinfo is not None
    assert abs(datetime.now(UTC) - event.occurred_at) < timedelta(seconds=5)


def test_new_takes_the_trace_of_the_current_request() -> None:
    ctx = new_context(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    token = set_current(ctx)
    try:
        event = Event.new("order.placed", subject="o1", data={}, source="orders", version=2)
    finally:
        reset_current(token)
    assert event.trace == ctx.traceparent and event.trace.startswith("00-" + "a" * 32)
    assert event.version == 2


def test_bytes_round_trip() -> None:
    event = Event.new(
        "product.updated",
        subject="p1",
        data={"price": {"amount": 1999, "currency": "EUR"}, "tags": ["x"], "note": "é"},
        source="catalog",
    )
    raw = event.to_bytes()
    assert Event.from_bytes(raw) == event
    assert Event.from_bytes(raw.decode()) == event
    assert orjson.loads(raw)["occurred_at"].endswith("Z")


def test_times_are_kept_in_utc() -> None:
    plus_two = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    event = Event.new("a.b", subject="s", data={}, source="x", occurred_at=plus_two)
    assert event.occurred_at == plus_two and event.occurred_at.tzinfo == UTC
    naive = Event.model_validate({**event.model_dump(), "occurred_at": "2024-05-01T10:00:00"})
    assert naive.occurred_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_envelope_is_frozen_and_unknown_fields_are_ignored() -> None:
    event = Event.new("a.b", subject="s", data={}, source="x")
    with pytest.raises(ValidationError):
        event.type = "c.d"  # type: ignore[misc]
    newer = orjson.dumps({**orjson.loads(event.to_bytes()), "added_later": 1})
    assert Event.from_bytes(newer) == event


@pytest.mark.parametrize("bad", [b"not json", b"[]", b'{"id": "x"}'])
def test_from_bytes_refuses_what_is_not_an_event(bad: bytes) -> None:
    with pytest.raises(ValueError):
        Event.from_bytes(bad)


@pytest.mark.parametrize("bad_type", ["", "user registered", "orders.*", "a.>", "a..b"])
def test_type_must_be_a_subject_safe_name(bad_type: str) -> None:
    with pytest.raises(ValidationError):
        Event.new(bad_type, subject="s", data={}, source="x")


def test_connect_bus_picks_the_transport_by_scheme() -> None:
    bus = connect_bus("nats://127.0.0.1:4222", service="users", namespace="TEST_NS")
    assert isinstance(bus, NatsBus)
    assert (bus.stream, bus.dlq_stream) == ("TEST_NS_EVENTS", "TEST_NS_DLQ")
    assert bus.subject("user.registered") == "test_ns.events.user.registered"
    default = connect_bus("nats://127.0.0.1:4222", service="users")
    assert isinstance(default, NatsBus)
    assert default.subject("order.placed") == "mercato.events.order.placed"
    rabbit = connect_bus("amqp://guest:guest@127.0.0.1/", service="users", namespace="TEST_NS")
    assert isinstance(rabbit, RabbitBus)
    assert rabbit.topology.exchange == "test_ns.events"
    assert isinstance(connect_bus("amqps://rabbit.example/", service="users"), RabbitBus)
    with pytest.raises(ValueError, match="scheme"):
        connect_bus("http://127.0.0.1", service="users")
    with pytest.raises(ValueError, match="namespace"):
        connect_bus("nats://127.0.0.1:4222", service="users", namespace="bad.name")
