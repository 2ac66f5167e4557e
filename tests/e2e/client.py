"""The e2e client helper and what the tests need to look at the running system.

`Shop` is an httpx client on the gateway with the usual steps (register, login, a
new customer, auth headers); `Account` a logged-in account; `System` the running
`mercato up` (its pids come from `<data_dir>/run/<name>.pid`); `eventually` polls.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

__all__ = ["ADMIN_EMAIL", "ADMIN_PASSWORD", "PASSWORD", "Account", "Shop", "System", "eventually"]

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "E2e-Admin-Passw0rd!"
PASSWORD = "Correct-Horse-42"
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 5.0, interval: float = 0.1) -> T:
    """Call `probe` until it returns something other than None (or fail at `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class System:
    """A running `mercato up`."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        """The gateway."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the launcher wrote so far."""
        return self.log_path.read_text(errors="replace")

    def pid(self, name: str) -> int | None:
        """The pid of a process of the system (`catalog-2`, `nats`), from its pid file."""
        try:
            return int((self.data_dir / "run" / f"{name}.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def pids(self) -> list[int]:
        """Every pid file's pid."""
        run = self.data_dir / "run"
        return [p for f in run.glob("*.pid") if (p := self.pid(f.stem)) is not None]


@dataclass
class Account:
    """A registered, logged-in account."""

    id: str
    email: str
    password: str
    name: str
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def access(self) -> str:
        """The current access token."""
        return str(self.tokens["access_token"])

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header for the current access token."""
        return {"Authorization": f"Bearer {self.access}"}


class Shop:
    """The e2e client helper: an HTTP client on the gateway and the usual steps."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        """An Authorization header with `token`."""
        return {"Authorization": f"Bearer {token}"}

    @staticmethod
    def unique_email() -> str:
        """An email address no other test uses."""
        return f"shopper-{uuid.uuid4().hex[:12]}@example.com"

    def register(self, email: str, password: str = PASSWORD, name: str = "Ada Shopper") -> Any:
        """Register a customer; the 201 body."""
        response = self.http.post(
            "/api/auth/register", json={"email": email, "password": password, "name": name}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """Log in; the token pair."""
        response = self.http.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def new_customer(self, name: str = "Ada Shopper") -> Account:
        """A freshly registered and logged-in customer."""
        email = self.unique_email()
        user = self.register(email, name=name)
        return Account(user["id"], email, PASSWORD, name, self.login(email))
