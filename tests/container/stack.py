"""deploy/compose.yaml run by podman-compose: bring it up, look at it, break it, remove it.

`Stack` is one compose project (its own name, volumes and network) in production mode:
random secrets, the images of `tests.container.images`, and only the edge's port
published, on 127.0.0.1 at a free port below the kernel's ephemeral range
(`tests.support.ports.free_port`). A small override (written next to nothing of the
repository: a temporary file) gives orders and payments the short saga timings of the
e2e system (`tests.e2e.system.RECOVERY_ENV`), so that the e2e invariants' timeouts
hold here too.

Start-up follows compose's health order: podman 4.3 (Debian's) has no `podman wait
--condition=healthy`, so podman-compose ignores `condition: service_healthy`, and
podman runs health checks from systemd timers, which a container host without systemd
lacks. `up` therefore starts the services a level of `depends_on` at a time, each
level once the previous one passes its health checks (`podman healthcheck run`, the
compose file's own check), which is the order Docker Compose follows by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.container.images import ROOT, Images, podman, podman_env
from tests.e2e.client import ADMIN_PASSWORD
from tests.e2e.system import RECOVERY_ENV
from tests.support.ports import free_port

__all__ = [
    "ADMIN_EMAIL",
    "COMPOSE_FILE",
    "MERCATO",
    "SERVICES",
    "Stack",
    "free_port",
    "mercato_services",
]

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
HEALTH_TIMEOUT = 240.0  # one level of the start-up (PostgreSQL's first start, migrations)
# Not the e2e system's admin@example.com: production refuses a password that holds
# the address' local part ("admin" is in the e2e password).
ADMIN_EMAIL = "shopkeeper@example.com"
MERCATO_IMAGE = "${MERCATO_IMAGE"  # how compose names the Mercato image (with a default)


def _variables(images: Images, port: int) -> dict[str, str]:
    """compose's variables: every placeholder of .env.example random, our images, the port."""
    found: dict[str, str] = {}
    for line in (ROOT / "deploy" / ".env.example").read_text().splitlines():
        name, _, value = line.partition("=")
        if not name or name.startswith("#"):
            continue
        # A letter first: nats-server reads a `$VARIABLE` as a value of its own syntax,
        # and a password that starts with digits is taken for a number and refused.
        found[name] = "k" + secrets.token_hex(24) if value == "dev-change-me" else value
    found.update(images)
    found.update(
        MERCATO_ENV="production",
        MERCATO_ADMIN_EMAIL=ADMIN_EMAIL,
        MERCATO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        MERCATO_PUBLIC_ADDRESS="127.0.0.1",
        MERCATO_PUBLIC_PORT=str(port),
    )
    return found


def mercato_services(spec: dict[str, Any]) -> list[str]:
    """The compose file's Mercato services: those run from the Mercato image.

    Read from the file, not listed here, so that a service added to compose is
    covered by every test without a change to the suite.
    """
    return sorted(
        name
        for name, service in spec["services"].items()
        if str(service.get("image", "")).startswith(MERCATO_IMAGE)
    )


# Every service of the compose file, and those of them run from the Mercato image.
SERVICES = sorted(yaml.safe_load(COMPOSE_FILE.read_text())["services"])
MERCATO = mercato_services(yaml.safe_load(COMPOSE_FILE.read_text()))


def _subnet() -> str:
    """A /24 of 10.213.0.0/16 that no podman network on this host uses now."""
    taken = podman("network", "ls", "--format", "{{range .Subnets}}{{.Subnet}} {{end}}")
    while True:
        subnet = f"10.213.{secrets.randbelow(256)}.0/24"
        if subnet not in taken.split():
            return subnet


def _addresses(spec: dict[str, Any], subnet: str) -> dict[str, str]:
    """A fixed address for every service of one container (not the replicated ones)."""
    prefix = subnet.rsplit(".", 1)[0]
    single = [
        name
        for name, service in sorted(spec["services"].items())
        if int(service.get("deploy", {}).get("replicas", 1)) == 1
    ]
    return {name: f"{prefix}.{10 + index}" for index, name in enumerate(single)}


