"""Options of `mercato up`: flags, then MERCATO_* variables, then defaults; replicas."""

from __future__ import annotations

from pathlib import Path

import pytest

from mercato.chassis.events.names import DEFAULT_NAMESPACE
from mercato.launcher.announce import announcement
from mercato.launcher.errors import LauncherError
from mercato.launcher.options import CARRIER, build_layout, parse_replicas
from mercato.launcher.topology import MAX_REPLICAS, SERVICES, SIMULATED_CARRIER_SECONDS, Layout


def test_replicas_accept_several_items_and_commas() -> None:
    assert parse_replicas(["catalog=3", "users=2,auth=1"]) == {
        "catalog": 3,
        "users": 2,
        "auth": 1,
    }


def test_all_gives_every_service_including_the_gateway_that_count() -> None:
    counts = parse_replicas(["all=2"])

    assert counts == {svc.name: 2 for svc in SERVICES}
    assert counts["gateway"] == 2


@pytest.mark.parametrize(
    "items", [["all=2,catalog=3"], ["catalog=3", "all=2"], ["catalog=3,all=2"]]
)
def test_a_service_named_beside_all_keeps_its_own_count_whatever_the_order(
    items: list[str],
) -> None:
    counts = parse_replicas(items)

    assert counts["catalog"] == 3
    assert {name: n for name, n in counts.items() if name != "catalog"} == {
        svc.name: 2 for svc in SERVICES if svc.name != "catalog"
    }


def test_the_gateway_may_have_replicas_on_ports_of_their_own() -> None:
    layout = Layout(port=8000, replicas=parse_replicas(["gateway=2"]))

    ports = layout.ports()
    assert ports[8000] == "gateway-1"
    assert ports[8001] == "gateway-2"
    assert ports[8101] == "gateway-2 (operator)"
    assert len(ports) == len(set(ports))  # no port given twice


def test_every_service_at_the_most_replicas_keeps_every_port_apart() -> None:
    layout = Layout(port=8000, replicas=parse_replicas([f"all={MAX_REPLICAS}"]), observe=True)

    instances = layout.all_instances()
    assert len(instances) == len(SERVICES) * MAX_REPLICAS
    # Every instance and operator port is listed once: none was overwritten by another.
    # operators, nats, the mail sink, prometheus
    assert len(layout.ports()) == len(instances) + MAX_REPLICAS + 3


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("catalog", "--replicas: expected SERVICE=N, got 'catalog'"),
        ("shop=2", "--replicas: unknown service 'shop'"),
        ("everything=2", "--replicas: unknown service 'everything'"),
        ("all", "--replicas: expected SERVICE=N, got 'all'"),
        ("all=x", "--replicas: all needs a whole number of replicas, got 'x'"),
        ("all=0", "--replicas: all replicas must be between 1 and 9, got 0"),
        ("all=10,catalog=2", "--replicas: all replicas must be between 1 and 9, got 10"),
        ("catalog=two", "--replicas: catalog needs a whole number of replicas, got 'two'"),
        ("catalog=0", "--replicas: catalog replicas must be between 1 and 9, got 0"),
        ("catalog=10", "--replicas: catalog replicas must be between 1 and 9, got 10"),
    ],
)
def test_bad_replicas_give_one_line_naming_the_problem(item: str, expected: str) -> None:
    with pytest.raises(LauncherError) as caught:
        parse_replicas([item])

    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_defaults() -> None:
    layout = build_layout(environ={})

    assert layout.port == 8000
    assert layout.data_dir == Path(".mercato").resolve()
    assert layout.replicas == {}
    assert layout.embedded_broker
    assert layout.bus_namespace == DEFAULT_NAMESPACE
    assert layout.demo


def test_variables_are_used_when_no_flag_is_given(tmp_path: Path) -> None:
    environ = {
        "MERCATO_PORT": "9000",
        "MERCATO_DATA_DIR": str(tmp_path),
        "MERCATO_REPLICAS": "catalog=3,users=2",
        "MERCATO_BROKER_URL": "nats://elsewhere:4222",
        "MERCATO_BUS_NAMESPACE": "shop_b",
    }

    layout = build_layout(environ=environ, demo=False)

    assert layout.port == 9000
    assert layout.data_dir == tmp_path
    assert layout.replicas == {"catalog": 3, "users": 2}
    assert layout.broker_url == "nats://elsewhere:4222"
    assert layout.bus_namespace == "shop_b"
    assert not layout.demo


