"""The saga over catalog replicas end to end: catalog-1 killed, checkouts still confirm.

The shared system runs two catalog replicas and the launcher gives orders both of
them. catalog-1 (the first instance, which orders once called exclusively) is
killed with SIGKILL; while it is down, customers check out through the gateway and
every order is confirmed: orders' calls fail over to catalog-2. The launcher then
restarts catalog-1 (the test waits for it, so later tests find the system whole).
"""

from __future__ import annotations

import os
import signal
import uuid

import httpx
import pytest

from tests.e2e.checkouts import (
    Attempt,
    order_of,
    post_checkout,
    prepare_shoppers,
    well_stocked_product,
)
from tests.e2e.client import Account, Shop, System, eventually
from tests.e2e.invariants import admin_product, check_invariants
from tests.e2e.test_faults import process_restored

pytestmark = pytest.mark.e2e

SHOPPERS = 3
CATALOG_OFFSET = 130  # catalog-1 listens on the gateway's port + 130 (topology.py)


def refuses_connections(port: int) -> bool:
    """Whether nothing listens on a local port (a killed process not restarted yet)."""
    try:
        with httpx.Client(timeout=0.5, trust_env=False) as direct:
            direct.get(f"http://127.0.0.1:{port}/health/live")
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_checkouts_confirm_while_the_first_catalog_replica_is_dead(
    shop: Shop, system: System, admin: Account
) -> None:
    product = well_stocked_product(shop, SHOPPERS + 1)
    shoppers = prepare_shoppers(shop, product["id"], SHOPPERS)
    before = admin_product(shop, admin.headers, product["id"])
    port = system.port + CATALOG_OFFSET

    posted: list[Attempt] = []
    during = 0  # checkouts that began and ended with catalog-1 down: they prove the failover
    with process_restored(system, "catalog-1") as old_pid:
        os.kill(old_pid, signal.SIGKILL)
        eventually(lambda: True if refuses_connections(port) else None, timeout=5.0)
        for shopper in shoppers:
            if not refuses_connections(port):
                break
            posted.append(post_checkout(system.base_url, Attempt(shopper, str(uuid.uuid4()))))
            if refuses_connections(port):
                during += 1
        system.wait_restarted("catalog-1", old_pid)

    assert during > 0, "catalog-1 came back before a checkout could run without it"
    for attempt in posted:
        assert attempt.status == 201 and attempt.order_id is not None, attempt
        order = order_of(shop, attempt.shopper.account, attempt.order_id)
        assert order["status"] == "confirmed", order
    after = admin_product(shop, admin.headers, product["id"])
    assert after["reserved"] == before["reserved"], (before, after)
    assert after["on_hand"] == before["on_hand"] - len(posted), (before, after)
    accounts = [shopper.account for shopper in shoppers]
    check_invariants(shop, admin, accounts, stock={product["id"]: before})
