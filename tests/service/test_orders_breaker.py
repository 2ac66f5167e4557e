"""Service test: payments timing out opens the saga's circuit, and the saga fails fast.

Real catalog and payments apps under uvicorn, the orders app in-process (the
`open_shop` harness). Customers pay with the simulated provider's timeout card, so
payments answers only after its provider deadline (1 s), long after orders' own
deadline for a payments call (0.3 s): from orders' side payments is timing out.
Orders cannot know whether such a charge went through, so the orders wait in
`charging` with their stock held (they used to fail at once, stock released, while
the money might have moved); once the circuit lets calls through, each is settled
by payments' own answer.

The breakers of orders' HTTP client run on a clock the test moves by hand, so "the
circuit is still open" and "the circuit lets a trial through" are decided by the
test, not by how fast this machine is. The background sweeper is kept out of the
way (its first pass runs at start, on no orders) and the test sweeps when it wants
the unknown charges asked about again. Evidence is counted where it lands: the
payments rows (one per charge key that reached payments) and the orders' records.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mercato.chassis.client.circuit import CircuitState
from mercato.chassis.client.service_client import ServiceClient
from mercato.orders.clients import charge_key
from mercato.orders.models import Order
from mercato.payments.models import PENDING, Payment
from tests.support.clock import ManualClock
from tests.support.orders import Shop, open_shop, orders_context
from tests.support.tokens import TokenFactory

CARD_TIMEOUT = "4000 0000 0000 0119"
PROVIDER_TIMEOUT = 1.0  # payments' deadline towards its (hanging) provider
ORDERS_PAYMENTS_TIMEOUT = 0.3  # orders' deadline for a payments call: shorter, so it times out
FAST_CHECKOUTS = 3
SETTLE_TIMEOUT = 10.0  # bounds every wait for payments to finish its hanging charges


async def charges_at_payments(shop: Shop) -> list[Payment]:
    """Every charge payments holds (a row per idempotency key that reached it)."""
    runtime = shop.payments_server.app.state.runtime
    async with runtime.database.session() as session:
        return list((await session.scalars(select(Payment))).all())


async def orders_by_id(shop: Shop, ids: list[str]) -> dict[str, Order]:
    """The orders service's records of some orders."""
    runtime = shop.orders_app.state.runtime
    async with runtime.database.session() as session:
        found = await session.scalars(select(Order).where(Order.id.in_(ids)))
        return {order.id: order for order in found}


async def pay_with_the_timeout_card(shop: Shop, product_id: str) -> dict[str, Any]:
    """A new customer checks out one unit with the timeout card; the order as answered."""
    user = shop.customer()
    card = await shop.card(user, CARD_TIMEOUT)
    await shop.fill_cart(user, product_id, 1)
    response = await shop.checkout(user, card)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def no_charge_pending(shop: Shop) -> list[Payment]:
    """Payments' charges once none is still waiting for the provider (bounded wait)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while True:
        charges = await charges_at_payments(shop)
        if all(c.status != PENDING for c in charges):
            return charges
        assert loop.time() < deadline, [(c.order_id, c.status) for c in charges]
        await asyncio.sleep(0.1)


async def settle_every_order(shop: Shop, clock: ManualClock, ids: list[str]) -> dict[str, Order]:
    """Sweep (letting the circuit try again each time) until no order is charging."""
    http: ServiceClient = shop.orders_app.state.runtime.http
    runner = orders_context(shop.orders_app.state.runtime).runner
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT * 2
    while True:
        clock.now += http.reset_timeout
        await runner.sweep()
        records = await orders_by_id(shop, ids)
        if all(order.status != "charging" for order in records.values()):
            return records
        assert loop.time() < deadline, {i: o.status for i, o in records.items()}
        await asyncio.sleep(0.3)


async def test_payments_timing_out_opens_the_circuit_then_checkouts_fail_fast(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop(
        tmp_path,
        tokens,
        payments={
            "provider_timeout_seconds": PROVIDER_TIMEOUT,
            "charge_lease_seconds": PROVIDER_TIMEOUT + 1.5,
        },
        payments_timeout_seconds=ORDERS_PAYMENTS_TIMEOUT,
        sweep_interval_seconds=3600.0,
        stale_after_seconds=0.0,
        retry_limit=100,
    ) as shop:
        http: ServiceClient = shop.orders_app.state.runtime.http
        clock = ManualClock()
        http.breaker_clock = clock  # before the first call creates any breaker
        circuit = http.breaker("payments", shop.payments_server.url)
        tea = await shop.product(stock=20)

        # 1. Each checkout's charge times out: a failure of payments' circuit, which
        #    opens after `failure_threshold` of them in a row. The orders wait.
        timed_out = []
        for _ in range(http.failure_threshold):
            assert circuit.state is CircuitState.CLOSED
            order = await pay_with_the_timeout_card(shop, tea)
            assert order["status"] == "charging", order
            timed_out.append(order["id"])
        assert circuit.state is CircuitState.OPEN
        reached = await charges_at_payments(shop)
        assert sorted(c.order_id for c in reached) == sorted(timed_out)

        # 2. Later checkouts fail fast: refused by the open circuit, so no charge
        #    reaches payments; they wait too, their stock held.
        fast = []
        for _ in range(FAST_CHECKOUTS):
            order = await pay_with_the_timeout_card(shop, tea)
            assert order["status"] == "charging", order
            fast.append(order["id"])
        assert circuit.state is CircuitState.OPEN
        assert len(await charges_at_payments(shop)) == len(timed_out)
        assert await shop.stock(tea) == 20 - len(timed_out) - len(fast)

        # Payments did not learn the provider's answer either: those charges are unknown.
        assert {c.status for c in await no_charge_pending(shop)} == {"unknown"}

        # 3. Once the circuit lets calls through, and orders waits for payments longer
        #    than payments waits for its provider, each order is asked about again with
        #    its key: payments reconciles each charge with the provider, which holds no
        #    charge of the timeout card, and every order ends payment_failed.
        orders_context(shop.orders_app.state.runtime).payments.timeout = 5.0
        records = await settle_every_order(shop, clock, timed_out + fast)
        assert {order.status for order in records.values()} == {"payment_failed"}
        assert all(order.payment_id is None for order in records.values())
        assert all("provider_timeout" in (order.reason or "") for order in records.values())
        assert await shop.stock(tea) == 20

        charges = await charges_at_payments(shop)
        assert sorted(c.order_id for c in charges) == sorted(timed_out + fast)
        assert {c.order_id: c.idempotency_key for c in charges} == {
            order_id: charge_key(order_id) for order_id in timed_out + fast
        }
        assert {(c.status, c.reason) for c in charges} == {("failed", "provider_timeout")}
