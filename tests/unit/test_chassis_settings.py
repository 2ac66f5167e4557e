"""Unit tests of the settings every service shares: the bus namespace and ack wait, to the bus."""

from __future__ import annotations

import pytest

from mercato.chassis.config import ServiceSettings, SettingsError, load_settings
from mercato.chassis.events import DEFAULT_NAMESPACE
from mercato.chassis.events.nats_bus import NatsBus
from mercato.chassis.events.rabbit_bus import RabbitBus
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
    runtime = Runtime(ServiceSpec(name="users", title="Users", uses_database=False), settings)

    assert names_of(runtime.bus) == expected


def test_the_runtime_gives_nats_the_configured_ack_wait() -> None:
    spec = ServiceSpec(name="users", title="Users", uses_database=False)
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


def test_the_runtime_sizes_its_postgresql_pool_from_the_settings() -> None:
    spec = ServiceSpec(name="users", title="Users", uses_bus=False)
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/none"
    default = Runtime(spec, _load(MERCATO_DATABASE_URL=url))
    assert default.database.engine.pool.size() == 20  # type: ignore[attr-defined]
    sized = Runtime(spec, _load(MERCATO_DATABASE_URL=url, MERCATO_DATABASE_POOL_SIZE="32"))
    assert sized.database.engine.pool.size() == 32  # type: ignore[attr-defined]
    with pytest.raises(SettingsError) as caught:
        _load(MERCATO_DATABASE_POOL_SIZE="0")
    assert str(caught.value).startswith("MERCATO_DATABASE_POOL_SIZE: ")
