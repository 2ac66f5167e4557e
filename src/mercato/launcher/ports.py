"""Checking, before anything starts, that every port the system needs is free.

Mercato's ports (P, P+110..P+170 and replicas, P+242, and P+290 with `--observe`)
are chosen so that with the default P = 8000 none is the standard port of a server a
developer is likely to run (PostgreSQL, Redis, RabbitMQ, NATS, MariaDB, a Prometheus
and its node exporter); with another P the same ports are refused up front rather
than fought over.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

from mercato.launcher.errors import LauncherError

__all__ = ["STANDARD_PORTS", "check_ports", "port_is_free"]

STANDARD_PORTS: dict[int, str] = {
    3306: "MariaDB/MySQL",
    4222: "NATS",
    5432: "PostgreSQL",
    5672: "RabbitMQ",
    6222: "NATS cluster",
    6379: "Redis",
    8222: "NATS monitoring",
    9090: "Prometheus",
    9100: "Prometheus node exporter",
    15672: "RabbitMQ management",
}


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `host:port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn and nats-server do, so that TIME_WAIT leftovers do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_ports(ports: Mapping[int, str], host: str = "127.0.0.1") -> None:
    """Raise a one-line LauncherError naming the first reserved or busy port."""
    for port, owner in sorted(ports.items()):
        if port in STANDARD_PORTS:
            raise LauncherError(
                f"port {port} ({owner}) is the standard {STANDARD_PORTS[port]} port;"
                " choose another --port"
            )
    for port, owner in sorted(ports.items()):
        if not port_is_free(port, host):
            raise LauncherError(
                f"port {port} (for {owner}) is already in use; stop what listens there"
                " or choose another --port"
            )
