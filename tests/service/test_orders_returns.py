"""Service tests of the return refund saga: `return.received` in, restock and refund out.

Real catalog and payments apps under uvicorn, orders in-process; `return.received`
goes through the orders app's own handler and the chassis's idempotent consumer, and
the return sweeper is run by the test (its interval is an hour here) so that each
step is seen. A return puts its lines back on hand at the catalog, refunds their
price at payments and writes `order.returned`; a redelivery does nothing twice; a
return that does not fit its order, or a refund payments refuses, waits for an
operator; a catalog that is down is retried later, also after a worker's crash. The
happy path runs on SQLite, and on the real PostgreSQL and MariaDB too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from mercato.catalog.app import create_app as create_catalog
from mercato.chassis.client.service_client import ServiceClient
from mercato.orders.context import OrdersRuntime
from mercato.orders.models import EVENTS, OrderReturn
from mercato.orders.return_saga import ACTIVE
from tests.support.clock import ManualClock
from tests.support.fulfilment import Bought, Deliveries, buy, lines, return_received
from tests.support.orders import ORDERS, Server, Shop, open_shop
from tests.support.servers import fresh_database
from tests.support.tokens import TokenFactory

RETURNS = f"{ORDERS}/returns"
REFUNDS = "/api/payments/{payment_id}/refunds"
SETTINGS: dict[str, Any] = {"sweep_interval_seconds": 3600.0, "retry_limit": 3}


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, tokens, **SETTINGS) as shop:
        yield shop


@pytest.fixture
def clock(shop: Shop) -> ManualClock:
    """The clock of orders' circuit breakers (set before any call makes one), moved by hand."""
    clock = ManualClock()
    shop.orders_app.state.runtime.http.breaker_clock = clock
    return clock


async def sweep_until_settled(shop: Shop, return_id: str, timeout: float = 10.0) -> OrderReturn:
    """Run the return sweeper until the return's saga has nothing left to do; the return."""
    runtime: OrdersRuntime = shop.orders_app.state.runtime
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await runtime.context.returns.sweep()
        async with runtime.database.session() as session:
            row = await session.get(OrderReturn, return_id)
        assert row is not None
        if row.status not in ACTIVE or loop.time() > deadline:
            return row
        await asyncio.sleep(0.1)


