"""Options of `mercato up`: flags, then MERCATO_* variables, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from mercato.chassis.events.names import DEFAULT_NAMESPACE
from mercato.launcher.errors import LauncherError
from mercato.launcher.options import build_layout, parse_replicas


def test_replicas_accept_several_items_and_commas() -> None:
    assert parse_replicas(["catalog=3", "users=2,auth=1"]) == {
        "catalog": 3,
        "users": 2,
        "auth": 1,
    }


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("catalog", "--replicas: expected SERVICE=N, got 'catalog'"),
        ("shop=2", "--replicas: unknown service 'shop'"),
        ("gateway=2", "--replicas: unknown service 'gateway'"),
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


@pytest.mark.parametrize(
    ("environ", "port", "expected"),
    [
        ({"MERCATO_PORT": "abc"}, None, "MERCATO_PORT: must be a port number, got 'abc'"),
        ({}, 65500, "--port: must be between 1 and 65293, got 65500"),
        ({"MERCATO_REPLICAS": "catalog=x"}, None, "MERCATO_REPLICAS: catalog needs a whole"),
        ({"MERCATO_BUS_NAMESPACE": "shop.b"}, None, "MERCATO_BUS_NAMESPACE: namespace 'shop.b'"),
        ({"MERCATO_BUS_NAMESPACE": "amq"}, None, "MERCATO_BUS_NAMESPACE: namespace 'amq'"),
    ],
)
def test_bad_values_name_their_source(
    environ: dict[str, str], port: int | None, expected: str
) -> None:
    with pytest.raises(LauncherError, match=f"^{expected}"):
        build_layout(port=port, environ=environ)