def _fixed(address: str) -> dict[str, str]:
    """A fixed address and a MAC of its own (locally administered, from the address).

    The same MAC after a restart: a container started again keeps its address, and
    with a new MAC its neighbours' ARP caches would send to the old one for half a
    minute (PostgreSQL stopped and started: every service ready 36-39 s after it).
    """
    octets = ":".join(f"{int(part):02x}" for part in address.split("."))
    return {"ipv4_address": address, "mac_address": f"02:42:{octets}"}


def _override(spec: dict[str, Any], subnet: str) -> dict[str, Any]:
    """The e2e timings for the Mercato services; the stack's names in every /etc/hosts.

    Names are not left to aardvark-dns (podman's DNS server): on this host it stops
    answering a container for seconds at a time (deploy/README.md, the container
    suite's figures), longer than a service's call budget. Each one-container service
    gets a fixed address on a subnet of the project's own, and every container finds
    those in its /etc/hosts (`extra_hosts`), which glibc reads before any DNS server.
    Only the gateway replicas (two containers behind one name, which HAProxy resolves
    through its own `resolvers` section) stay on DNS: dynamic addresses, from the top
    half of the subnet, which the fixed ones (.10 upwards) never reach.
    """
    addresses = _addresses(spec, subnet)
    hosts = [f"{name}:{address}" for name, address in addresses.items()]
    services: dict[str, Any] = {}
    for name in spec["services"]:
        service: dict[str, Any] = {"extra_hosts": hosts}
        if name in addresses:
            service["networks"] = {"default": _fixed(addresses[name])}
        if name in mercato_services(spec):
            service["environment"] = dict(RECOVERY_ENV)
        services[name] = service
    pool = subnet.rsplit(".", 1)[0] + ".128/25"
    return {
        "services": services,
        "networks": {"default": {"ipam": {"config": [{"subnet": subnet, "ip_range": pool}]}}},
    }


def _levels(services: dict[str, Any]) -> list[list[str]]:
    """The services in start-up order: each level depends only on the levels before."""
    placed: list[str] = []
    levels: list[list[str]] = []
    while len(placed) < len(services):
        level = sorted(
            name
            for name, spec in services.items()
            if name not in placed and set(spec.get("depends_on", {})) <= set(placed)
        )
        if not level:
            raise RuntimeError(f"a depends_on cycle among {set(services) - set(placed)}")
        levels.append(level)
        placed += level
    return levels


