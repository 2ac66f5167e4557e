"""Unit tests of the settings every service shares: the bus namespace and ack wait, to the bus."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from sqlalchemy.pool import QueuePool

from mercato.chassis.config import (
    MAX_DURATION_SECONDS,
    ServiceSettings,
    SettingsError,
    load_settings,
)
from mercato.chassis.events import DEFAULT_NAMESPACE
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.runtime import Runtime, ServiceSpec


def _load(**environ: str) -> ServiceSettings:
    return load_settings(ServiceSettings, "users", environ)


def test_the_bus_namespace_defaults_to_the_event_bus_default() -> None:
    assert _load().bus_namespace == DEFAULT_NAMESPACE == "MERCATO"


def test_the_bus_namespace_is_shared_and_a_service_may_override_it() -> None:
    assert _load(MERCATO_BUS_NAMESPACE="shop_b-2").bus_namespace == "shop_b-2"
    specific = _load(MERCATO_BUS_NAMESPACE="shop_b", MERCATO_USERS_BUS_NAMESPACE="users_only")
    assert specific.bus_namespace == "users_only"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "shop.b",  # a dot splits NATS subject tokens and RabbitMQ names
        "shop b",
        "shop*",
        "shop>",
        "shöp",
        "x" * 65,
        "amq",  # RabbitMQ reserves `amq.*` names
        "AMQ",
    ],
)
def test_a_bad_bus_namespace_is_a_one_line_error_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(MERCATO_BUS_NAMESPACE=value)

    message = str(caught.value)
    assert message.startswith("MERCATO_BUS_NAMESPACE: ")
    assert "namespace" in message.removeprefix("MERCATO_BUS_NAMESPACE: ")
    assert "\n" not in message


def names_of(bus: object) -> tuple[str, ...]:
    """The broker-side names a bus uses: its streams, exchange and a consumer's queue."""
    if isinstance(bus, NatsBus):
        return (bus.stream, bus.dlq_stream, bus.events_prefix)
    assert isinstance(bus, RabbitBus), bus
    return (bus.topology.exchange, bus.topology.dead_letters, bus.topology.queue("users"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nats://127.0.0.1:4222", ("SHOP_B_EVENTS", "SHOP_B_DLQ", "shop_b.events.")),
        (
            "amqp://guest:guest@127.0.0.1:5672/",
            ("shop_b.events", "shop_b.dead-letters", "shop_b.users"),
        ),
    ],
    ids=["nats", "rabbitmq"],
)
def test_the_runtime_creates_its_bus_in_the_configured_namespace(
    url: str, expected: tuple[str, ...]
) -> None:
    settings = _load(MERCATO_BROKER_URL=url, MERCATO_BUS_NAMESPACE="SHOP_B")
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="users", title="Users", uses_database=False
    )
    runtime = Runtime(spec, settings)

    assert names_of(runtime.bus) == expected


def test_the_runtime_gives_nats_the_configured_ack_wait() -> None:
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="users", title="Users", uses_database=False
    )
    default = Runtime(spec, _load(MERCATO_BROKER_URL="nats://127.0.0.1:4222"))
    assert isinstance(default.bus, NatsBus) and default.bus.ack_wait == 30.0
    settings = _load(MERCATO_BROKER_URL="nats://127.0.0.1:4222", MERCATO_EVENT_ACK_WAIT_SECONDS="5")
    runtime = Runtime(spec, settings)
    assert isinstance(runtime.bus, NatsBus) and runtime.bus.ack_wait == 5.0


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_ack_wait_is_a_one_line_error_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(MERCATO_EVENT_ACK_WAIT_SECONDS=value)
    assert str(caught.value).startswith("MERCATO_EVENT_ACK_WAIT_SECONDS: ")
    assert "\n" not in str(caught.value)


def pool_size(runtime: Runtime[Any, Any]) -> int:
    """The size of the runtime's connection pool (a queue pool, as on PostgreSQL)."""
    pool = runtime.database.engine.pool
    assert isinstance(pool, QueuePool), pool
    return pool.size()


def test_the_runtime_sizes_its_postgresql_pool_from_the_settings() -> None:
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="users", title="Users", uses_bus=False
    )
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/none"
    default = Runtime(spec, _load(MERCATO_DATABASE_URL=url))
    assert pool_size(default) == 20
    sized = Runtime(spec, _load(MERCATO_DATABASE_URL=url, MERCATO_DATABASE_POOL_SIZE="32"))
    assert pool_size(sized) == 32
    with pytest.raises(SettingsError) as caught:
        _load(MERCATO_DATABASE_POOL_SIZE="0")
    assert str(caught.value).startswith("MERCATO_DATABASE_POOL_SIZE: ")


SERVICES = ("auth", "users", "catalog", "orders", "payments", "logs", "shipping", "web", "gateway")


def settings_class(service: str) -> type[ServiceSettings]:
    """The settings class of a service, from its `settings` module."""
    module = importlib.import_module(f"mercato.{service}.settings")
    return type(module.load_settings())


def duration_fields() -> list[tuple[str, str]]:
    """(service, field) of every `*_seconds` and `*_days` setting of every service."""
    return [
        (service, name)
        for service in SERVICES
        for name in settings_class(service).model_fields
        if name.endswith(("_seconds", "_days"))
    ]


@pytest.mark.parametrize(("service", "field"), duration_fields())
def test_no_duration_may_run_past_ten_years(service: str, field: str) -> None:
    # Added to the current time, a longer one overflowed at the first use, not at start.
    variable = f"MERCATO_{service.upper()}_{field.upper()}"
    most = MAX_DURATION_SECONDS // (86_400 if field.endswith("_days") else 1)

    with pytest.raises(SettingsError) as caught:
        load_settings(settings_class(service), service, {variable: str(most + 1)})

    # Some fields have a tighter bound of their own; either way it is refused at start.
    message = str(caught.value)
    assert message.startswith(f"{variable}: ") and "\n" not in message


def test_the_duration_bound_says_what_it_is_and_leaves_long_retentions_alone() -> None:
    assert len(duration_fields()) >= 20  # every service has some: the test above is not empty
    logs, orders = settings_class("logs"), settings_class("orders")
    with pytest.raises(SettingsError) as caught:
        load_settings(orders, "orders", {"MERCATO_ORDERS_LEASE_SECONDS": "1e12"})
    assert str(caught.value) == (
        "MERCATO_ORDERS_LEASE_SECONDS: must be at most 315360000 (ten years) (got '1e12')"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(logs, "logs", {"MERCATO_LOGS_RETENTION_DAYS": "3651"})
    assert str(caught.value).startswith("MERCATO_LOGS_RETENTION_DAYS: must be at most 3650 ")
    kept = load_settings(logs, "logs", {"MERCATO_LOGS_RETENTION_DAYS": "3650"})
    assert kept.model_dump()["retention_days"] == 3650
