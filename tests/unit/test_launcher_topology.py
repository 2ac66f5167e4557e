"""The topology: ports, start order, and the environment each process gets."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from mercato.launcher.topology import SERVICES, Layout, service, stages

SECRETS = {"auth": "s-auth", "users": "s-users", "catalog": "s-catalog", "gateway": "s-gw"}


def layout(**changes: object) -> Layout:
    values: dict[str, object] = {
        "port": 8000,
        "data_dir": Path("/data"),
        "replicas": {},
        "secrets": SECRETS,
    }
    values.update(changes)
    return Layout(**values)  # type: ignore[arg-type]


def test_default_ports_follow_the_conventions() -> None:
    ports = layout().ports()

    assert ports == {
        8000: "gateway-1",
        8100: "gateway-1 (operator)",
        8110: "auth-1",
        8120: "users-1",
        8130: "catalog-1",
        8140: "orders-1",
        8150: "payments-1",
        8160: "logs-1",
        8170: "web-1",
        8180: "shipping-1",
        8190: "notifications-1",
        8225: "mail",
        8242: "nats",
    }


def test_replicas_take_consecutive_ports() -> None:
    lay = layout(port=20000, replicas={"catalog": 3})

    instances = lay.instances(service("catalog"))

    assert [(i.name, i.port) for i in instances] == [
        ("catalog-1", 20130),
        ("catalog-2", 20131),
        ("catalog-3", 20132),
    ]


def test_start_order_is_auth_then_the_services_then_orders_then_web_then_gateway() -> None:
    order = [[s.name for s in stage] for stage in stages()]

    assert order[0] == ["auth"]
    assert set(order[1]) == {"users", "catalog", "payments", "logs", "shipping", "notifications"}
    assert order[2] == ["orders"]
    assert order[3] == ["web"]  # the storefront calls them all
    assert order[-1] == ["gateway"]
    assert len(order) == 5


def test_service_ports_stay_ten_apart() -> None:
    offsets = sorted(s.offset for s in SERVICES)

    assert all(b - a >= 10 for a, b in itertools.pairwise(offsets))


def test_upstreams_list_every_backend_with_replicas_joined_by_a_bar() -> None:
    lay = layout(replicas={"catalog": 2})

    assert lay.upstreams() == (
        "auth=http://127.0.0.1:8110,"
        "users=http://127.0.0.1:8120,"
        "catalog=http://127.0.0.1:8130|http://127.0.0.1:8131,"
        "payments=http://127.0.0.1:8150,"
        "logs=http://127.0.0.1:8160,"
        "shipping=http://127.0.0.1:8180,"
        "notifications=http://127.0.0.1:8190,"
        "orders=http://127.0.0.1:8140,"
        "web=http://127.0.0.1:8170"
    )


def test_notifications_mail_the_sink_unless_an_smtp_server_is_given() -> None:
    notifications = service("notifications")
    [sinking] = layout(port=9000).instances(notifications)
    env = layout(port=9000).env(sinking)
    assert env["MERCATO_NOTIFICATIONS_SMTP_URL"] == "smtp://127.0.0.1:9225"
    assert env["MERCATO_SHOP_URL"] == "http://127.0.0.1:9000"  # its links: this shop
    given = layout(port=9000, mail_server="smtp://mx.example.com:587")
    assert "MERCATO_NOTIFICATIONS_SMTP_URL" not in given.env(given.instances(notifications)[0])
    assert 9225 not in given.ports() and given.ports()[9190] == "notifications-1"


def test_instance_env_names_port_instance_broker_and_secret() -> None:
    lay = layout(port=9000, replicas={"catalog": 2})
    second = lay.instances(service("catalog"))[1]

    env = lay.env(second)

    assert env["MERCATO_CATALOG_PORT"] == "9131"
    assert env["MERCATO_CATALOG_INSTANCE"] == "catalog-2"
    assert env["MERCATO_DATA_DIR"] == "/data"
    assert env["MERCATO_BROKER_URL"] == "nats://127.0.0.1:9242"
    assert env["MERCATO_BUS_NAMESPACE"] == "MERCATO"
    assert env["MERCATO_AUTH_URL"] == "http://127.0.0.1:9110"
    assert env["MERCATO_CATALOG_CLIENT_SECRET"] == "s-catalog"
    assert env["MERCATO_CATALOG_DEMO_DATA"] == "true"
    assert "MERCATO_AUTH_CLIENTS" not in env
    assert "MERCATO_USERS_CLIENT_SECRET" not in env


def test_no_demo_turns_the_demo_catalog_off() -> None:
    lay = layout(demo=False)

    env = lay.env(lay.instances(service("catalog"))[0])

    assert env["MERCATO_CATALOG_DEMO_DATA"] == "false"


def test_auth_gets_every_client_secret() -> None:
    lay = layout()

    env = lay.env(lay.instances(service("auth"))[0])

    clients = dict(item.split(":", 1) for item in env["MERCATO_AUTH_CLIENTS"].split(","))
    assert clients == SECRETS
    assert env["MERCATO_AUTH_PORT"] == "8110"


def test_gateway_gets_the_upstreams() -> None:
    lay = layout(replicas={"users": 2})

    env = lay.env(lay.instances(service("gateway"))[0])

    assert env["MERCATO_GATEWAY_PORT"] == "8000"
    assert env["MERCATO_GATEWAY_UPSTREAMS"] == lay.upstreams()
    assert "users=http://127.0.0.1:8120|http://127.0.0.1:8121" in env["MERCATO_GATEWAY_UPSTREAMS"]


def test_orders_gets_every_catalog_and_payments_instance() -> None:
    lay = layout(replicas={"catalog": 3})

    env = lay.env(lay.instances(service("orders"))[0])

    assert env["MERCATO_ORDERS_CATALOG_URL"] == (
        "http://127.0.0.1:8130,http://127.0.0.1:8131,http://127.0.0.1:8132"
    )
    assert env["MERCATO_ORDERS_PAYMENTS_URL"] == "http://127.0.0.1:8150"


def test_web_gets_every_instance_of_the_services_it_calls() -> None:
    lay = layout(replicas={"catalog": 2, "auth": 2})

    env = lay.env(lay.instances(service("web"))[0])

    assert env["MERCATO_WEB_PORT"] == "8170"
    assert env["MERCATO_WEB_CATALOG_URL"] == "http://127.0.0.1:8130,http://127.0.0.1:8131"
    assert env["MERCATO_WEB_AUTH_API_URL"] == "http://127.0.0.1:8110,http://127.0.0.1:8111"
    assert env["MERCATO_AUTH_URL"] == "http://127.0.0.1:8110"  # the JWKS: one instance
    for name, port in [("USERS", 8120), ("ORDERS", 8140), ("PAYMENTS", 8150), ("LOGS", 8160)]:
        assert env[f"MERCATO_WEB_{name}_URL"] == f"http://127.0.0.1:{port}"
    assert "MERCATO_BROKER_URL" not in env and "MERCATO_WEB_BROKER_URL" not in env
    # The console watches the gateway on its operator port, and every web instance.
    assert env["MERCATO_WEB_GATEWAY_OPERATOR_URL"] == "http://127.0.0.1:8100"
    assert env["MERCATO_WEB_WEB_URL"] == "http://127.0.0.1:8170"


def test_an_external_broker_replaces_the_embedded_one() -> None:
    lay = layout(external_broker="nats://broker.internal:4222", bus_namespace="shop_b")

    env = lay.env(lay.instances(service("users"))[0])

    assert env["MERCATO_BROKER_URL"] == "nats://broker.internal:4222"
    assert env["MERCATO_BUS_NAMESPACE"] == "shop_b"
    assert not lay.embedded_broker
    assert 8242 not in lay.ports()


def test_on_the_embedded_broker_each_service_connects_as_its_own_user() -> None:
    passwords = {"catalog": "pw-catalog", "logs": "pw-logs"}
    lay = layout(port=9000, broker_passwords=passwords)
    catalog = lay.env(lay.instances(service("catalog"))[0])
    assert catalog["MERCATO_CATALOG_BROKER_URL"] == "nats://catalog:pw-catalog@127.0.0.1:9242"
    assert "MERCATO_BROKER_URL" not in catalog  # no way in without credentials
    logs = lay.env(lay.instances(service("logs"))[0])
    assert logs["MERCATO_LOGS_BROKER_URL"] == "nats://logs:pw-logs@127.0.0.1:9242"
    external = layout(broker_passwords=passwords, external_broker="nats://other:4222")
    env = external.env(external.instances(service("catalog"))[0])
    assert env["MERCATO_BROKER_URL"] == "nats://other:4222"  # a user's own URL, as given
    assert "MERCATO_CATALOG_BROKER_URL" not in env


def test_what_a_service_consumes_is_what_its_handlers_take() -> None:
    """The broker permissions come from `consumes`: it must match the service's code."""
    for svc in SERVICES:
        assert sorted(svc.consumes) == sorted(svc.wiring().spec.handlers), svc.name


