"""Service tests of a checkout whose charge has an unknown outcome (a provider timeout).

Payments' provider answers past its deadline, so payments records the charge
`unknown`: it may have gone through. The saga must neither fail the order nor give
its stock back on that: the order stays `charging` until payments, having looked the
charge up at the provider, answers for sure; then it confirms (the charge was made)
or fails and releases the stock (it was not). `LateCapture` is the simulated
provider answering too late the charges it made; the timeout card's provider makes
none.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mercato.chassis.data.database import Database
from mercato.payments.provider import PaymentProvider
from tests.support.orders import ORDERS, Shop, open_shop, orders_context
from tests.support.payments import TIMEOUT_CARD, LateCapture
from tests.support.tokens import TokenFactory

PAYMENTS = {"provider_timeout_seconds": 0.5, "charge_lease_seconds": 2.0}
SETTLE = 20.0


def late_capture(database: Database) -> PaymentProvider:
    """The simulated provider answering too late: every charge is made, then times out."""
    provider = LateCapture(database)
    provider.late_refunds = False
    return provider


async def checkout(shop: Shop, card_number: str | None = None) -> tuple[dict[str, str], str, Any]:
    """A customer checks out 2 units of a new product (5 in stock); who, what, the answer."""
    user = shop.customer()
    tea = await shop.product(stock=5, amount=800)
    card = await shop.card(user) if card_number is None else await shop.card(user, card_number)
    await shop.fill_cart(user, tea, 2)
    response = await shop.checkout(user, card)
    assert response.status_code == 201, response.text
    return user, tea, response.json()


async def payments_of(shop: Shop, user: dict[str, str]) -> list[dict[str, Any]]:
    """The customer's payments as payments holds them."""
    items: list[dict[str, Any]] = (await shop.payments.get("/api/payments", headers=user)).json()[
        "items"
    ]
    return items


async def test_a_charge_made_but_answered_late_confirms_the_order_once_known(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop(
        tmp_path, tokens, payments=PAYMENTS, payments_provider=late_capture
    ) as shop:
        user, tea, order = await checkout(shop)

        assert order["status"] == "charging", order  # not payment_failed: it went through
        assert await shop.stock(tea) == 3  # still held for the order
        assert [p["status"] for p in await payments_of(shop, user)] == ["unknown"]

        done = await shop.wait_for(user, order["id"], "confirmed", timeout=SETTLE)
        assert done["status"] == "confirmed", done
        [payment] = await payments_of(shop, user)
        assert payment["status"] == "succeeded" and done["payment_id"] == payment["id"]
        assert await shop.stock(tea) == 3


async def test_a_timeout_that_charged_nothing_fails_the_order_once_known(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop(tmp_path, tokens, payments=PAYMENTS) as shop:
        user, tea, order = await checkout(shop, TIMEOUT_CARD)

        assert order["status"] == "charging", order
        assert await shop.stock(tea) == 3

        done = await shop.wait_for(user, order["id"], "payment_failed", timeout=SETTLE)
        assert done["status"] == "payment_failed", done
        assert "provider_timeout" in done["reason"]
        assert await shop.stock(tea) == 5
        [payment] = await payments_of(shop, user)
        assert (payment["status"], payment["reason"]) == ("failed", "provider_timeout")


async def test_cancelling_while_the_charge_is_unknown_refunds_what_was_charged(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop(
        tmp_path,
        tokens,
        payments=PAYMENTS,
        payments_provider=late_capture,
        sweep_interval_seconds=3600.0,  # the test sweeps: nobody holds the order meanwhile
    ) as shop:
        user, tea, order = await checkout(shop)
        assert order["status"] == "charging", order

        response = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=user)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelling"  # first: was it charged?
        assert await shop.stock(tea) == 3

        runner = orders_context(shop.orders_app.state.runtime).runner
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE
        while (now := await shop.settled(user, order["id"], timeout=0.5))["status"] != "cancelled":
            assert loop.time() < deadline, now
            await runner.sweep()

        assert await shop.stock(tea) == 5
        [payment] = await payments_of(shop, user)
        assert payment["status"] == "succeeded"  # it had been charged: now refunded in full
        assert payment["refunded_amount"] == payment["amount"]
