"""Checkouts per second through the compose stack (a figure printed, not asserted).

`CUSTOMERS` customers, prepared first (registered, a card, one unit in the cart),
post their checkouts `CONCURRENCY` at a time through the published port; the figure
is the checkouts confirmed per second from the first POST until the last order is
confirmed. The test checks that every one was confirmed and that the invariants hold;
the rate depends on the machine (deploy/README.md quotes one run).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.container.stack import Stack
from tests.e2e.checkouts import (
    Attempt,
    order_of,
    post_checkout,
    prepare_shoppers,
    well_stocked_product,
)
from tests.e2e.client import Account, Shop
from tests.e2e.invariants import admin_product

pytestmark = pytest.mark.container

CUSTOMERS = 40
CONCURRENCY = 8


def test_checkouts_per_second_through_the_compose_stack(
    stack: Stack, shop: Shop, admin: Account, report: Callable[[str], None]
) -> None:
    product = well_stocked_product(shop, CUSTOMERS + 1)
    shoppers = prepare_shoppers(shop, product["id"], CUSTOMERS)
    before = admin_product(shop, admin.headers, product["id"])
    attempts = [Attempt(shopper, str(uuid.uuid4())) for shopper in shoppers]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        done = list(pool.map(lambda a: post_checkout(stack.base_url, a), attempts))
    posted = time.monotonic() - started
    assert all(a.status == 201 for a in done), [(a.status, a.error) for a in done]
    orders = [order_of(shop, a.shopper.account, a.order_id or "") for a in done]
    elapsed = time.monotonic() - started

    assert [o["status"] for o in orders] == ["confirmed"] * CUSTOMERS
    report(
        f"{CUSTOMERS} checkouts, {CONCURRENCY} at a time: all posted in {posted:.1f} s, "
        f"all confirmed in {elapsed:.1f} s: {CUSTOMERS / elapsed:.1f} checkouts/s"
    )
    # The stock moved by the sales exactly (the full invariants, with the audit log read
    # per customer and order, would outrun the gateway's per-client rate limit here).
    after = admin_product(shop, admin.headers, product["id"])
    assert after["on_hand"] == before["on_hand"] - CUSTOMERS, (before, after)
    assert after["reserved"] == before["reserved"], (before, after)
