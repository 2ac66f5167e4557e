"""Unit tests of the broker settings of a cluster: the server list and the event replicas.

`MERCATO_BROKER_URL` may list a NATS cluster's servers, comma-separated (RabbitMQ
takes one URL), and `MERCATO_EVENT_REPLICAS` (1 to 5) says how many copies of each
event the broker keeps: the replicas of the JetStream streams, the initial members of
RabbitMQ's quorum queues and streams. A bad value is a one-line error naming the
variable that never shows a URL (it may hold a password).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mercato.chassis.config import ServiceSettings, SettingsError, load_settings
from mercato.chassis.events.broker_urls import (
    NatsLogin,
    check_broker_url,
    nats_login,
    shown_servers,
)
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.events.rabbit.topology import Features, Topology
from mercato.chassis.events.transports import connect_bus
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.security.production_secrets import url_password
from mercato.launcher.console import without_password

CLUSTER = "nats://a.internal:4222,nats://b.internal:4222,nats://c.internal:4222"
SECRET = "S3cret-broker-password-42"
WEEK = timedelta(days=7)


def _load(**environ: str) -> ServiceSettings:
    return load_settings(ServiceSettings, "orders", environ)


def _error(**environ: str) -> str:
    with pytest.raises(SettingsError) as caught:
        _load(**environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- MERCATO_EVENT_REPLICAS ----------------------------------------------------------


def test_the_event_replicas_are_one_unless_set_and_a_service_may_have_its_own() -> None:
    assert _load().event_replicas == 1
    assert _load(MERCATO_EVENT_REPLICAS="3").event_replicas == 3
    assert _load(MERCATO_EVENT_REPLICAS=" 5 ").event_replicas == 5
    own = _load(MERCATO_EVENT_REPLICAS="3", MERCATO_ORDERS_EVENT_REPLICAS="1")
    assert own.event_replicas == 1


@pytest.mark.parametrize("value", ["0", "6", "-1", "three", "2.5", "", "3 replicas"])
def test_bad_event_replicas_are_a_one_line_error_naming_the_variable(value: str) -> None:
    message = _error(MERCATO_EVENT_REPLICAS=value)
    assert message.startswith("MERCATO_EVENT_REPLICAS: must be a whole number from 1 to 5")
    assert f"(got {value!r})" in message


@pytest.mark.parametrize(
    ("url", "kind"), [(CLUSTER, NatsBus), ("amqp://guest:guest@rabbit:5672/", RabbitBus)]
)
def test_the_runtime_gives_its_bus_the_configured_replicas(url: str, kind: type) -> None:
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(
        name="orders", title="Orders", uses_database=False
    )
    runtime = Runtime(spec, _load(MERCATO_BROKER_URL=url, MERCATO_EVENT_REPLICAS="3"))
    bus = runtime.bus
    assert isinstance(bus, NatsBus | RabbitBus) and isinstance(bus, kind)
    assert bus.replicas == 3


# -- MERCATO_BROKER_URL -------------------------------------------------------------------


def test_a_nats_url_may_list_a_clusters_servers() -> None:
    assert _load(MERCATO_BROKER_URL=CLUSTER).broker_url == CLUSTER
    spaced = "nats://a.internal:4222, nats://b.internal:4222 ,tls://c.internal:4222"
    assert check_broker_url(spaced) == (
        "nats://a.internal:4222,nats://b.internal:4222,tls://c.internal:4222"
    )
    assert check_broker_url("") == ""  # no broker at all


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (
            f"amqp://u:{SECRET}@r1:5672/,amqp://u:{SECRET}@r2:5672/",
            "RabbitMQ takes one URL, not a list: reach a cluster through one address",
        ),
        (f"nats://u:{SECRET}@a:4222,amqp://u:{SECRET}@r:5672/", "mixes NATS and RabbitMQ"),
        (f"nats://u:{SECRET}@a:4222,,nats://u:{SECRET}@b:4222", "an empty entry"),
        (f"nats://u:{SECRET}@a:4222,", "an empty entry"),
        (f"redis://u:{SECRET}@a:6379", "unsupported broker URL scheme 'redis'"),
        (f"nats://u:{SECRET}@a:4222,b:4222", "unsupported broker URL scheme"),  # no scheme
        (f"nats://u:{SECRET}@:4222", "a nats:// server without a host"),
        (f"nats://u:{SECRET}@a:99999", "Port out of range"),
        (f"nats://u:{SECRET}@a:4222,nats://v:{SECRET}@b:4222", "different credentials"),
    ],
)
def test_an_unusable_broker_url_is_a_one_line_error_without_the_url(url: str, why: str) -> None:
    message = _error(MERCATO_BROKER_URL=url)
    assert message.startswith("MERCATO_BROKER_URL: ")
    assert why in message
    assert SECRET not in message and "@" not in message


def test_connect_bus_refuses_a_rabbitmq_list_too() -> None:
    with pytest.raises(ValueError, match="RabbitMQ takes one URL"):
        connect_bus("amqp://r1:5672/,amqp://r2:5672/", service="orders")
    with pytest.raises(ValueError, match="RabbitMQ takes one URL"):
        RabbitBus("amqp://r1:5672/,amqp://r2:5672/", service="orders")


def test_nats_gets_the_servers_without_credentials_and_the_credentials_once() -> None:
    url = f"nats://orders:{SECRET}@a:4222,nats://b:4222,nats://orders:{SECRET}@[::1]:4222"
    assert nats_login(url) == NatsLogin(
        ["nats://a:4222", "nats://b:4222", "nats://[::1]:4222"], user="orders", password=SECRET
    )
    assert nats_login(f"nats://a:4222,tls://orders:{SECRET}@b:4222").user == "orders"
    assert nats_login("nats://s3cr3t-token@a:4222") == NatsLogin(
        ["nats://a:4222"], token="s3cr3t-token"
    )
    assert nats_login(CLUSTER) == NatsLogin(CLUSTER.split(","))


def test_what_is_shown_of_a_list_carries_no_password() -> None:
    url = f"nats://orders:{SECRET}@a:4222,nats://orders:{SECRET}@b:4222"
    assert shown_servers(url) == "a:4222,b:4222"
    bus = NatsBus(url, service="orders")
    with pytest.raises(Exception, match="a:4222,b:4222") as caught:
        _ = bus.js  # not connected: the error names the servers
    assert SECRET not in str(caught.value)
    assert without_password(url) == "nats://orders:***@a:4222,nats://orders:***@b:4222"
    assert without_password(CLUSTER) == CLUSTER


def test_production_refuses_a_placeholder_password_in_any_server_of_a_list() -> None:
    assert url_password(f"nats://a:4222,nats://orders:{SECRET}@b:4222") == SECRET
    assert url_password("postgresql://app:pw@db1:5432,db2:5432/shop") == "pw"  # multi-host
    assert url_password(CLUSTER) is None
    message = _error(
        MERCATO_ENV="production",
        MERCATO_BROKER_URL="nats://a:4222,nats://orders:dev-changeme@b:4222",
    )
    assert message.startswith("MERCATO_BROKER_URL: the password in the URL")


# -- RabbitMQ: the replicas of the queues ------------------------------------------------


def _topology(replicas: int | None, version: tuple[int, ...] = (3, 13)) -> Topology:
    return Topology("MERCATO", Features(version), delivery_limit=20, replicas=replicas)


@pytest.mark.parametrize("replicas", [1, None])
def test_on_one_node_the_queues_are_as_they_always_were(replicas: int | None) -> None:
    topology = _topology(replicas)
    assert topology.consumer_arguments("orders")["x-queue-type"] == "quorum"
    assert "x-quorum-initial-group-size" not in topology.consumer_arguments("orders")
    assert topology.dead_letter_arguments() == {"x-queue-type": "classic"}
    assert "x-initial-cluster-size" not in topology.stream_arguments(WEEK)


def test_replicated_every_queue_starts_with_that_many_members() -> None:
    topology = _topology(3)
    consumer: dict[str, Any] = topology.consumer_arguments("orders")
    assert consumer["x-queue-type"] == "quorum"
    assert consumer["x-quorum-initial-group-size"] == 3
    retry = topology.retry_arguments("orders", 1000)
    assert (retry["x-queue-type"], retry["x-quorum-initial-group-size"]) == ("quorum", 3)
    # The dead letters too: a classic queue lives on one node only.
    assert topology.dead_letter_arguments() == {
        "x-queue-type": "quorum",
        "x-quorum-initial-group-size": 3,
    }
    assert topology.stream_arguments(WEEK)["x-initial-cluster-size"] == 3


def test_a_server_without_quorum_queues_replicates_nothing() -> None:
    topology = _topology(3, (3, 7))
    assert not topology.replicated
    assert topology.consumer_arguments("orders") == {"x-queue-type": "classic"}
    assert topology.dead_letter_arguments() == {"x-queue-type": "classic"}
