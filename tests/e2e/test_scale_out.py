"""Scale-out on one machine, for real: instance 1 of every service killed under load.

A system of its own (`tests.e2e.scale_out.scaled_system`): `mercato up --replicas
all=2` (sixteen processes, the second gateway on P+1), every service on its own
PostgreSQL database, the events on a 3-node JetStream cluster with three copies
each. Shopper threads check out steadily over both gateways; meanwhile instance 1
of each service in turn is killed with SIGKILL, and the next kill waits until the
launcher has restarted it. Once the load has stopped and every order has settled:

- every checkout that failed was in flight when a process was killed (for the
  gateway: on the killed gateway itself; for a service behind it the client cannot
  tell which instance served it, so every checkout in flight at that moment is
  counted), and the order of each ends in a terminal state;
- the invariants of every fault test hold (`tests.e2e.invariants`): every order
  settled, stock conserved, one successful charge per confirmed order, every event
  of these customers in the audit log exactly once.

The report (per kill: checkouts started, confirmed, failed, in flight at the kill,
seconds until the launcher had it back; the totals; the events the orders imply and
those the audit log holds) is printed, and shown in pytest's terminal summary.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from mercato.launcher.topology import SERVICES
from tests.e2e.checkouts import prepare_shoppers, well_stocked_product
from tests.e2e.client import ADMIN_EMAIL, ADMIN_PASSWORD, Account, Shop, System
from tests.e2e.invariants import (
    admin_product,
    check_invariants,
    settled_orders,
)
from tests.e2e.scale_out import (
    SHOPPERS,
    SUMMARY,
    Checkout,
    Load,
    Scaled,
    audited_ids,
    gateway_urls,
    scaled_system,
)
from tests.e2e.system import REPORTS

pytestmark = pytest.mark.e2e

WARM_UP = 5.0  # seconds of load before the first kill
SETTLE_AFTER_RESTART = 2.0  # seconds of load between a process back and the next kill
TAIL = 5.0  # seconds of load after the last process is back
STOCK = 5000  # units added to the product bought: more than the load can take
EVENTS_TIMEOUT = 30.0  # for the audit log to hold as many events as the broker


@dataclass
class Kill:
    """Instance 1 of a service killed: when, and when the launcher had it back."""

    name: str
    at: float
    back: float = 0.0
    until: float = 0.0  # when the next kill came (or the load ended)
    in_flight: list[Checkout] = field(default_factory=list)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scaled]:
    with scaled_system(tmp_path_factory.mktemp("scale-out")) as system:
        yield system


@pytest.fixture(autouse=True)
def _launcher_log_on_failure(request: pytest.FixtureRequest, scaled: Scaled) -> Iterator[None]:
    """What the launcher wrote, when the test fails (instead of the shared system's log)."""
    yield
    if any(report.failed for report in request.node.stash.get(REPORTS, {}).values()):
        lines = scaled.system.log().splitlines()
        notable = [line for line in lines if line.startswith("mercato ") or '"error"' in line]
        print("--- mercato up: the launcher's lines and errors ---\n" + "\n".join(notable[-200:]))


def _kill_in_turn(system: System, load: Load) -> list[Kill]:
    kills = []
    for svc in SERVICES:
        name = f"{svc.name}-1"
        pid = system.pid(name)
        assert pid is not None, f"{name} has no pid file"
        kill = Kill(name, time.monotonic())
        os.kill(pid, signal.SIGKILL)
        kill.in_flight = [c for c in list(load.checkouts) if c.in_flight_at(kill.at)]
        if svc.is_gateway:  # the client knows which gateway each went through
            gateway = gateway_urls(system)[0]
            kill.in_flight = [c for c in kill.in_flight if c.gateway == gateway]
        system.wait_restarted(name, pid)
        kill.back = time.monotonic()
        kills.append(kill)
        time.sleep(SETTLE_AFTER_RESTART)
    return kills


def _failed(checkout: Checkout, orders: dict[str, str]) -> bool:
    """A POST that did not end in 201, or an order that did not end confirmed."""
    return checkout.failed or orders.get(checkout.order_id or "") != "confirmed"


def _report(
    kills: list[Kill], checkouts: list[Checkout], orders: dict[str, str], seconds: float
) -> list[str]:
    """The figures: per kill, the checkouts begun until the next kill, and those in flight."""
    rate = len(checkouts) / seconds
    lines = [
        "scale-out: every service x2 (16 processes) on PostgreSQL and a 3-node NATS cluster;"
        f" {len(checkouts)} checkouts in {seconds:.0f} s ({rate:.1f}/s)",
        f"  {'killed':<12}{'started':>8}{'confirmed':>11}{'failed':>8}"
        f"{'in flight':>11}{'of which failed':>17}{'back in':>10}",
    ]

    def row(what: str, started: list[Checkout], flying: list[Checkout] | None, back: str) -> str:
        confirmed = sum(1 for c in started if orders.get(c.order_id or "") == "confirmed")
        failed = sum(1 for c in started if _failed(c, orders))
        cells = f"  {what:<12}{len(started):>8}{confirmed:>11}{failed:>8}"
        if flying is not None:
            lost = sum(1 for c in flying if _failed(c, orders))
            cells += f"{len(flying):>11}{lost:>17}{back:>10}"
        return cells

    lines.append(row("(before)", [c for c in checkouts if c.started < kills[0].at], None, ""))
    for kill in kills:
        started = [c for c in checkouts if kill.at <= c.started < kill.until]
        lines.append(row(kill.name, started, kill.in_flight, f"{kill.back - kill.at:.1f} s"))
    flying = {c.key: c for kill in kills for c in kill.in_flight}
    lines.append(row("total", checkouts, list(flying.values()), ""))
    for checkout in checkouts:
        if _failed(checkout, orders):
            final = orders.get(checkout.order_id or "", "no order known to the client")
            lines.append(f"  failed: {checkout.error or checkout.status} -> {final}")
    return [line.rstrip() for line in lines]


def _events(scaled: Scaled, shop: Shop, admin: Account) -> tuple[int, list[str]]:
    """The events the broker holds and the audit log's ids, once they agree (bounded)."""
    deadline = time.monotonic() + EVENTS_TIMEOUT
    while True:
        published, audited = scaled.published(), audited_ids(shop, admin.headers)
        if (published and published == len(audited)) or time.monotonic() > deadline:
            return published, audited
        time.sleep(1.0)


def test_killing_instance_one_of_every_service_under_load_loses_nothing(
    scaled: Scaled, request: pytest.FixtureRequest
) -> None:
    gateways = gateway_urls(scaled.system)
    with httpx.Client(base_url=gateways[0], timeout=15.0, trust_env=False) as http:
        shop = Shop(http)
        tokens = shop.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        me = http.get("/api/auth/me", headers=Shop.headers(tokens["access_token"])).json()
        admin = Account(me["id"], ADMIN_EMAIL, ADMIN_PASSWORD, me["name"], tokens)
        product = well_stocked_product(shop, 1)
        restock = http.post(
            f"/api/catalog/products/{product['id']}/stock",
            json={"delta": STOCK},
            headers=admin.headers,
        )
        assert restock.status_code == 200, restock.text
        shoppers = prepare_shoppers(shop, product["id"], SHOPPERS)
        before = admin_product(shop, admin.headers, product["id"])

        load = Load(gateways, shoppers, product["id"])
        began = time.monotonic()
        load.start()
        try:
            time.sleep(WARM_UP)
            kills = _kill_in_turn(scaled.system, load)
            time.sleep(TAIL)
        finally:
            checkouts = load.finish()
        ended = time.monotonic()
        for kill, after in zip(kills, [*kills[1:], None], strict=True):
            kill.until = after.at if after is not None else ended

        accounts = [shopper.account for shopper in shoppers]
        settled = settled_orders(shop, accounts)
        orders = {o["id"]: o["status"] for mine in settled.values() for o in mine}
        report = _report(kills, checkouts, orders, ended - began)
        unseen = set(orders) - {c.order_id for c in checkouts}
        report.append(
            f"  orders the client never got a 201 for: {len(unseen)},"
            f" ended {sorted(orders[o] for o in unseen)}"
        )
        _say(request, report)
        check_invariants(shop, admin, accounts, stock={product["id"]: before})
        published, audited = _events(scaled, shop, admin)
        _say(
            request,
            [
                f"  events: {published} in the broker's stream (each published once),"
                f" {len(audited)} in the audit log ({len(set(audited))} distinct)"
            ],
        )

    assert checkouts, "no checkout ran"
    unexplained = [c for c in checkouts if _failed(c, orders)]
    flying = {c.key for kill in kills for c in kill.in_flight}
    unexplained = [c for c in unexplained if c.key not in flying]
    assert not unexplained, [(c.status, c.error, orders.get(c.order_id or "")) for c in unexplained]
    # Every order is terminal (settled_orders waited for that), the POSTs' and the others'.
    assert all(c.order_id in orders for c in checkouts if c.order_id is not None)
    assert published == len(audited) == len(set(audited)), (published, len(audited))


def _say(request: pytest.FixtureRequest, lines: list[str]) -> None:
    """Print report lines (seen with -s) and keep them for the terminal summary."""
    print("\n".join(lines))
    request.config.stash.setdefault(SUMMARY, []).extend(lines)
