"""The e2e client helper and what the tests need to look at the running system.

`Shop` is an httpx client on the gateway with the usual steps (register, login, a
new customer, auth headers); `Account` a logged-in account; `add_card` and
`fill_cart` the customer's first steps towards a checkout (to `ADDRESS`), and
`confirmed_checkout` a whole one; `System` the running `mercato up` (its pids come
from `<data_dir>/run/<name>.pid`), its broker and whether it runs a Prometheus;
`eventually` polls.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.e2e.brokers import BrokerControl

__all__ = [
    "ADDRESS",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "CHARGE_LEASE_SECONDS",
    "EDGE_BODY_TIMEOUT",
    "EDGE_HEAD_TIMEOUT",
    "EDGE_KEEPALIVE_TIMEOUT",
    "EVENT_ACK_WAIT_SECONDS",
    "PASSWORD",
    "RESTART_TIMEOUT",
    "SAGA_LEASE_SECONDS",
    "SAGA_STALE_SECONDS",
    "SAGA_SWEEP_SECONDS",
    "TERMINAL",
    "Account",
    "Shop",
    "System",
    "add_card",
    "confirmed_checkout",
    "eventually",
    "fill_cart",
    "products_in_stock",
]

RESTART_TIMEOUT = 30.0  # the launcher's first restart waits 1 s, then the process starts
# The saga timing of the e2e system's orders service, shorter than its defaults (a 30 s
# lease; sweeps every 5 s of orders idle 5 s) so that a saga a crash interrupted resumes
# within ~15 s. The lease still outlasts the longest step (a payments call, 10 s).
SAGA_LEASE_SECONDS = 12.0
SAGA_SWEEP_SECONDS = 1.0
SAGA_STALE_SECONDS = 2.0
# NATS delivers an event again when a consumer has not acknowledged it within this
# (30 s by default), so an event a killed consumer held comes back within seconds.
EVENT_ACK_WAIT_SECONDS = 5.0
# How long an unanswered charge belongs to its attempt before payments asks the provider
# about it (30 s by default); more than the provider's 3 s deadline and a second.
CHARGE_LEASE_SECONDS = 6.0
# The e2e gateway's bounds on slow clients (its defaults are 10, 10 and 30 s).
EDGE_HEAD_TIMEOUT = 2.0
EDGE_BODY_TIMEOUT = 2.0
EDGE_KEEPALIVE_TIMEOUT = 5.0
TERMINAL = {"confirmed", "payment_failed", "out_of_stock", "rejected", "cancelled"}  # settled
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "E2e-Admin-Passw0rd!"
PASSWORD = "Correct-Horse-42"
ADDRESS = {"name": "Ada Shopper", "line1": "1 Main Street", "city": "London", "country": "GB"}
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
    """A running `mercato up`, and the broker its services use."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    broker: BrokerControl
    observed: bool = False  # started with --observe: a Prometheus on port + 290

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

    def wait_restarted(self, name: str, old_pid: int) -> int:
        """Wait until the launcher has restarted `name` and announced it ready; its new pid."""

        def ready() -> int | None:
            pid = self.pid(name)
            if pid in (None, old_pid):
                return None
            return pid if f"{name} is ready again (pid {pid})" in self.log() else None

        try:
            return eventually(ready, timeout=RESTART_TIMEOUT, interval=0.25)
        except AssertionError:
            raise AssertionError(
                f"{name} was not restarted within {RESTART_TIMEOUT:.0f} s"
            ) from None

    def crash_broker(self) -> None:
        """Take the broker away from the services at once (see `tests.e2e.brokers`)."""
        self.broker.crash(self)

    def wait_broker_back(self) -> None:
        """Wait (bounded) until the services can reach the broker again."""
        self.broker.wait_back(self)

    def pause_broker(self) -> None:
        """Stop the broker answering, its connections left open (see `tests.e2e.brokers`)."""
        self.broker.pause(self)

    def resume_broker(self) -> None:
        """Let the paused broker answer again."""
        self.broker.resume(self)


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


def add_card(shop: Shop, customer: Account, number: str) -> str:
    """Register a card; its payment method id."""
    response = shop.http.post(
        "/api/payments/methods",
        json={"card_number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123"},
        headers=customer.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["last4"] == number[-4:]
    return str(response.json()["id"])


def fill_cart(shop: Shop, customer: Account, product_id: str, quantity: int) -> None:
    """Put `quantity` of a product in the customer's cart."""
    path = f"/api/orders/cart/items/{product_id}"
    response = shop.http.put(path, json={"quantity": quantity}, headers=customer.headers)
    assert response.status_code == 200, response.text


def products_in_stock(shop: Shop) -> Iterator[dict[str, Any]]:
    """Every product with stock, newest first, a page at a time as they are asked for.

    Not only the first page: other tests on the same system add products (the console's
    browser test imports 150 with one unit each), and they are the newest.
    """
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, "in_stock": "true"}
        if cursor:
            params["cursor"] = cursor
        page = shop.http.get("/api/catalog/products", params=params).json()
        yield from page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return


def confirmed_checkout(shop: Shop, customer: Account) -> dict[str, Any]:
    """A confirmed order of one unit of a stocked demo product."""
    product = next(products_in_stock(shop))
    method = add_card(shop, customer, "4242424242424242")
    fill_cart(shop, customer, product["id"], 1)
    placed = shop.http.post(
        "/api/orders",
        json={"payment_method_id": method, "shipping_address": ADDRESS},
        headers={**customer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    def finished() -> dict[str, Any] | None:
        order: dict[str, Any] = shop.http.get(
            f"/api/orders/{order_id}", headers=customer.headers
        ).json()
        return order if order["status"] in TERMINAL else None

    order = eventually(finished, timeout=20)
    assert order["status"] == "confirmed", order
    return order
