"""Property test of the commerce flow: cart, checkout, cancel and restock as a state machine.

Hypothesis drives random sequences of customer and admin calls through the real HTTP
APIs of the `open_shop` harness (catalog and payments under uvicorn, orders
in-process) and keeps a model of what the stock and the orders should be. After every
step the invariants are checked against the services themselves:

- each product: `on_hand == available + reserved`, none negative, nothing left
  reserved once a call returned, and `on_hand` equal to the model's (initial +
  restocks - confirmed + cancelled-after-confirmed);
- each order: settled (confirmed, payment_failed, out_of_stock or cancelled) and in
  the state the model predicts;
- each succeeded payment: it belongs to a confirmed order and is not refunded, or it
  is refunded in full (its order was cancelled).

The harness is asynchronous and a `RuleBasedStateMachine` is not, so the shop runs in
its own event loop in a background thread for the whole test (`ShopThread`, in
`tests.support.shop_thread`); each step submits its coroutine with
`asyncio.run_coroutine_threadsafe` and waits for it. The shop is entered and left
inside one task of that loop (the lifespans need that). Every Hypothesis example makes
its own customers and products, so examples do not share state.
Runs are derandomized and keep no example database, so every run tries the same
examples and pass/fail is the same each time; every timeout of the shop is generous
(`open_patient_shop`), so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)
from hypothesis.stateful import run_state_machine_as_test as run_machine

from tests.support.orders import (
    ADDRESS,
    CARD_DECLINED,
    CARD_OK,
    CART,
    ORDERS,
    Shop,
)
from tests.support.shop_thread import ShopThread, all_pages, expect
from tests.support.tokens import TokenFactory

CUSTOMERS = 2
PRODUCTS = 3
PRICES = (100, 250, 999)
SETTLED = frozenset({"confirmed", "payment_failed", "out_of_stock", "cancelled"})

MACHINE_SETTINGS = settings(
    max_examples=8,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)


@dataclass
class Customer:
    """A customer of one example: token headers and two saved cards."""

    user_id: str
    headers: dict[str, str]
    cards: dict[str, str]
    cart: dict[str, int] = field(default_factory=dict)


@dataclass
class OrderModel:
    """What the model knows of an order."""

    id: str
    customer: int
    items: dict[str, int]
    status: str
    payment_id: str | None
    was_confirmed: bool = False


class ShopMachine(RuleBasedStateMachine):
    """Customers fill carts, check out, cancel; an admin restocks. The shop must add up."""

    shop_thread: ClassVar[ShopThread | None] = None

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        assert self.shop_thread is not None and self.shop_thread.shop is not None
        self.bridge = self.shop_thread
        self.shop: Shop = self.shop_thread.shop
        self.customers: list[Customer] = []
        self.products: list[str] = []
        self.on_hand: dict[str, int] = {}
        self.placed: dict[str, OrderModel] = {}

    # -- set-up ----------------------------------------------------------------

    @initialize(
        stocks=st.lists(st.integers(1, 2), min_size=PRODUCTS, max_size=PRODUCTS),
        carts=st.lists(
            st.dictionaries(
                st.integers(0, PRODUCTS - 1), st.integers(1, 2), min_size=1, max_size=PRODUCTS
            ),
            min_size=CUSTOMERS,
            max_size=CUSTOMERS,
        ),
    )
    def open_the_shop(self, stocks: list[int], carts: list[dict[int, int]]) -> None:
        """Three products with small stock, two customers with a good and a bad card.

        The customers start with something in their carts (through the cart API, so an
        over-stock line is refused), which makes checkouts and shortages come early.
        """
        self.bridge.run(self._set_up(stocks))
        for customer, lines in enumerate(carts):
            for product, quantity in lines.items():
                self.add_to_cart(customer, product, quantity)

    async def _set_up(self, stocks: list[int]) -> None:
        for stock, amount in zip(stocks, PRICES, strict=True):
            product_id = await self.shop.product(stock=stock, amount=amount)
            self.products.append(product_id)
            self.on_hand[product_id] = stock
        for _ in range(CUSTOMERS):
            user_id = str(uuid.uuid4())
            headers = self.shop.tokens.headers(user_id, ["customer"])
            cards = {
                "success": await self.shop.card(headers, CARD_OK),
                "declined": await self.shop.card(headers, CARD_DECLINED),
            }
            self.customers.append(Customer(user_id=user_id, headers=headers, cards=cards))

    # -- rules -----------------------------------------------------------------

    @rule(
        customer=st.integers(0, CUSTOMERS - 1),
        product=st.integers(0, PRODUCTS - 1),
        quantity=st.integers(1, 2),
    )
    def add_to_cart(self, customer: int, product: int, quantity: int) -> None:
        """Set a cart line: accepted exactly when that many are available."""
        who, product_id = self.customers[customer], self.products[product]
        response = self.bridge.run(
            self.shop.orders.put(
                f"{CART}/items/{product_id}", json={"quantity": quantity}, headers=who.headers
            )
        )
        if quantity <= self.on_hand[product_id]:
            who.cart[product_id] = quantity
            self._check_cart(who, expect(response, 200))
        else:
            expect(response, 422)

    @rule(customer=st.integers(0, CUSTOMERS - 1), product=st.integers(0, PRODUCTS - 1))
    def remove_from_cart(self, customer: int, product: int) -> None:
        """Take a line out of the cart (absent is fine)."""
        who, product_id = self.customers[customer], self.products[product]
        response = self.bridge.run(
            self.shop.orders.delete(f"{CART}/items/{product_id}", headers=who.headers)
        )
        who.cart.pop(product_id, None)
        self._check_cart(who, expect(response, 200))

    @rule(
        target=orders,
        customer=st.integers(0, CUSTOMERS - 1),
        card=st.sampled_from(["success", "declined"]),
    )
    def checkout(self, customer: int, card: str) -> MultipleResults[str]:
        """Check the cart out; the order settles before the call returns."""
        who = self.customers[customer]
        body = {"payment_method_id": who.cards[card], "shipping_address": ADDRESS}
        headers = {**who.headers, "Idempotency-Key": uuid.uuid4().hex}
        response = self.bridge.run(self.shop.orders.post(ORDERS, json=body, headers=headers))
        if not who.cart:
            expect(response, 422)
            return multiple()
        order = expect(response, 201)
        ordered = {item["product_id"]: item["quantity"] for item in order["items"]}
        assert ordered == who.cart, f"order items {ordered} != cart {who.cart}"
        if any(quantity > self.on_hand[pid] for pid, quantity in who.cart.items()):
            expected = "out_of_stock"
        elif card == "declined":
            expected = "payment_failed"
        else:
            expected = "confirmed"
        assert order["status"] == expected, (
            f"checkout of {who.cart} (on hand {self.on_hand}, card {card}) ended "
            f"{order['status']} ({order['reason']}), expected {expected}"
        )
        model = OrderModel(
            id=order["id"],
            customer=customer,
            items=dict(who.cart),
            status=expected,
            payment_id=order["payment_id"],
        )
        if expected == "confirmed":
            assert order["payment_id"], "a confirmed order has a payment"
            model.was_confirmed = True
            for product_id, quantity in who.cart.items():
                self.on_hand[product_id] -= quantity
        self.placed[model.id] = model
        who.cart.clear()  # placing an order empties it, whatever the outcome (next PUT checks)
        return multiple(model.id)

    @rule(
        target=orders,
        customer=st.integers(0, CUSTOMERS - 1),
        product=st.integers(0, PRODUCTS - 1),
        quantity=st.integers(1, 2),
        card=st.sampled_from(["success", "declined"]),
    )
    def buy_now(
        self, customer: int, product: int, quantity: int, card: str
    ) -> MultipleResults[str]:
        """Put a line in the cart and check out at once (more checkouts per run)."""
        self.add_to_cart(customer, product, quantity)
        return self.checkout(customer, card)

    @rule(order_id=orders, as_admin=st.booleans())
    def cancel(self, order_id: str, as_admin: bool) -> None:
        """Cancel an order: refunds and restocks a confirmed one; 409 for a failed one."""
        model = self.placed[order_id]
        headers = self.shop.admin if as_admin else self.customers[model.customer].headers
        response = self.bridge.run(
            self.shop.orders.post(f"{ORDERS}/{order_id}/cancel", headers=headers)
        )
        if model.status in {"payment_failed", "out_of_stock"}:
            expect(response, 409)
            return
        body = expect(response, 200)
        assert body["status"] == "cancelled", body
        if model.status == "confirmed":
            for product_id, quantity in model.items.items():
                self.on_hand[product_id] += quantity
        model.status = "cancelled"

    @rule(product=st.integers(0, PRODUCTS - 1), delta=st.integers(-3, 4))
    def restock(self, product: int, delta: int) -> None:
        """Admin restock or correction; 422 when on hand would go below reserved (0)."""
        product_id = self.products[product]
        response = self.bridge.run(
            self.shop.catalog.post(
                f"/api/catalog/products/{product_id}/stock",
                json={"delta": delta},
                headers=self.shop.admin,
            )
        )
        if self.on_hand[product_id] + delta < 0:
            expect(response, 422)
            return
        body = expect(response, 200)
        self.on_hand[product_id] += delta
        assert body["on_hand"] == self.on_hand[product_id], body

    # -- invariants ------------------------------------------------------------

    @invariant()
    def shop_adds_up(self) -> None:
        """After every step: stock, orders and payments at the services match the model."""
        if not self.products:
            return
        snapshot = self.bridge.run(self._snapshot())
        self._check_stock(snapshot.products)
        for index, orders in enumerate(snapshot.orders):
            self._check_orders(index, orders)
        for index, payments in enumerate(snapshot.payments):
            self._check_payments(index, payments)

    def _check_stock(self, products: list[dict[str, Any]]) -> None:
        """on_hand == available + reserved, nothing negative or left reserved, as modelled."""
        found = {p["id"]: p for p in products}
        assert set(found) == set(self.products), found
        for product_id, product in found.items():
            on_hand, reserved, available = product["on_hand"], product["reserved"], product["stock"]
            assert on_hand == available + reserved, product
            assert min(on_hand, reserved, available) >= 0, product
            assert reserved == 0, f"stock still reserved after the calls returned: {product}"
            assert on_hand == self.on_hand[product_id], (
                f"{product_id}: on hand {on_hand}, model {self.on_hand[product_id]}"
            )

    def _check_orders(self, index: int, orders: list[dict[str, Any]]) -> None:
        """The customer has exactly the modelled orders, settled, in the predicted state."""
        found = {order["id"]: order["status"] for order in orders}
        expected = {m.id: m.status for m in self.placed.values() if m.customer == index}
        assert set(found) == set(expected), f"orders {set(found)}, model {set(expected)}"
        for order_id, status in found.items():
            assert status in SETTLED, f"order {order_id} left {status}"
            assert status == expected[order_id], (
                f"order {order_id}: {status}, model {expected[order_id]}"
            )

    def _check_payments(self, index: int, payments: list[dict[str, Any]]) -> None:
        """A succeeded payment is a confirmed order's (unrefunded) or refunded in full."""
        succeeded = [p for p in payments if p["status"] == "succeeded"]
        for payment in succeeded:
            model = self.placed.get(payment["order_id"])
            assert model is not None, f"payment for an unknown order: {payment}"
            assert model.customer == index, payment
            amount = payment["amount"]["amount"]
            refunded = payment["refunded_amount"]["amount"]
            if model.status == "confirmed":
                assert refunded == 0, f"confirmed order's payment refunded: {payment}"
                assert model.payment_id == payment["id"], (model, payment)
            else:
                assert refunded == amount, (
                    f"payment of a {model.status} order not refunded in full: {payment}"
                )
        paid = {p["order_id"] for p in succeeded}
        expected = {m.id for m in self.placed.values() if m.customer == index and m.was_confirmed}
        assert paid == expected, f"orders paid {paid}, model {expected}"

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def _check_cart(who: Customer, cart: dict[str, Any]) -> None:
        """The cart a cart call answered is the modelled one."""
        lines = {item["product_id"]: item["quantity"] for item in cart["items"]}
        assert lines == who.cart, f"cart {lines}, model {who.cart}"

    async def _snapshot(self) -> Snapshot:
        """Products, and each customer's orders and payments, fetched concurrently."""
        products = self.shop.catalog.get(
            "/api/catalog/products",
            params={"ids": ",".join(self.products), "limit": 100},
            headers=self.shop.admin,
        )
        orders = [all_pages(self.shop.orders, ORDERS, {}, who.headers) for who in self.customers]
        payments = [
            all_pages(
                self.shop.payments, "/api/payments", {"user_id": who.user_id}, self.shop.admin
            )
            for who in self.customers
        ]
        found, orders_pages, payments_pages = await asyncio.gather(
            products, asyncio.gather(*orders), asyncio.gather(*payments)
        )
        return Snapshot(
            products=expect(found, 200)["items"],
            orders=list(orders_pages),
            payments=list(payments_pages),
        )


@dataclass
class Snapshot:
    """What the services hold after a step."""

    products: list[dict[str, Any]]
    orders: list[list[dict[str, Any]]]
    payments: list[list[dict[str, Any]]]


def test_commerce_flow_adds_up(tmp_path: Path, tokens: TokenFactory) -> None:
    """Random carts, checkouts, cancels and restocks keep stock, orders and payments consistent."""
    bridge = ShopThread(tmp_path, tokens)
    bridge.start()

    class BoundShopMachine(ShopMachine):
        shop_thread = bridge

    try:
        run_machine(BoundShopMachine, settings=MACHINE_SETTINGS)
    finally:
        bridge.stop()
