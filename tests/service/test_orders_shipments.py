"""Service tests of shipment tracking in orders: shipping's events in, the order's answer out.

A confirmed order (real catalog and payments apps, orders in-process) is told of its
shipments by `shipment.created`, `.shipped` and `.delivered`, handed to the orders
app's own handlers through the chassis's idempotent consumer. Its answer then shows
each shipment (status, carrier, tracking, lines) and where its goods are
(`fulfilment`); a redelivered or late event changes nothing, and once a shipment has
left, cancelling the order is refused with a 409 problem.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from mercato.chassis.events import Event, PoisonEvent
from tests.support.fulfilment import Deliveries, buy, lines, shipment_event
from tests.support.orders import ORDERS, Shop, open_shop
from tests.support.servers import DATABASES, fresh_database
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


async def read(shop: Shop, user: dict[str, str], order_id: str) -> dict[str, Any]:
    response = await shop.orders.get(f"{ORDERS}/{order_id}", headers=user)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_shipments_show_in_the_order_with_their_tracking_and_status(shop: Shop) -> None:
    bought = await buy(shop, tea=2, cup=1)
    tea, cup = bought.products["tea"], bought.products["cup"]
    order, deliveries = bought.order, Deliveries(shop)
    fresh = await read(shop, bought.user, order["id"])
    assert (fresh["fulfilment"], fresh["shipments"], fresh["returns"]) == ("unfulfilled", [], [])

    await deliveries.deliver(shipment_event("created", order, "s-1", lines((tea, 2))))
    waiting = await read(shop, bought.user, order["id"])
    assert waiting["fulfilment"] == "awaiting_shipment"
    assert [(s["id"], s["status"], s["method"]) for s in waiting["shipments"]] == [
        ("s-1", "created", "standard")
    ]

    await deliveries.deliver(shipment_event("shipped", order, "s-1", lines((tea, 2))))
    await deliveries.deliver(shipment_event("created", order, "s-2", lines((cup, 1))))
    partly = await read(shop, bought.user, order["id"])
    assert partly["fulfilment"] == "partially_shipped"
    first = partly["shipments"][0]
    assert (first["status"], first["carrier"], first["tracking_number"]) == (
        "shipped",
        "DHL",
        "JD0142",
    )
    assert first["items"] == [{"product_id": tea, "quantity": 2}]

    await deliveries.deliver(shipment_event("shipped", order, "s-2", lines((cup, 1))))
    assert (await read(shop, bought.user, order["id"]))["fulfilment"] == "shipped"
    await deliveries.deliver(shipment_event("delivered", order, "s-1", lines((tea, 2))))
    assert (await read(shop, bought.user, order["id"]))["fulfilment"] == "partially_delivered"
    await deliveries.deliver(shipment_event("delivered", order, "s-2", lines((cup, 1))))
    done = await read(shop, bought.user, order["id"])
    assert done["fulfilment"] == "delivered"
    assert [s["status"] for s in done["shipments"]] == ["delivered", "delivered"]
    assert done["shipments"][0]["delivered_at"] == "2026-12-06T12:00:00Z"
    assert done["shipments"][0]["carrier"] == "DHL"  # kept from `shipped`
    listed = await shop.orders.get(ORDERS, headers=bought.user)
    assert listed.json()["items"][0]["fulfilment"] == "delivered"


async def test_a_redelivered_or_late_event_never_moves_a_shipment_back(shop: Shop) -> None:
    bought = await buy(shop, tea=1)
    order, deliveries = bought.order, Deliveries(shop)
    items = lines((bought.products["tea"], 1))
    created = shipment_event("created", order, "s-9", items)
    # Out of order: shipped comes first, created late and twice.
    await deliveries.deliver(shipment_event("shipped", order, "s-9", items))
    await deliveries.deliver(created)
    await deliveries.deliver(created)
    body = await read(shop, bought.user, order["id"])
    assert [(s["id"], s["status"]) for s in body["shipments"]] == [("s-9", "shipped")]
    assert body["fulfilment"] == "shipped"


async def test_cancelling_is_refused_once_a_shipment_has_left(shop: Shop) -> None:
    await cancel_refused_once_shipped(shop)


@pytest.mark.integration
@pytest.mark.parametrize("kind", DATABASES)
async def test_cancelling_is_refused_once_shipped_on_a_database_server(
    tmp_path: Path, tokens: TokenFactory, kind: str
) -> None:
    async with AsyncExitStack() as stack:
        urls = {
            name: await stack.enter_async_context(fresh_database(kind, f"shipped_{name}"))
            for name in ("catalog", "payments", "orders")
        }
        shop = await stack.enter_async_context(
            open_shop(
                tmp_path,
                tokens,
                catalog={"database_url": urls["catalog"]},
                payments={"database_url": urls["payments"]},
                database_url=urls["orders"],
            )
        )
        await cancel_refused_once_shipped(shop)


async def cancel_refused_once_shipped(shop: Shop) -> None:
    """A shipped order's cancel is 409, for its customer and an admin, and changes nothing."""
    bought = await buy(shop, tea=2)
    order, deliveries = bought.order, Deliveries(shop)
    items = lines((bought.products["tea"], 2))
    await deliveries.deliver(shipment_event("created", order, "s-3", items))
    await deliveries.deliver(shipment_event("shipped", order, "s-3", items))

    refused = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=bought.user)
    by_admin = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=shop.admin)

    for answer in (refused, by_admin):
        assert answer.status_code == 409
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "has shipped" in answer.json()["detail"]
    body = await read(shop, bought.user, order["id"])
    assert body["status"] == "confirmed"
    assert body["history"][-1]["status"] == "confirmed"  # the move was undone
    assert await shop.stock(bought.products["tea"]) == 8
    assert (await shop.events(order["id"]))[-1] == "order.confirmed"


