"""Clients of the identity security tests, each from a loopback address of its own.

The tests drive the shared e2e system (`tests.e2e.system`, its NATS half). Throttling
is by client address, so each test's clients connect from an address of their own
in 127.0.0.0/8 (Linux routes the whole block to the loopback interface):
`from_address(system, n)` is an httpx client on the gateway whose connections leave
from 127.0.0.n, `direct(system, service, n)` one on a service's own port. What one
test's attacker does to its address never throttles another test's clients.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import httpx

from tests.e2e.client import PASSWORD, System

__all__ = ["PASSWORD", "direct", "from_address", "register"]

SERVICE_OFFSETS = {"auth": 110, "users": 120}


def _client(base_url: str, host: int) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{host}")
    return httpx.Client(base_url=base_url, transport=transport, timeout=30.0, trust_env=False)


@contextlib.contextmanager
def from_address(system: System, host: int) -> Iterator[httpx.Client]:
    """A client of the gateway whose connections come from 127.0.0.`host`."""
    with _client(system.base_url, host) as client:
        yield client


@contextlib.contextmanager
def direct(system: System, service: str, host: int) -> Iterator[httpx.Client]:
    """A client of `service`'s own port (past the gateway) from 127.0.0.`host`."""
    port = system.port + SERVICE_OFFSETS[service]
    with _client(f"http://127.0.0.1:{port}", host) as client:
        yield client


def register(client: httpx.Client, password: str = PASSWORD) -> str:
    """A new customer's email (registered through `client`)."""
    email = f"identity-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": password, "name": "Ada"}
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    return email
