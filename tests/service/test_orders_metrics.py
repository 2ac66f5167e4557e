"""Service tests of the saga's metrics, against real catalog and payments servers.

Each step the saga runs is counted by how it ended and timed; an order whose checkout
ends is counted by the state it ended in; the sweeper counts the orders past their
deadline; and the calls orders makes to catalog and payments are timed by target.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import update

from mercato.orders.metrics import ENDS, OUTCOMES, STEPS
from mercato.orders.models import Order
from mercato.orders.saga import LostLease
from tests.support.metrics import sample
from tests.support.orders import CARD_DECLINED, Shop, open_shop, orders_context
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


def registry_of(shop: Shop) -> CollectorRegistry:
    registry: CollectorRegistry = shop.orders_app.state.metrics.registry
    return registry


def steps(shop: Shop, step: str, outcome: str = "ok") -> float:
    return sample(registry_of(shop), "orders_saga_steps_total", {"step": step, "outcome": outcome})


def ended(shop: Shop, status: str) -> float:
    return sample(registry_of(shop), "orders_terminal_total", {"status": status})


async def test_every_step_and_end_of_a_checkout_is_counted(shop: Shop) -> None:
    registry = registry_of(shop)
    for step in STEPS:  # every series is there from the start
        for outcome in OUTCOMES:
            labels = {"step": step, "outcome": outcome}
            assert registry.get_sample_value("orders_saga_steps_total", labels) == 0
    assert all(ended(shop, status) == 0 for status in ENDS)

    user = shop.customer()
    tea = await shop.product(stock=5)
    await shop.fill_cart(user, tea, 1)
    order = (await shop.checkout(user, await shop.card(user))).json()
    assert order["status"] == "confirmed", order

    for step in ("reserve", "charge", "commit"):
        assert steps(shop, step) == 1, step
        count = sample(registry, "orders_saga_step_duration_seconds_count", {"step": step})
        assert count == 1, step
    # A new order is placed into `reserving`, and a reservation goes on to `charging`
    # in its own move: the two steps that only write do not run.
    assert steps(shop, "start_reserving") == steps(shop, "start_charging") == 0
    assert steps(shop, "compensate") == 0
    assert ended(shop, "confirmed") == 1

    declined = shop.customer()
    await shop.fill_cart(declined, tea, 1)
    refused = (await shop.checkout(declined, await shop.card(declined, CARD_DECLINED))).json()
    assert refused["status"] == "payment_failed", refused
    assert steps(shop, "charge") == 2  # the charge was answered: the step did its work
    assert ended(shop, "payment_failed") == 1

    cancelled = await shop.orders.post(f"/api/orders/{order['id']}/cancel", headers=user)
    assert cancelled.json()["status"] == "cancelled"
    assert steps(shop, "compensate") == 1
    assert ended(shop, "cancelled") == 1
    assert ended(shop, "confirmed") == 1  # it was confirmed before; both are counted
    calls = "client_request_duration_seconds_count"
    for target in ("catalog", "payments"):
        assert sample(registry, calls, {"service": "orders", "target": target}) >= 2, target


async def test_a_step_waiting_for_payments_is_a_retry(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(stock=5)
    card = await shop.card(user)
    await shop.fill_cart(user, tea, 1)
    await shop.payments_server.stop()
    order = (await shop.checkout(user, card)).json()
    assert order["status"] == "charging", order
    assert steps(shop, "charge", "retry") >= 1
    assert steps(shop, "charge") == 0
    assert sample(registry_of(shop), "orders_saga_retries_total") >= 1
    # One failed call leaves the circuit closed (it opens after five in a row).
    closed = {"service": "orders", "target": "payments"}
    assert registry_of(shop).get_sample_value("client_circuit_state", closed) == 0
    opened = registry_of(shop).get_sample_value("client_circuit_opened_total", closed)
    assert opened in (None, 0)


async def test_a_step_that_lost_its_lease_says_so(shop: Shop) -> None:
    placed = await shop.place_only(quantity=1, key="lost-lease")
    saga = orders_context(shop.orders_app.state.runtime).saga
    order = await saga.load(placed.order_id)
    assert order is not None
    async with shop.orders_app.state.runtime.database.transaction() as session:
        await session.execute(  # another worker took the order over
            update(Order).where(Order.id == placed.order_id).values(lease_owner="another")
        )
    with pytest.raises(LostLease):  # the reservation's move finds the order taken
        await saga.step(order, placed.owner)
    assert steps(shop, "reserve", "lost_lease") == 1
    assert steps(shop, "reserve") == 0


async def test_the_sweeper_counts_the_orders_past_their_deadline(shop: Shop) -> None:
    runtime = shop.orders_app.state.runtime
    runner = orders_context(runtime).runner
    placed = await shop.place_only(quantity=1, key="overdue")  # reserving, its lease held
    await runner.sweep()
    assert sample(registry_of(shop), "orders_overdue") == 0
    past = datetime.now(UTC) - timedelta(minutes=1)
    async with runtime.database.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == placed.order_id).values(deadline=past)
        )
    await runner.sweep()
    assert sample(registry_of(shop), "orders_overdue") == 1