@dataclass
class Stack:
    """One compose project of deploy/compose.yaml under podman."""

    images: Images
    project: str = field(default_factory=lambda: f"mercato-ct-{secrets.token_hex(3)}")
    port: int = field(default_factory=free_port)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.variables = _variables(self.images, self.port)
        self.spec: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
        handle, name = tempfile.mkstemp(prefix="mercato-compose-", suffix=".yaml")
        with os.fdopen(handle, "w") as file:
            yaml.safe_dump(_override(self.spec, _subnet()), file)
        self.override = Path(name)

    @property
    def base_url(self) -> str:
        """The published edge (HAProxy in front of the gateway replicas)."""
        return f"http://127.0.0.1:{self.port}"

    # -- compose ----------------------------------------------------------------------

    def compose(self, *args: str, timeout: float = 600) -> str:
        """Run podman-compose on the project; its output (an error when it fails)."""
        command = [
            str(Path(sys.executable).parent / "podman-compose"),
            "-p",
            self.project,
            "-f",
            str(COMPOSE_FILE),
            "-f",
            str(self.override),
            *args,
        ]
        done = subprocess.run(
            command,
            env={**podman_env(), **self.variables},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT / "deploy",
        )
        self.log.append(f"$ podman-compose {' '.join(args)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise RuntimeError(f"podman-compose {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def up(self) -> None:
        """Start every service, a level of depends_on at a time, each once healthy."""
        for level in _levels(self.spec["services"]):
            self.compose("up", "-d", "--no-deps", *level)
            for service in level:
                for container in self.containers(service):
                    self.wait_healthy(container, HEALTH_TIMEOUT)

    def down(self) -> None:
        """Remove every container, network and volume of the project, whatever happened."""
        with contextlib.suppress(Exception):
            self.compose("down", "-v", "-t", "5", timeout=300)
        label = f"label=io.podman.compose.project={self.project}"
        for kind in ("container", "pod"):
            names = podman(
                kind,
                "ls",
                "-a" if kind == "container" else "--noheading",
                "--filter",
                label,
                "--format",
                "{{.Names}}" if kind == "container" else "{{.Name}}",
                check=False,
            ).split()
            for name in names:
                podman(kind, "rm", "-f", name, check=False)
        for volume in podman(
            "volume", "ls", "--filter", label, "--format", "{{.Name}}", check=False
        ).split():
            podman("volume", "rm", "-f", volume, check=False)
        podman("network", "rm", "-f", f"{self.project}_default", check=False)
        self.override.unlink(missing_ok=True)

    # -- containers ---------------------------------------------------------------------

    def containers(self, service: str) -> list[str]:
        """The names of a service's containers (one per replica), running or not."""
        out = podman(
            "ps",
            "-a",
            "--filter",
            f"label=io.podman.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
            "--format",
            "{{.Names}}",
        )
        return sorted(out.split())

    def container(self, service: str) -> str:
        """The first container of a service."""
        found = self.containers(service)
        assert found, f"no container for {service}"
        return found[0]

    def inspect(self, container: str) -> dict[str, Any]:
        """`podman inspect` of one container."""
        found: list[dict[str, Any]] = json.loads(podman("inspect", container))
        return found[0]

    def pid(self, container: str) -> int:
        """The host pid of the container's main process (0 when it is not running)."""
        return int(self.inspect(container)["State"]["Pid"])

    def healthy(self, container: str) -> bool:
        """Whether the container runs and passes its compose health check now (if any)."""
        state = self.inspect(container)["State"]
        if state.get("Status") != "running":
            return False
        if not self.inspect(container)["Config"].get("Healthcheck"):
            return True
        done = subprocess.run(
            ["podman", "healthcheck", "run", container],
            env=podman_env(),
            capture_output=True,
            check=False,
            timeout=30,
        )
        return done.returncode == 0

    def wait_healthy(self, container: str, timeout: float) -> float:
        """Wait until the container is healthy; the seconds it took."""
        started = time.monotonic()
        while not self.healthy(container):
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"{container} not healthy within {timeout:.0f} s; its log:\n"
                    + self.logs(container)[-4000:]
                )
            time.sleep(1.0)
        return time.monotonic() - started

    def logs(self, container: str, since: float | None = None) -> str:
        """What a container wrote (since a Unix time, when given)."""
        args = ["logs"] + (["--since", f"{since:.3f}"] if since is not None else [])
        done = subprocess.run(
            ["podman", *args, container],
            env=podman_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return done.stdout + done.stderr

    def crash(self, container: str) -> int:
        """SIGKILL the container's main process from the host, as a crash would; its pid."""
        pid = self.pid(container)
        assert pid > 0, f"{container} is not running"
        os.kill(pid, 9)
        return pid

    def stop(self, container: str) -> None:
        """Stop a container the way an operator does (its stop signal, then SIGKILL)."""
        podman("stop", "-t", "10", container)

    def start(self, container: str) -> None:
        """Start a stopped container again."""
        podman("start", container)

    def wait_restarted(self, container: str, old_pid: int, timeout: float) -> float:
        """Wait until the restart policy has brought the container back, healthy; seconds."""
        started = time.monotonic()
        while True:
            with contextlib.suppress(RuntimeError):
                pid = self.pid(container)
                if pid not in (0, old_pid) and self.healthy(container):
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{container} not back within {timeout:.0f} s")
            time.sleep(0.5)

    def keep(self, path: Path) -> None:
        """Write what `attach` needs to find this stack again (variables hold secrets)."""
        path.write_text(
            json.dumps(
                {
                    "project": self.project,
                    "port": self.port,
                    "variables": self.variables,
                    "override": str(self.override),
                    "images": self.images,
                }
            )
        )
        path.chmod(0o600)

    @classmethod
    def attach(cls, path: Path) -> Stack:
        """The stack `keep` described."""
        kept = json.loads(path.read_text())
        stack = cls(images=kept["images"], project=kept["project"], port=kept["port"])
        stack.override.unlink()
        stack.variables, stack.override = kept["variables"], Path(kept["override"])
        return stack

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        """Up for the block, down after it (even when it fails)."""
        try:
            self.up()
            yield self
        finally:
            self.down()