async def refunds_of(shop: Shop, payment_id: str) -> list[dict[str, Any]]:
    response = await shop.payments.get(REFUNDS.format(payment_id=payment_id), headers=shop.admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def returned_events(shop: Shop, order_id: str) -> list[dict[str, Any]]:
    """The data of every `order.returned` of the order in the orders outbox, oldest first."""
    runtime = shop.orders_app.state.runtime
    table = EVENTS.outbox
    async with runtime.database.session() as session:
        rows = await session.execute(
            select(table.c.payload)
            .where(table.c.subject == order_id, table.c.type == "order.returned")
            .order_by(table.c.created_at)
        )
    return [orjson.loads(payload)["data"] for payload in rows.scalars()]


async def order_of(shop: Shop, bought: Bought) -> dict[str, Any]:
    response = await shop.orders.get(f"{ORDERS}/{bought.order['id']}", headers=bought.user)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def restart_catalog(shop: Shop, clock: ManualClock) -> None:
    """Serve a new catalog app on the stopped one's port and database; its circuit closes."""
    http: ServiceClient = shop.orders_app.state.runtime.http
    clock.now += http.reset_timeout
    old = shop.catalog_servers[0]
    app = create_catalog(old.app.state.runtime.settings)
    app.state.runtime.verifier.keys = shop.tokens.keys
    server = Server(app, port=int(old.url.rsplit(":", 1)[1]))
    await server.start()
    shop.servers[shop.servers.index(old)] = server
    shop.catalog_servers[0] = server


async def return_in_two_parts(shop: Shop) -> None:
    """Two returns that bring a whole order back: each restocked and refunded once."""
    bought = await buy(shop, tea=2, cup=1)  # 2 x 1000 + 1 x 2000 = 4000
    tea, cup = bought.products["tea"], bought.products["cup"]
    order, deliveries = bought.order, Deliveries(shop)
    assert (await shop.stock(tea), await shop.stock(cup)) == (8, 9)

    first = return_received(order, lines((tea, 1)))
    await deliveries.deliver(first)
    settled = await sweep_until_settled(shop, first.data["return_id"])
    assert (settled.status, settled.refund_amount) == ("returned", 1000)
    assert await shop.stock(tea) == 9
    partly = await order_of(shop, bought)
    assert (partly["status"], partly["fulfilment"]) == ("confirmed", "partially_returned")
    assert partly["returns"][0]["refund"] == {"amount": 1000, "currency": "USD"}

    rest = return_received(order, lines((tea, 1), (cup, 1)), whole_order=True)
    await deliveries.deliver(rest)
    assert (await sweep_until_settled(shop, rest.data["return_id"])).refund_amount == 3000

    assert (await shop.stock(tea), await shop.stock(cup)) == (10, 10)
    refunds = await refunds_of(shop, order["payment_id"])
    assert sorted((r["amount"]["amount"], r["status"]) for r in refunds) == [
        (1000, "succeeded"),
        (3000, "succeeded"),
    ]
    whole = await order_of(shop, bought)
    assert whole["fulfilment"] == "returned"
    assert [r["status"] for r in whole["returns"]] == ["returned", "returned"]
    events = await returned_events(shop, order["id"])
    assert [(e["return_id"], e["refund"]["amount"], e["whole_order"]) for e in events] == [
        (first.data["return_id"], 1000, False),
        (rest.data["return_id"], 3000, True),
    ]
    assert events[0]["items"] == [
        {"product_id": tea, "quantity": 1, "unit_price": {"amount": 1000, "currency": "USD"}}
    ]
    assert events[1]["payment_id"] == order["payment_id"]


async def test_a_partial_return_then_the_rest_refund_exactly_what_was_paid(shop: Shop) -> None:
    await return_in_two_parts(shop)


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
async def test_returns_on_a_database_server(
    tmp_path: Path, tokens: TokenFactory, kind: str
) -> None:
    async with AsyncExitStack() as stack:
        urls = {
            name: await stack.enter_async_context(fresh_database(kind, f"returns_{name}"))
            for name in ("catalog", "payments", "orders")
        }
        shop = await stack.enter_async_context(
            open_shop(
                tmp_path,
                tokens,
                catalog={"database_url": urls["catalog"]},
                payments={"database_url": urls["payments"]},
                database_url=urls["orders"],
                **SETTINGS,
            )
        )
        await return_in_two_parts(shop)


async def test_a_redelivered_return_is_restocked_and_refunded_once(shop: Shop) -> None:
    bought = await buy(shop, tea=3)
    tea, order, deliveries = bought.products["tea"], bought.order, Deliveries(shop)
    event = return_received(order, lines((tea, 2)))
    again = return_received(order, lines((tea, 2)), return_id=event.data["return_id"])

    await deliveries.deliver(event)
    await deliveries.deliver(event)  # the broker's redelivery: the inbox drops it
    await deliveries.deliver(again)  # the same return under a new event id
    await sweep_until_settled(shop, event.data["return_id"])
    await deliveries.deliver(event)
    await sweep_until_settled(shop, event.data["return_id"])

    assert await shop.stock(tea) == 9
    assert [r["amount"]["amount"] for r in await refunds_of(shop, order["payment_id"])] == [2000]
    assert len(await returned_events(shop, order["id"])) == 1
    assert len((await order_of(shop, bought))["returns"]) == 1


async def test_more_units_than_ordered_need_an_operator_and_move_nothing(shop: Shop) -> None:
    bought = await buy(shop, tea=2)
    tea, order, deliveries = bought.products["tea"], bought.order, Deliveries(shop)
    first = return_received(order, lines((tea, 1)))
    await deliveries.deliver(first)
    assert (await sweep_until_settled(shop, first.data["return_id"])).status == "returned"

    too_many = return_received(order, lines((tea, 2)))
    await deliveries.deliver(too_many)
    stalled = await sweep_until_settled(shop, too_many.data["return_id"])

    assert (stalled.status, stalled.stalled_in) == ("needs_attention", "received")
    assert f"{tea} (1 too many)" in (stalled.reason or "")
    assert stalled.refund_amount is None
    assert await shop.stock(tea) == 9  # only the first return's unit came back
    assert len(await refunds_of(shop, order["payment_id"])) == 1
    shown = (await order_of(shop, bought))["returns"][1]
    assert (shown["status"], shown["refund"]) == ("needs_attention", None)


async def test_a_return_naming_another_customer_needs_an_operator(shop: Shop) -> None:
    bought = await buy(shop, tea=1)
    event = return_received(
        bought.order, lines((bought.products["tea"], 1)), user_id="someone-else"
    )
    await Deliveries(shop).deliver(event)
    stalled = await sweep_until_settled(shop, event.data["return_id"])
    assert stalled.status == "needs_attention"
    assert "not its customer's" in (stalled.reason or "")
    assert await shop.stock(bought.products["tea"]) == 9


async def test_a_refund_payments_refuses_leaves_the_return_for_an_operator(
    shop: Shop,
) -> None:
    bought = await buy(shop, tea=2)
    tea, order = bought.products["tea"], bought.order
    goodwill = await shop.payments.post(
        REFUNDS.format(payment_id=order["payment_id"]),
        json={"reason": "goodwill"},
        headers={**shop.admin, "Idempotency-Key": "admin-refund"},
    )
    assert goodwill.status_code == 201, goodwill.text
    event = return_received(order, lines((tea, 1)))
    await Deliveries(shop).deliver(event)

    stalled = await sweep_until_settled(shop, event.data["return_id"])

    assert (stalled.status, stalled.stalled_in) == ("needs_attention", "refunding")
    assert "refused for good" in (stalled.reason or "")
    assert await shop.stock(tea) == 9  # restocked before the refund was refused
    assert len(await refunds_of(shop, order["payment_id"])) == 1  # the admin's only
    assert await returned_events(shop, order["id"]) == []
    registry = shop.orders_app.state.metrics.registry
    assert registry.get_sample_value("orders_returns_needs_attention") == 1.0

    listed = await shop.orders.get(f"{RETURNS}/attention", headers=shop.admin)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert (item["id"], item["order_id"], item["stalled_in"]) == (
        event.data["return_id"],
        order["id"],
        "refunding",
    )
    for headers, status in (({}, 401), (bought.user, 403)):
        assert (
            await shop.orders.get(f"{RETURNS}/attention", headers=headers)
        ).status_code == status
        resume = await shop.orders.post(f"{RETURNS}/{item['id']}/resume", headers=headers)
        assert resume.status_code == status
    missing = await shop.orders.post(f"{RETURNS}/no-such-return/resume", headers=shop.admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")

    # Resumed while payments still refuses: back to the operator, nothing refunded twice.
    resumed = await shop.orders.post(f"{RETURNS}/{item['id']}/resume", headers=shop.admin)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "needs_attention"
    assert await shop.stock(tea) == 9
    assert len(await refunds_of(shop, order["payment_id"])) == 1


async def test_a_catalog_that_is_down_is_retried_later_even_after_a_crash(
    shop: Shop, clock: ManualClock
) -> None:
    bought = await buy(shop, tea=2)
    tea, order = bought.products["tea"], bought.order
    await shop.catalog_servers[0].stop()
    event = return_received(order, lines((tea, 2)), whole_order=True)
    return_id = event.data["return_id"]
    await Deliveries(shop).deliver(event)
    runtime = shop.orders_app.state.runtime

    await runtime.context.returns.sweep()  # checks it, then fails to reach the catalog
    async with runtime.database.session() as session:
        waiting = await session.get(OrderReturn, return_id)
    assert waiting is not None
    assert (waiting.status, waiting.attempts, waiting.lease_owner) == ("restocking", 1, None)
    assert waiting.retry_at is not None and waiting.retry_at > datetime.now(UTC)

    # A worker that took it and then died: its lease runs out, the sweeper takes it on.
    async with runtime.database.transaction() as session:
        await session.execute(
            update(OrderReturn)
            .where(OrderReturn.id == return_id)
            .values(
                lease_owner="crashed-worker",
                lease_until=datetime.now(UTC) - timedelta(seconds=1),
                retry_at=None,
            )
        )
    await restart_catalog(shop, clock)
    settled = await sweep_until_settled(shop, return_id)

    assert (settled.status, settled.refund_amount) == ("returned", 2000)
    assert await shop.stock(tea) == 10
    assert [r["amount"]["amount"] for r in await refunds_of(shop, order["payment_id"])] == [2000]


async def test_a_return_past_its_retries_waits_for_an_operator_who_resumes_it(
    shop: Shop, clock: ManualClock
) -> None:
    bought = await buy(shop, tea=1)
    tea, order = bought.products["tea"], bought.order
    await shop.catalog_servers[0].stop()
    event = return_received(order, lines((tea, 1)))
    return_id = event.data["return_id"]
    await Deliveries(shop).deliver(event)

    stalled = await sweep_until_settled(shop, return_id)
    assert (stalled.status, stalled.stalled_in) == ("needs_attention", "restocking")
    assert "failed 3 times" in (stalled.reason or "")

    await restart_catalog(shop, clock)
    resumed = await shop.orders.post(f"{RETURNS}/{return_id}/resume", headers=shop.admin)
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["refund"]["amount"]) == ("returned", 1000)
    assert await shop.stock(tea) == 10
    again = await shop.orders.post(f"{RETURNS}/{return_id}/resume", headers=shop.admin)
    assert again.status_code == 409
