"""Port checks before anything starts."""

from __future__ import annotations

import socket

import pytest

from mercato.launcher.errors import LauncherError
from mercato.launcher.ports import check_ports, port_is_free


def test_a_listening_port_is_busy_and_a_closed_one_free() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        assert not port_is_free(port)
    assert port_is_free(port)


def test_check_names_the_busy_port_and_its_owner() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        with pytest.raises(LauncherError, match=f"^port {port} \\(for users-1\\) is already"):
            check_ports({port: "users-1"})


@pytest.mark.parametrize("port", [3306, 4222, 5432, 5672, 6379])
def test_standard_ports_of_common_servers_are_refused(port: int) -> None:
    with pytest.raises(LauncherError, match=f"^port {port} \\(auth-1\\) is the standard"):
        check_ports({port: "auth-1"})
