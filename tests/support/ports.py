"""Ports for the systems the tests start: free now, and below the kernel's ephemeral range.

A test picks its ports, checks that nothing listens there, and its processes bind them
seconds (the container suite's edge: minutes) later. Meanwhile any outgoing connection
on the host may take a port of the kernel's ephemeral range (Linux: 32768-60999) as
its local end, and the listener then fails with "address already in use". CI runs
`make test` and the container suite side by side, with hundreds of connections to
PostgreSQL, NATS and each other: it happened to the TLS system and to the container
suite's edge. So every port comes from below that range: the container suite's from
10000-19999, the launcher's systems (whose gateway port P fixes every other port, up
to P + 300) from 20000 up.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Mapping
from pathlib import Path

from mercato.launcher.ports import port_is_free
from mercato.launcher.topology import Layout

__all__ = ["SYSTEMS_HIGH", "SYSTEMS_LOW", "ephemeral_low", "free_base_port", "free_port"]

SYSTEMS_LOW = 20000  # the launcher's systems choose from here up...
SYSTEMS_HIGH = 40000  # ...to here at most, and never into the ephemeral range
CONTAINERS_LOW = 10000  # the container suite's published port: 10000-19999
TRIES = 200


def ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux's default: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _kernel_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_port(low: int = CONTAINERS_LOW, high: int = SYSTEMS_LOW) -> int:
    """One port in [low, high) below the ephemeral range that nothing listens on."""
    candidates = range(low, min(high, ephemeral_low()))
    if not candidates:  # an odd kernel range: let the kernel choose
        return _kernel_port()
    rng = random.Random()
    for _ in range(TRIES):
        port = rng.choice(candidates)
        if port_is_free(port):
            return port
    raise RuntimeError(f"no free port found in {low}-{high}")


def free_base_port(replicas: Mapping[str, int] | None = None) -> int:
    """A gateway port P for `mercato up` whose every derived port is free.

    The layout is checked with `--observe`'s Prometheus port too (a superset of the
    ports of a system without it), and with the given replicas.
    """
    rng = random.Random()
    for _ in range(TRIES):
        base = rng.randrange(SYSTEMS_LOW, SYSTEMS_HIGH)
        layout = Layout(port=base, replicas=dict(replicas or {}), observe=True)
        ports = layout.ports()
        if max(ports) >= ephemeral_low() > SYSTEMS_LOW + 1000:
            continue  # reaches into the ephemeral range (unless the kernel's is odd)
        if all(port_is_free(port) for port in ports):
            return base
    raise RuntimeError("no free range of ports found for a system")
