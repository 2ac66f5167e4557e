"""Service tests of sagas that end: no step is retried forever, every state has a way out.

A refund refused for good is not retried; a step that keeps failing is retried with
backoff, then the order needs an operator (`needs_attention`, the reason in its
history, counted in `orders_needs_attention`, listed for admins), who resumes it or
cancels it; an order past its state's deadline needs one too. And the case that used
to loop for ever: cancelling an order whose payment an admin had refunded in full
ends `cancelled`, its stock back, without a second refund.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from mercato.chassis.client.service_client import ServiceClient
from mercato.orders.models import Order
from tests.support.clock import ManualClock
from tests.support.orders import ORDERS, Shop, open_shop, orders_context, served
from tests.support.tokens import TokenFactory

RETRY_LIMIT = 3
REFUNDS = "/api/payments/{payment_id}/refunds"


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """The shop with a saga that gives up after three failed attempts at a step."""
    async with open_shop(tmp_path, tokens, retry_limit=RETRY_LIMIT) as shop:
        yield shop


async def confirmed_order(shop: Shop) -> tuple[dict[str, str], str, dict[str, Any]]:
    """A customer's confirmed order of 2 units of a new product (5 in stock)."""
    user = shop.customer()
    tea = await shop.product(stock=5, amount=700)
    await shop.fill_cart(user, tea, 2)
    order = (await shop.checkout(user, await shop.card(user))).json()
    assert order["status"] == "confirmed", order
    return user, tea, order


async def cancel(shop: Shop, user: dict[str, str], order_id: str) -> dict[str, Any]:
    """POST the order's cancel; the order answered."""
    response = await shop.orders.post(f"{ORDERS}/{order_id}/cancel", headers=user)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refunds_of(shop: Shop, payment_id: str) -> list[dict[str, Any]]:
    """The refunds payments holds for a payment."""
    response = await shop.payments.get(REFUNDS.format(payment_id=payment_id), headers=shop.admin)
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def gauge(shop: Shop, name: str) -> float:
    """A metric's value in the orders app's registry."""
    value = shop.orders_app.state.metrics.registry.get_sample_value(name)
    return float(value or 0.0)


async def test_cancelling_an_order_refunded_in_full_ends_cancelled_without_a_second_refund(
    shop: Shop,
) -> None:
    user, tea, order = await confirmed_order(shop)
    refund = await shop.payments.post(
        REFUNDS.format(payment_id=order["payment_id"]),
        json={"reason": "goodwill"},
        headers={**shop.admin, "Idempotency-Key": "admin-refund"},
    )
    assert refund.status_code == 201, refund.text

    cancelled = await cancel(shop, user, order["id"])

    assert cancelled["status"] == "cancelled", cancelled
    assert "refunded in full already" in (cancelled["history"][-1]["reason"] or "")
    assert cancelled["deadline"] is None
    assert await shop.stock(tea) == 5
    assert [r["reason"] for r in await refunds_of(shop, order["payment_id"])] == ["goodwill"]
    assert (await shop.events(order["id"]))[-1] == "order.cancelled"


