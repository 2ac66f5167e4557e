"""Service tests of checkout: the saga against real catalog and payments servers."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mercato.chassis.web.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from mercato.orders import service, store
from mercato.orders.models import Order
from mercato.orders.schemas import CheckoutIn
from tests.support.orders import (
    ADDRESS,
    CARD_DECLINED,
    ORDERS,
    Placed,
    Shop,
    open_shop,
    orders_context,
)
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """Catalog and payments servers, and the orders app in-process."""
    async with open_shop(tmp_path, tokens) as shop:
        yield shop


def statuses(order: dict[str, object]) -> list[str]:
    """The states an order went through, from its history."""
    history = order["history"]
    assert isinstance(history, list)
    return [entry["status"] for entry in history]


async def test_happy_path_confirms(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(stock=5, amount=1250)
    card = await shop.card(user)
    await shop.fill_cart(user, tea, 2)
    response = await shop.checkout(user, card)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "confirmed"
    assert order["total"] == {"amount": 2500, "currency": "USD"}
    assert order["items"][0]["unit_price"] == {"amount": 1250, "currency": "USD"}
    assert order["payment_id"]
    assert statuses(order) == [
        "pending",
        "reserving",
        "reserved",
        "charging",
        "paid",
        "confirmed",
    ]
    assert await shop.stock(tea) == 3
    assert (await shop.orders.get("/api/orders/cart", headers=user)).json()["items"] == []
    assert await shop.events(order["id"]) == ["order.placed", "order.confirmed"]
    listed = (await shop.orders.get(ORDERS, headers=user)).json()
    assert [o["id"] for o in listed["items"]] == [order["id"]]


async def test_declined_card_fails_and_releases_stock(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(stock=5)
    card = await shop.card(user, CARD_DECLINED)
    await shop.fill_cart(user, tea, 2)
    order = (await shop.checkout(user, card)).json()
    assert order["status"] == "payment_failed"
    assert order["reason"]
    assert await shop.stock(tea) == 5
    assert await shop.events(order["id"]) == ["order.placed", "order.failed"]


async def test_not_enough_stock_is_out_of_stock(shop: Shop) -> None:
    user, other = shop.customer(), shop.customer()
    tea = await shop.product(stock=2)
    await shop.fill_cart(user, tea, 2)
    await shop.fill_cart(other, tea, 2)
    first = (await shop.checkout(other, await shop.card(other))).json()
    assert first["status"] == "confirmed"
    order = (await shop.checkout(user, await shop.card(user))).json()
    assert order["status"] == "out_of_stock"
    assert await shop.stock(tea) == 0


async def test_empty_cart_is_422(shop: Shop) -> None:
    user = shop.customer()
    response = await shop.checkout(user, await shop.card(user))
    assert response.status_code == 422


async def test_a_total_beyond_what_one_payment_may_take_is_422_and_keeps_the_cart(
    shop: Shop,
) -> None:
    # The price and the quantity are each allowed; their product did not fit the
    # order's 64-bit total and was a 500 that left nothing to say why.
    user = shop.customer()
    gold = await shop.product(stock=10_000_000, amount=10**12)
    card = await shop.card(user)
    await shop.fill_cart(user, gold, 10_000_000)
    response = await shop.checkout(user, card)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["cart"]
    cart = (await shop.orders.get("/api/orders/cart", headers=user)).json()
    assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(gold, 10_000_000)]
    assert (await shop.orders.get(ORDERS, headers=user)).json()["items"] == []
    assert await shop.stock(gold) == 10_000_000


async def test_the_document_requires_the_idempotency_key_once(shop: Shop) -> None:
    document = (await shop.orders.get("/api/orders/openapi.json")).json()
    parameters = document["paths"]["/api/orders"]["post"]["parameters"]
    keys = [p for p in parameters if p["name"] == "Idempotency-Key"]
    assert len(keys) == 1
    assert (keys[0]["in"], keys[0]["required"]) == ("header", True)


async def test_idempotency(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(stock=5)
    card = await shop.card(user)
    await shop.fill_cart(user, tea, 1)
    body = {"payment_method_id": card, "shipping_address": ADDRESS}
    missing = await shop.orders.post(ORDERS, json=body, headers=user)
    assert missing.status_code == 400
    first = await shop.checkout(user, card, key="key-1")
    assert first.status_code == 201
    again = await shop.checkout(user, card, key="key-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    other = {"payment_method_id": card, "shipping_address": {**ADDRESS, "city": "Bonn"}}
    reused = await shop.orders.post(
        ORDERS, json=other, headers={**user, "Idempotency-Key": "key-1"}
    )
    assert reused.status_code == 422
    assert await shop.stock(tea) == 4
    listed = (await shop.orders.get(ORDERS, headers=user)).json()
    assert len(listed["items"]) == 1


async def test_a_key_follows_the_rule_payments_follows(shop: Shop) -> None:
    """Up to 255 characters (orders took 200), and a reuse is the same problem."""
    user = shop.customer()
    tea = await shop.product(stock=5)
    card = await shop.card(user)
    await shop.fill_cart(user, tea, 1)
    longest = "k" * MAX_KEY_LENGTH
    first = await shop.checkout(user, card, key=longest)
    assert first.status_code == 201, first.text
    again = await shop.checkout(user, card, key=longest)
    assert again.status_code == 201 and again.json() == first.json()
    other = {"payment_method_id": card, "shipping_address": {**ADDRESS, "city": "Bonn"}}
    reused = await shop.orders.post(
        ORDERS, json=other, headers={**user, "Idempotency-Key": longest}
    )
    assert reused.status_code == 422
    assert [(e["field"], e["type"]) for e in reused.json()["errors"]] == [
        ("Idempotency-Key", "idempotency_mismatch")
    ]
    too_long = await shop.checkout(user, card, key=longest + "k")
    assert too_long.status_code == 400
    document = (await shop.orders.get("/api/orders/openapi.json")).json()
    parameters = document["paths"]["/api/orders"]["post"]["parameters"]
    [key] = [p for p in parameters if p["name"] == "Idempotency-Key"]
    assert key["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": KEY_PATTERN,
    }


async def test_same_key_while_running_is_409(shop: Shop) -> None:
    user_id = str(uuid.uuid4())
    user = shop.tokens.headers(user_id, ["customer"])
    tea = await shop.product(stock=5)
    await shop.fill_cart(user, tea, 1)
    runtime = shop.orders_app.state.runtime
    order_in = CheckoutIn.model_validate({"payment_method_id": "pm", "shipping_address": ADDRESS})
    # Placed, its lease held by a worker that is still driving it.
    async with runtime.database.session() as session:
        await service.place_order(
            session,
            outbox=runtime.outbox,
            components=orders_context(runtime),
            user_id=user_id,
            key="busy",
            order_in=order_in,
        )
    response = await shop.orders.post(
        ORDERS, json=order_in.model_dump(mode="json"), headers={**user, "Idempotency-Key": "busy"}
    )
    assert response.status_code == 409


async def test_another_users_order_is_404(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product()
    await shop.fill_cart(user, tea, 1)
    order = (await shop.checkout(user, await shop.card(user))).json()
    path = f"{ORDERS}/{order['id']}"
    assert (await shop.orders.get(path, headers=shop.customer())).status_code == 404
    assert (await shop.orders.get(path, headers=shop.admin)).status_code == 200
    assert (await shop.orders.post(f"{path}/cancel", headers=shop.customer())).status_code == 404


async def test_listing_pages_newest_first(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(stock=10)
    card = await shop.card(user)
    ids = []
    for _ in range(3):
        await shop.fill_cart(user, tea, 1)
        ids.append((await shop.checkout(user, card)).json()["id"])
    first = (await shop.orders.get(ORDERS, params={"limit": 2}, headers=user)).json()
    assert [o["id"] for o in first["items"]] == ids[::-1][:2]
    for listed in first["items"]:  # each with its own history, as when read alone
        alone = (await shop.orders.get(f"{ORDERS}/{listed['id']}", headers=user)).json()
        assert listed["history"] == alone["history"]
        assert [h["status"] for h in listed["history"]][-1] == "confirmed"
    rest = await shop.orders.get(
        ORDERS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=user
    )
    assert [o["id"] for o in rest.json()["items"]] == ids[:1]
    assert rest.json()["next_cursor"] is None


async def test_cancel_refunds_and_restocks(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product(stock=5, amount=700)
    await shop.fill_cart(user, tea, 2)
    order = (await shop.checkout(user, await shop.card(user))).json()
    assert order["status"] == "confirmed"
    assert await shop.stock(tea) == 3
    response = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=user)
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert statuses(cancelled)[-2:] == ["cancelling", "cancelled"]
    assert await shop.stock(tea) == 5
    payment = await shop.payments.get(f"/api/payments/{order['payment_id']}", headers=user)
    assert payment.json()["refunded_amount"] == {"amount": 1400, "currency": "USD"}
    assert await shop.events(order["id"]) == [
        "order.placed",
        "order.confirmed",
        "order.cancelled",
    ]
    again = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=user)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


async def test_cancel_of_a_failed_order_is_409(shop: Shop) -> None:
    user = shop.customer()
    tea = await shop.product()
    await shop.fill_cart(user, tea, 1)
    order = (await shop.checkout(user, await shop.card(user, CARD_DECLINED))).json()
    response = await shop.orders.post(f"{ORDERS}/{order['id']}/cancel", headers=user)
    assert response.status_code == 409


async def test_payments_down_keeps_the_order_charging_until_payments_answers(
    shop: Shop,
) -> None:
    # Orders cannot tell whether a charge it could not get an answer to went through,
    # so it neither fails the order nor releases its stock on a guess: it asks again
    # with the same key once payments is back, and only payments' answer decides.
    user = shop.customer()
    tea = await shop.product(stock=4)
    card = await shop.card(user)
    await shop.fill_cart(user, tea, 3)
    await shop.payments_server.stop()
    started = time.monotonic()
    order = (await shop.checkout(user, card)).json()
    assert time.monotonic() - started < 3.0
    assert order["status"] == "charging", order
    assert await shop.stock(tea) == 1  # still held for the order

    await shop.restart_payments()
    done = await shop.wait_for(user, order["id"], "confirmed", timeout=20.0)
    assert done["status"] == "confirmed", done
    assert statuses(done)[-3:] == ["charging", "paid", "confirmed"]
    assert await shop.stock(tea) == 1
    payments = await shop.payments.get("/api/payments", headers=user)
    assert [p["status"] for p in payments.json()["items"]] == ["succeeded"]


async def place_without_driving(shop: Shop, *, quantity: int, key: str) -> Placed:
    """Place an order of `quantity` units of a new product (5 in stock); no worker drives it."""
    return await shop.place_only(quantity=quantity, key=key)


async def test_a_worker_steps_on_an_order_that_stays_what_is_stored(shop: Shop) -> None:
    # The worker reads the order once and each move updates it in place; every column
    # must then be what a fresh read finds, or a later step would act on stale data.
    placed = await place_without_driving(shop, quantity=2, key="in-place")
    saga = orders_context(shop.orders_app.state.runtime).saga
    order = await saga.load(placed.order_id)
    assert order is not None
    columns = [column.key for column in Order.__table__.columns]

    seen = []
    while await saga.step(order, placed.owner):
        stored = await saga.load(placed.order_id)
        assert stored is not None
        assert {c: getattr(order, c) for c in columns} == {c: getattr(stored, c) for c in columns}
        seen.append(order.status)

    # Placed into `reserving`; the reservation's move goes on to `charging` at once.
    assert seen == ["charging", "paid", "confirmed"]
    assert order.total_amount == 2 * 100 and order.payment_id


async def test_sweeper_resumes_an_order_stuck_after_its_reservation(shop: Shop) -> None:
    placed = await place_without_driving(shop, quantity=2, key="crash")
    parts = orders_context(shop.orders_app.state.runtime)
    # Reserve, then "crash": the worker stops and its lease is gone.
    order = await parts.saga.load(placed.order_id)
    assert order is not None
    assert await parts.saga.step(order, placed.owner)
    await parts.runner.release(placed.order_id, placed.owner)
    stuck = (await shop.orders.get(f"{ORDERS}/{placed.order_id}", headers=placed.user)).json()
    assert stuck["status"] == "charging"  # reserved, then charging in the same move
    assert statuses(stuck) == ["pending", "reserving", "reserved", "charging"]
    assert await shop.stock(placed.product_id) == 3
    done = await shop.wait_for(placed.user, placed.order_id, "confirmed")
    assert done["status"] == "confirmed"
    assert statuses(done)[-3:] == ["charging", "paid", "confirmed"]
    assert await shop.stock(placed.product_id) == 3


async def test_a_step_that_meets_a_stopped_catalog_is_postponed_and_counted(shop: Shop) -> None:
    placed = await place_without_driving(shop, quantity=1, key="postponed")
    runtime = shop.orders_app.state.runtime
    for server in shop.catalog_servers:
        await server.stop()

    # The reservation cannot reach catalog.
    await orders_context(runtime).runner.drive(placed.order_id, placed.owner)

    async with runtime.database.session() as session:
        order = await store.get_order(session, placed.order_id)
    assert order is not None
    assert (order.status, order.attempts) == ("reserving", 1)  # waits at the step that failed
    assert order.lease_owner is None  # given back, for the sweeper to try again
