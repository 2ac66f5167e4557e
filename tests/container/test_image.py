"""The Mercato image as compose runs it: non-root, read-only root, limits, rotated logs."""

from __future__ import annotations

import subprocess

import pytest

from tests.container.images import podman_env
from tests.container.stack import MERCATO, SERVICES, Stack

pytestmark = pytest.mark.container


def exec_in(container: str, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a command in a running container, as its own user."""
    return subprocess.run(
        ["podman", "exec", container, *command],
        env=podman_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.parametrize("service", MERCATO)
def test_every_service_runs_unprivileged_on_a_read_only_root(stack: Stack, service: str) -> None:
    for container in stack.containers(service):
        config = stack.inspect(container)
        assert config["HostConfig"]["ReadonlyRootfs"] is True
        assert exec_in(container, "id", "-u").stdout.strip() == "10001"
        denied = exec_in(container, "touch", "/opt/venv/written")
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr
        # /tmp is the one writable place (a tmpfs), and the process can use it.
        assert exec_in(container, "touch", "/tmp/written").returncode == 0
        # No capability, and no way to gain one (no-new-privileges).
        status = dict(
            line.split(":\t", 1)
            for line in exec_in(container, "cat", "/proc/self/status").stdout.splitlines()
            if ":\t" in line
        )
        assert status["CapEff"].strip() == "0000000000000000", status["CapEff"]
        assert status["NoNewPrivs"].strip() == "1"


@pytest.mark.parametrize("service", SERVICES)
def test_every_container_has_limits_and_a_rotated_log(stack: Stack, service: str) -> None:
    for container in stack.containers(service):
        host = stack.inspect(container)["HostConfig"]
        assert host["Memory"] > 0 and host["NanoCpus"] > 0, host
        assert host["LogConfig"]["Size"] == "10MB", host["LogConfig"]


def test_only_the_edge_is_published_and_only_on_loopback(stack: Stack) -> None:
    published = {}
    for service in stack.spec["services"]:
        for container in stack.containers(service):
            bindings = stack.inspect(container)["HostConfig"].get("PortBindings") or {}
            ports = {port: bound for port, bound in bindings.items() if bound}  # not EXPOSE
            if ports:
                published[service] = ports
    assert list(published) == ["edge"], published
    (bindings,) = published["edge"].values()
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(stack.port)}]


def test_two_gateway_replicas_run_behind_the_edge(stack: Stack) -> None:
    gateways = stack.containers("gateway")
    assert len(gateways) == 2, gateways
    assert all(stack.healthy(gateway) for gateway in gateways)