async def test_a_refusal_for_good_is_not_retried_and_the_order_needs_an_operator(
    shop: Shop,
) -> None:
    user, tea, order = await confirmed_order(shop)
    runtime = shop.orders_app.state.runtime
    async with runtime.database.transaction() as session:  # a record payments cannot match
        await session.execute(
            update(Order).where(Order.id == order["id"]).values(payment_id="no-such-payment")
        )
    refunds_route = "/api/payments/{payment_id}/refunds"
    before = served(shop.payments_server.app, "POST", refunds_route)

    stalled = await cancel(shop, user, order["id"])

    assert stalled["status"] == "needs_attention", stalled
    assert "refused for good" in stalled["reason"] and "no-such-payment" in stalled["reason"]
    assert [h["status"] for h in stalled["history"]][-2:] == ["cancelling", "needs_attention"]
    assert stalled["deadline"] is None
    runner = orders_context(runtime).runner
    for _ in range(3):
        await runner.sweep()
        await asyncio.sleep(0.4)  # past any backoff: a retried order would be taken
    assert served(shop.payments_server.app, "POST", refunds_route) == before + 1
    assert gauge(shop, "orders_needs_attention") == 1.0
    stalled_total = shop.orders_app.state.metrics.registry.get_sample_value(
        "orders_saga_stalled_total", {"status": "cancelling"}
    )
    assert stalled_total == 1.0

    listed = await shop.orders.get(f"{ORDERS}/attention", headers=shop.admin)
    assert [o["id"] for o in listed.json()["items"]] == [order["id"]]
    assert (await shop.orders.get(f"{ORDERS}/attention", headers=user)).status_code == 403
    refused = await shop.orders.post(f"{ORDERS}/{order['id']}/resume", headers=user)
    assert refused.status_code == 403

    # The way out: the operator corrects the record and resumes the order.
    async with runtime.database.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == order["id"]).values(payment_id=order["payment_id"])
        )
    resumed = await shop.orders.post(f"{ORDERS}/{order['id']}/resume", headers=shop.admin)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "cancelled"
    assert [h["status"] for h in resumed.json()["history"]][-3:] == [
        "needs_attention",
        "cancelling",
        "cancelled",
    ]
    assert await shop.stock(tea) == 5
    assert len(await refunds_of(shop, order["payment_id"])) == 1
    again = await shop.orders.post(f"{ORDERS}/{order['id']}/resume", headers=shop.admin)
    assert again.status_code == 409
    await runner.sweep()
    assert gauge(shop, "orders_needs_attention") == 0.0


async def test_retries_are_bounded_with_backoff_and_then_need_an_operator(shop: Shop) -> None:
    http: ServiceClient = shop.orders_app.state.runtime.http
    clock = ManualClock()
    http.breaker_clock = clock  # the circuit that payments being down opens closes on cue
    user, tea, order = await confirmed_order(shop)
    await shop.payments_server.stop()

    waiting = await cancel(shop, user, order["id"])
    assert waiting["status"] == "cancelling"  # payments is down: tried again later
    runtime = shop.orders_app.state.runtime
    async with runtime.database.session() as session:
        stored = await session.get(Order, order["id"])
    assert stored is not None and stored.attempts == 1
    assert stored.retry_at is not None and stored.retry_at > datetime.now(UTC)

    stalled = await shop.wait_for(user, order["id"], "needs_attention", timeout=20.0)
    assert stalled["status"] == "needs_attention", stalled
    assert f"failed {RETRY_LIMIT} times" in stalled["reason"]
    assert gauge(shop, "orders_saga_retries_total") == RETRY_LIMIT - 1
    assert await shop.stock(tea) == 3  # nothing was given back: the refund never happened

    # The way out for the customer: payments is back, and they cancel again.
    await shop.restart_payments()
    clock.now += http.reset_timeout
    cancelled = await cancel(shop, user, order["id"])
    assert cancelled["status"] == "cancelled", cancelled
    assert await shop.stock(tea) == 5
    [refund] = await refunds_of(shop, order["payment_id"])
    assert refund["status"] == "succeeded"


async def test_an_order_past_its_deadline_needs_an_operator(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop(tmp_path, tokens, retry_limit=100, step_deadline_seconds=2.0) as shop:
        user, _, order = await confirmed_order(shop)
        assert order["deadline"] is None  # confirmed: settled, no deadline
        await shop.payments_server.stop()

        waiting = await cancel(shop, user, order["id"])
        assert waiting["status"] == "cancelling"
        deadline = datetime.fromisoformat(waiting["deadline"])
        assert deadline > datetime.now(UTC)

        stalled = await shop.wait_for(user, order["id"], "needs_attention", timeout=20.0)
        assert stalled["status"] == "needs_attention", stalled
        assert "deadline" in stalled["reason"]
        assert datetime.fromisoformat(stalled["history"][-1]["at"]) >= deadline