async def test_an_order_whose_shipment_has_not_left_may_still_be_cancelled(shop: Shop) -> None:
    bought = await buy(shop, tea=2)
    order = bought.order
    items = lines((bought.products["tea"], 2))
    await Deliveries(shop).deliver(shipment_event("created", order, "s-4", items))
    answer = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=bought.user)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    assert await shop.stock(bought.products["tea"]) == 10


async def test_another_customer_sees_no_shipments_of_an_order(shop: Shop) -> None:
    bought = await buy(shop, tea=1)
    items = lines((bought.products["tea"], 1))
    await Deliveries(shop).deliver(shipment_event("shipped", bought.order, "s-5", items))
    other = await shop.orders.get(f"{ORDERS}/{bought.order['id']}", headers=shop.customer())
    assert other.status_code == 404
    cancel = await shop.orders.post(
        f"{ORDERS}/{bought.order['id']}/cancel", headers=shop.customer()
    )
    assert cancel.status_code == 404


async def test_a_shipment_event_that_breaks_its_contract_is_poison(shop: Shop) -> None:
    bought = await buy(shop, tea=1)
    event = shipment_event("shipped", bought.order, "s-6", lines((bought.products["tea"], 1)))
    broken = Event.new(
        "shipment.shipped",
        subject="s-6",
        data={k: v for k, v in event.data.items() if k != "tracking_number"},
        source="shipping",
    )
    too_long = shipment_event("created", bought.order, "s" * 65, [])
    long_carrier = Event.new(
        "shipment.shipped",
        subject="s-6",
        data={**event.data, "carrier": "c" * 65},
        source="shipping",
    )
    forged = Event.new("shipment.shipped", subject="s-6", data=event.data, source="web")
    deliveries = Deliveries(shop)
    for bad in (broken, too_long, long_carrier, forged):
        with pytest.raises(PoisonEvent):
            await deliveries.deliver(bad)
    assert (await read(shop, bought.user, bought.order["id"]))["shipments"] == []