def test_flags_win_over_variables(tmp_path: Path) -> None:
    environ = {"MERCATO_PORT": "9000", "MERCATO_REPLICAS": "catalog=3,users=2"}

    layout = build_layout(
        port=7000, data_dir=str(tmp_path), replicas=["catalog=2"], environ=environ
    )

    assert layout.port == 7000
    assert layout.data_dir == tmp_path
    assert layout.replicas == {"catalog": 2, "users": 2}


def test_all_in_the_variable_and_a_flag_for_one_service(tmp_path: Path) -> None:
    environ = {"MERCATO_REPLICAS": "all=2"}

    layout = build_layout(data_dir=str(tmp_path), replicas=["orders=3"], environ=environ)

    assert layout.count("orders") == 3
    assert layout.count("gateway") == 2
    assert {layout.count(svc.name) for svc in SERVICES if svc.name != "orders"} == {2}


def test_all_in_a_flag_wins_over_the_variable_per_service(tmp_path: Path) -> None:
    environ = {"MERCATO_REPLICAS": "catalog=3"}

    layout = build_layout(data_dir=str(tmp_path), replicas=["all=2"], environ=environ)

    assert {layout.count(svc.name) for svc in SERVICES} == {2}


@pytest.mark.parametrize(
    ("environ", "port", "expected"),
    [
        ({"MERCATO_PORT": "abc"}, None, "MERCATO_PORT: must be a port number, got 'abc'"),
        ({}, 65500, "--port: must be between 1 and 65293, got 65500"),
        ({"MERCATO_REPLICAS": "catalog=x"}, None, "MERCATO_REPLICAS: catalog needs a whole"),
        ({"MERCATO_REPLICAS": "all=12"}, None, "MERCATO_REPLICAS: all replicas must be between"),
        ({"MERCATO_BUS_NAMESPACE": "shop.b"}, None, "MERCATO_BUS_NAMESPACE: namespace 'shop.b'"),
        ({"MERCATO_BUS_NAMESPACE": "amq"}, None, "MERCATO_BUS_NAMESPACE: namespace 'amq'"),
        ({CARRIER: "soon"}, None, f"{CARRIER}: must be seconds from 0 to 86400, got 'soon'"),
        ({CARRIER: "-1"}, None, f"{CARRIER}: must be seconds from 0 to 86400, got '-1'"),
        ({CARRIER: "nan"}, None, f"{CARRIER}: must be seconds from 0 to 86400, got 'nan'"),
        ({CARRIER: "86401"}, None, f"{CARRIER}: must be seconds from 0 to 86400"),
    ],
)
def test_bad_values_name_their_source(
    environ: dict[str, str], port: int | None, expected: str
) -> None:
    with pytest.raises(LauncherError, match=f"^{expected}"):
        build_layout(port=port, environ=environ)


def test_the_simulated_carrier_is_ours_unless_the_operator_sets_it() -> None:
    """Shipping's simulated carrier moves a demo's shipments; a benchmark turns it off."""

    def carrier(environ: dict[str, str]) -> str:
        layout = build_layout(environ=environ)
        shipping = next(i for i in layout.all_instances() if i.service.name == "shipping")
        return layout.env(shipping)[CARRIER]

    assert carrier({}) == str(SIMULATED_CARRIER_SECONDS)
    assert carrier({CARRIER: "0"}) == "0"
    assert carrier({CARRIER: " 2.5 "}) == "2.5"


def test_the_announcement_names_every_gateway_and_service_replica() -> None:
    layout = Layout(port=8000, replicas=parse_replicas(["all=2"]))

    lines = announcement(layout, 1.0).lines

    gateway = next(line for line in lines if line.strip().startswith("gateway"))
    assert gateway.split() == ["gateway", "http://127.0.0.1:8000", "(replicas", "on", "8001)"]
    catalog = next(line for line in lines if line.strip().startswith("catalog"))
    assert catalog.endswith("(replicas on 8131)")
