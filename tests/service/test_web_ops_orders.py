"""Service tests of the console's orders: an order found, its saga's timeline, payment, stock.

A customer checks out for real (orders driving its saga against catalog and payments
with real service tokens); the events the services wrote reach the audit log as the
broker would bring them (`Console.relay`); the administrator finds the order in the
console.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mercato.web.ops.access import ADMINS_ONLY
from tests.support.console import Console, open_console
from tests.support.tokens import TokenFactory


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens) as console:
        yield console


async def confirmed_order(console: Console) -> tuple[dict[str, Any], str]:
    """A customer's order, its saga ended; and the customer's email."""
    _, email = await console.customer()
    product = await console.product(stock=5, title="Green tea", amount=450)
    order = await console.order(email, product, quantity=2)
    headers = await console.api(email)
    for _ in range(100):
        body: dict[str, Any] = (
            await console.http("orders").get(f"/api/orders/{order['id']}", headers=headers)
        ).json()
        if body["status"] == "confirmed":
            return body, email
        await asyncio.sleep(0.05)
    raise AssertionError(f"the order did not confirm: {body}")


def timeline_types(html: str) -> list[str]:
    section = html[html.index('<ol class="timeline">') :]
    section = section[: section.index("</ol>")]
    return re.findall(r"<strong>([a-z_.]+)</strong>", section)


async def test_an_admin_finds_an_order_and_sees_its_saga_payment_and_stock(
    console: Console,
) -> None:
    order, _ = await confirmed_order(console)
    assert await console.relay() > 0
    admin = await console.admin()

    found = await admin.get("/ops/orders", params={"id": order["id"]})
    assert found.status_code == 303 and found.headers["location"] == f"/ops/orders/{order['id']}"
    page = await admin.get(found.headers["location"])

    assert page.status_code == 200
    html = page.text
    assert f"<h1>Order {order['id']}</h1>" in html
    assert "<dt>Status</dt>\n  <dd>confirmed</dd>" in html
    assert "<dt>Total</dt>\n  <dd>$9.00</dd>" in html
    assert '<th scope="row">Green tea</th><td>2</td><td>$4.50</td><td>$9.00</td>' in html
    types = timeline_types(html)
    assert types[0] == "order.placed" and types[-1] == "order.confirmed", types
    assert "payment.succeeded" in types
    assert types.index("payment.succeeded") < types.index("order.confirmed")
    assert f"<dt>Payment</dt><dd>{order['payment_id']}</dd>" in html
    assert "<dt>Status</dt><dd>succeeded</dd>" in html
    assert "<dt>Status</dt>\n    <dd>committed</dd>" in html  # the stock reserved, taken
    assert f'href="/ops/audit?order_id={order["id"]}"' in html


async def test_a_part_whose_service_is_down_says_so_and_the_rest_shows(
    console: Console,
) -> None:
    order, _ = await confirmed_order(console)
    await console.relay()
    admin = await console.admin()
    await console.servers["payments"].stop()

    page = await admin.get(f"/ops/orders/{order['id']}")

    assert page.status_code == 200
    assert "Payments is unavailable right now" in page.text
    assert "order.confirmed" in page.text and "<dd>committed</dd>" in page.text


async def test_an_unknown_order_is_the_404_page(console: Console) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops/orders/no-such-order")

    assert answer.status_code == 404
    assert "There is no order no-such-order." in answer.text


async def test_the_orders_page_lists_those_waiting_for_an_operator(console: Console) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops/orders")

    assert answer.status_code == 200
    assert '<label for="order-id">Order id</label>' in answer.text
    assert "No order is waiting for an operator." in answer.text


async def test_a_customer_cannot_open_an_order_in_the_console_even_their_own(
    console: Console,
) -> None:
    order, email = await confirmed_order(console)
    customer = console.browser()
    await console.login(customer, email)

    for path in ("/ops/orders", f"/ops/orders/{order['id']}"):
        answer = await customer.get(path)
        assert answer.status_code == 403 and ADMINS_ONLY in answer.text
        assert "payment.succeeded" not in answer.text