@pytest.mark.parametrize("name", [svc.name for svc in SERVICES])
def test_wiring_a_service_imports_that_service_alone(name: str) -> None:
    """A process imports only the service it runs: the launcher wires by name, on demand.

    Each in a fresh interpreter, as `mercato run <service>` starts: an import cycle
    inside a service shows here, whatever order the test session imported it in.
    """
    script = (
        "import sys\n"
        "from mercato.launcher.topology import service\n"
        f"wiring = service({name!r}).wiring()\n"
        "print(wiring.spec.name, *sorted({m.split('.')[1] for m in sys.modules"
        " if m.startswith('mercato.')}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout.split() == [name, *sorted({"chassis", "contracts", "launcher", name})]


def test_the_embedded_broker_keeps_one_copy_of_each_event() -> None:
    embedded = layout(port=9000)
    catalog = embedded.env(embedded.instances(service("catalog"))[0])
    # Per service, so that a MERCATO_EVENT_REPLICAS=3 in the shell (for a cluster) does
    # not ask the one embedded node for three replicas.
    assert catalog["MERCATO_CATALOG_EVENT_REPLICAS"] == "1"
    external = layout(external_broker="nats://a:4222,nats://b:4222,nats://c:4222")
    env = external.env(external.instances(service("catalog"))[0])
    assert env["MERCATO_BROKER_URL"] == "nats://a:4222,nats://b:4222,nats://c:4222"
    assert not any(name.endswith("EVENT_REPLICAS") for name in env)  # the operator's setting
