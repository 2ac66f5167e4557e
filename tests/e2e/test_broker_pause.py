"""A paused broker takes nothing out of service: end to end, on each broker.

The broker is paused for `PAUSE_SECONDS` (SIGSTOP of the embedded NATS; on RabbitMQ,
which is shared, the test's proxy stops relaying: `tests.e2e.brokers`) while
customers check out through the gateway: twice the time in which Kubernetes took
every pod out of its Service when readiness included the broker. Every checkout
answers 201 as usual; every process's readiness probe answers 200 within a probe's
one-second timeout throughout, while each reports the broker away (`reported.broker`
in its `/health/ready`, and per instance in the gateway's detailed `/health`); once
the broker is back the events flow, and the invariants of `tests.e2e.invariants`
hold (each event audited once, stock and money balanced).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from mercato.launcher.topology import SERVICES, Layout, service
from tests.e2e.checkouts import (
    POST_TIMEOUT,
    Attempt,
    order_of,
    post_checkout,
    prepare_shoppers,
    well_stocked_product,
)
from tests.e2e.client import Account, Shop, System
from tests.e2e.invariants import admin_product, check_invariants
from tests.e2e.system import REPLICAS

pytestmark = pytest.mark.e2e

CUSTOMERS = 5
PAUSE_SECONDS = 20.0  # a broker pause: what took every pod out of its Service in ~10 s
WATCH_SECONDS = 9.0  # a service checks its broker every 5 s, with a 2 s timeout


@contextlib.contextmanager
def broker_resumed(system: System) -> Iterator[None]:
    """Pause the broker for the block; resume it at the end, whatever happened."""
    system.pause_broker()
    try:
        yield
    finally:
        system.resume_broker()


@dataclass
class Probed:
    """What one instance answered its readiness probes: the statuses, the broker reported."""

    statuses: list[int | str] = field(default_factory=list)
    brokers: list[str] = field(default_factory=list)


def readiness_during(system: System, seconds: float) -> tuple[dict[str, Probed], Any]:
    """Every instance's readiness, asked every half second for `seconds`, by instance name.

    A probe waits one second at most, as Kubernetes' does by default. Once every
    service had time to check its broker, the gateway's detailed health (its operator
    port) is asked once too; it is returned beside.
    """
    layout = Layout(port=system.port, replicas=REPLICAS)
    urls = {i.name: f"{i.url}/health/ready" for svc in SERVICES for i in layout.instances(svc)}
    operator = layout.operator_port(layout.instances(service("gateway"))[0])
    probed = {name: Probed() for name in urls}
    detailed: Any = None
    started = time.monotonic()
    with httpx.Client(timeout=1.0, trust_env=False) as http:
        while time.monotonic() - started < seconds:
            for name, url in urls.items():
                try:
                    answer = http.get(url)
                except httpx.HTTPError as exc:
                    probed[name].statuses.append(type(exc).__name__)
                    continue
                probed[name].statuses.append(answer.status_code)
                reported = answer.json().get("reported", {})
                probed[name].brokers.append(reported.get("broker", "none"))
            if detailed is None and time.monotonic() - started > WATCH_SECONDS:
                detailed = http.get(f"http://127.0.0.1:{operator}/health", timeout=5.0).json()
            time.sleep(0.5)
    return probed, detailed


def test_a_paused_broker_takes_nothing_out_of_service(
    shop: Shop, system: System, admin: Account
) -> None:
    """The broker paused 20 s while customers check out: nothing is refused or unready.

    Every checkout through the gateway answers 201 as usual, every process answers
    its readiness probe with 200 (within a probe's one-second timeout) throughout,
    while the operator's detailed health shows each instance's broker away; once the
    broker is back the events flow, and each is audited once.
    """
    product = well_stocked_product(shop, CUSTOMERS + 1)
    shoppers = prepare_shoppers(shop, product["id"], CUSTOMERS)
    before = admin_product(shop, admin.headers, product["id"])
    attempts = [Attempt(shopper, str(uuid.uuid4())) for shopper in shoppers]

    with broker_resumed(system), ThreadPoolExecutor(max_workers=CUSTOMERS) as pool:
        futures = [pool.submit(post_checkout, system.base_url, a) for a in attempts]
        probed, detailed = readiness_during(system, PAUSE_SECONDS)
        for future in futures:
            future.result(timeout=POST_TIMEOUT)

    assert [(a.status, a.error) for a in attempts] == [(201, None)] * CUSTOMERS
    assert {name: set(p.statuses) for name, p in probed.items()} == {
        name: {200} for name in probed
    }, probed
    # Each process, and the operator's page of them all, says where the broker is.
    assert all(p.brokers[-1] != "ok" for p in probed.values()), probed
    assert detailed["status"] == "ok", detailed
    instances = [i for entry in detailed["services"].values() for i in entry["instances"]]
    assert len(instances) == len(probed) - 1, detailed  # every one but the gateway itself
    # The storefront uses no broker: it reports none.
    services = detailed["services"]
    on_broker = [i for name, entry in services.items() if name != "web" for i in entry["instances"]]
    assert on_broker and all(i["reported"]["broker"] != "ok" for i in on_broker), detailed
    settled = [order_of(shop, a.shopper.account, a.order_id or "") for a in attempts]
    assert [order["status"] for order in settled] == ["confirmed"] * CUSTOMERS, settled
    accounts = [shopper.account for shopper in shoppers]
    check_invariants(shop, admin, accounts, stock={product["id"]: before})
