"""Fixtures of the identity security tests: a `mercato up` of their own, and clients that
each come from a loopback address of their own.

`identity_system` starts `python -m mercato up` (embedded NATS, SQLite, one instance of
each service) on a free base port with its own data directory, waits for the gateway's
`/health`, and stops it with SIGTERM at the end of the module. It is module-scoped, so
it is down before another module's system starts (two do not fit on two cores).

Throttling is by client address, so each test's clients connect from an address of
their own in 127.0.0.0/8 (Linux routes the whole block to the loopback interface):
`from_address(system, n)` is an httpx client on the gateway whose connections leave
from 127.0.0.n, `direct(system, service, n)` one on a service's own port. What one
test's attacker does to its address never throttles another test's clients.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mercato.launcher.ports import port_is_free
from mercato.launcher.topology import Layout

__all__ = [
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "PASSWORD",
    "IdentitySystem",
    "direct",
    "from_address",
    "identity_system",
    "register",
]

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "Identity-Adm1n-Passw0rd!"
PASSWORD = "Correct-Horse-42"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
SERVICE_OFFSETS = {"auth": 110, "users": 120}


@dataclass
class IdentitySystem:
    """A running `mercato up`."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    def url(self, service: str = "gateway") -> str:
        """The gateway's URL, or a service's own (`auth`, `users`)."""
        port = self.port + SERVICE_OFFSETS.get(service, 0)
        return f"http://127.0.0.1:{port}"

    def log(self) -> str:
        """What the launcher and every service wrote so far."""
        return self.log_path.read_text(errors="replace")


def _free_base_port() -> int:
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        if all(port_is_free(port) for port in Layout(port=base).ports()):
            return base
    raise RuntimeError("no free range of ports for the identity system")


def _wait_healthy(system: IdentitySystem) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=system.url(), timeout=3.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            if system.process.poll() is not None:
                raise RuntimeError(f"`mercato up` exited with {system.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get("/health").status_code == 200:
                    return
            time.sleep(0.25)
    raise RuntimeError(f"the gateway's /health was not 200 within {START_TIMEOUT:.0f} s")


def _stop(system: IdentitySystem) -> int | None:
    if system.process.poll() is None:
        system.process.send_signal(signal.SIGTERM)
    try:
        return system.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        system.process.kill()
        return system.process.wait()


@pytest.fixture(scope="module")
def identity_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentitySystem]:
    """`mercato up` for this module (NATS, SQLite), stopped at its end."""
    root = tmp_path_factory.mktemp("identity")
    port = _free_base_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_")}
    env.update(MERCATO_ADMIN_EMAIL=ADMIN_EMAIL, MERCATO_ADMIN_PASSWORD=ADMIN_PASSWORD)
    command = [sys.executable, "-m", "mercato", "up", "--port", str(port)]
    command += ["--data-dir", str(root / "data"), "--no-demo"]
    log_path = root / "mercato-up.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    system = IdentitySystem(process, port, root / "data", log_path)
    try:
        _wait_healthy(system)
    except BaseException as exc:
        code = _stop(system)
        print(f"--- mercato up (exit {code}) ---\n{system.log()}")
        pytest.fail(f"the identity system did not start: {exc}", pytrace=False)
    yield system
    code = _stop(system)
    if code != 0:
        print(f"--- mercato up (exit {code}) ---\n{system.log()}")
    assert code == 0, f"`mercato up` exited with {code} after SIGTERM"


def _client(base_url: str, host: int) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{host}")
    return httpx.Client(base_url=base_url, transport=transport, timeout=30.0, trust_env=False)


@contextlib.contextmanager
def from_address(system: IdentitySystem, host: int) -> Iterator[httpx.Client]:
    """A client of the gateway whose connections come from 127.0.0.`host`."""
    with _client(system.url(), host) as client:
        yield client


@contextlib.contextmanager
def direct(system: IdentitySystem, service: str, host: int) -> Iterator[httpx.Client]:
    """A client of `service`'s own port (past the gateway) from 127.0.0.`host`."""
    with _client(system.url(service), host) as client:
        yield client


def register(client: httpx.Client, password: str = PASSWORD) -> str:
    """A new customer's email (registered through `client`)."""
    email = f"identity-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": password, "name": "Ada"}
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    return email
