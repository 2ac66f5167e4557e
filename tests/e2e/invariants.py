"""What must hold after any fault, checked through the gateway: `check_invariants`.

Every fault test ends with `check_invariants` over what it touched (its customers,
their orders, the products they bought), once every order has settled:

- sagas end: while the orders settle, none is in a state the saga drives past its
  `deadline` (the orders service must have left it for an operator by then, and
  none of these tests should need one: `needs_attention` fails the check too);
- stock: `on_hand == available + reserved` for each product, nothing is left
  reserved, and `on_hand` fell by exactly the units of the confirmed orders;
- money: at most one successful charge per order, and every successful charge
  belongs to the confirmed order that recorded it or was refunded in full;
- audit: the audit log holds every event of those customers and orders exactly
  once: each customer's registration and revoked tokens, and for each order the
  events its outcome implies (`order_story`), checked once the log has held still
  for a while, so that a late duplicate is caught too.

The API computes `available` as `on_hand - reserved`, so the first equation cannot
fail through it; the stock check that can is that `reserved` is back where it was
and `on_hand` moved by the sales alone.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.client import (
    SAGA_LEASE_SECONDS,
    SAGA_STALE_SECONDS,
    SAGA_SWEEP_SECONDS,
    TERMINAL,
    Account,
    Shop,
    eventually,
)

__all__ = [
    "DEADLINE_GRACE",
    "QUIET_PERIOD",
    "SETTLE_TIMEOUT",
    "OverdueOrders",
    "admin_product",
    "assert_no_order_overdue",
    "check_invariants",
    "get_json",
    "may_also",
    "order_story",
    "payments_of",
    "settled_orders",
]

FAILED = {"payment_failed", "out_of_stock", "rejected"}
NEEDS_ATTENTION = "needs_attention"
# An interrupted saga waits for its lease to run out, for the order to be idle
# `stale` seconds and for the next sweep; the rest is margin for a loaded machine.
SETTLE_TIMEOUT = SAGA_LEASE_SECONDS + SAGA_STALE_SECONDS + SAGA_SWEEP_SECONDS + 20.0
AUDIT_TIMEOUT = 30.0
QUIET_PERIOD = 3.0  # how long the audit log must hold still before "exactly once" is believed
# How long past its deadline an order may still show its state: the sweeper notices it
# once the order's lease has run out, it has been idle `stale` seconds and a sweep came.
DEADLINE_GRACE = timedelta(
    seconds=SAGA_LEASE_SECONDS + SAGA_STALE_SECONDS + SAGA_SWEEP_SECONDS + 10
)
PAGE = 500

Orders = dict[str, list[dict[str, Any]]]  # a customer's id -> their orders


def get_json(shop: Shop, path: str, headers: dict[str, str], **params: Any) -> Any | None:
    """GET through the gateway; the JSON body on 200, None on an error or a transport failure.

    A process being restarted makes the gateway answer 502/503/504 for a moment, so
    pollers treat anything but 200 as "not yet".
    """
    try:
        response = shop.http.get(path, headers=headers, params=params or None)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def admin_product(shop: Shop, headers: dict[str, str], product_id: str) -> dict[str, Any]:
    """A product as an admin sees it (with `on_hand` and `reserved`), retried while restarting."""
    found: dict[str, Any] = eventually(
        lambda: get_json(shop, f"/api/catalog/products/{product_id}", headers), timeout=10
    )
    assert found["on_hand"] is not None and found["reserved"] is not None, found
    return found


def payments_of(shop: Shop, headers: dict[str, str], user_id: str) -> list[dict[str, Any]]:
    """A user's payments as the admin sees them."""
    page = eventually(
        lambda: get_json(shop, "/api/payments", headers, user_id=user_id, limit=100), timeout=10
    )
    items: list[dict[str, Any]] = page["items"]
    return items


def _orders_of(shop: Shop, account: Account) -> list[dict[str, Any]] | None:
    """Every order of a customer, or None while orders is away."""
    page = get_json(shop, "/api/orders", account.headers, limit=100)
    if page is None:
        return None
    items: list[dict[str, Any]] = page["items"]
    return items


class OverdueOrders(AssertionError):
    """Orders stayed in a state the saga drives past their deadline, or need an operator."""


def overdue_problems(orders: Sequence[dict[str, Any]], now: datetime) -> list[str]:
    """What is wrong with the deadlines of `orders` at `now` (empty when nothing is).

    A settled order has none; one the saga drives must have one, not yet past (with
    the grace the sweeper needs to notice); one that needs an operator is a problem
    in itself here, with its reason.
    """
    problems = []
    for order in orders:
        status = order["status"]
        if status in TERMINAL:
            continue
        if status == NEEDS_ATTENTION:
            problems.append(f"order {order['id']} needs an operator: {order.get('reason')}")
            continue
        deadline = order.get("deadline")
        if deadline is None:
            problems.append(f"order {order['id']} is {status} with no deadline")
        elif now > datetime.fromisoformat(deadline) + DEADLINE_GRACE:
            problems.append(f"order {order['id']} is still {status}, its deadline {deadline}")
    return problems


def assert_no_order_overdue(shop: Shop, accounts: Sequence[Account]) -> None:
    """No order of `accounts` is in a non-terminal state past its deadline (checked now)."""
    found = [order for account in accounts for order in _orders_of(shop, account) or []]
    problems = overdue_problems(found, datetime.now(UTC))
    if problems:
        raise OverdueOrders("\n".join(problems))


def settled_orders(shop: Shop, accounts: Sequence[Account]) -> Orders:
    """Each customer's orders once none is left in a non-terminal state (bounded wait).

    Every look also checks the deadlines (`overdue_problems`): an order that outstays
    its state fails at once.
    """

    def probe() -> Orders | None:
        found: Orders = {}
        settled = True
        for account in accounts:
            orders = _orders_of(shop, account)
            if orders is None:
                return None
            problems = overdue_problems(orders, datetime.now(UTC))
            if problems:
                raise OverdueOrders("\n".join(problems))
            settled = settled and all(o["status"] in TERMINAL for o in orders)
            found[account.id] = orders
        return found if settled else None

    try:
        return eventually(probe, timeout=SETTLE_TIMEOUT, interval=0.5)
    except OverdueOrders:
        raise
    except AssertionError:
        stuck = {
            a.id: [(o["id"], o["status"]) for o in _orders_of(shop, a) or []] for a in accounts
        }
        raise AssertionError(
            f"orders still unsettled after {SETTLE_TIMEOUT:.0f} s: {stuck}"
        ) from None


# -- stock --------------------------------------------------------------------------


def confirmed_units(orders: list[dict[str, Any]], product_id: str) -> int:
    """How many units of a product the confirmed orders among `orders` took."""
    return sum(
        item["quantity"]
        for order in orders
        if order["status"] == "confirmed"
        for item in order["items"]
        if item["product_id"] == product_id
    )


def assert_stock_balanced(
    shop: Shop,
    headers: dict[str, str],
    product_id: str,
    before: dict[str, Any],
    orders: list[dict[str, Any]],
) -> None:
    """on_hand == available + reserved, nothing left reserved, and on_hand fell by the sales."""
    sold = confirmed_units(orders, product_id)

    def probe() -> dict[str, Any] | None:
        now = admin_product(shop, headers, product_id)
        balanced = now["on_hand"] == now["stock"] + now["reserved"]
        settled = now["reserved"] == before["reserved"]
        return now if balanced and settled and now["on_hand"] == before["on_hand"] - sold else None

    try:
        eventually(probe, timeout=10, interval=0.5)
    except AssertionError:
        now = admin_product(shop, headers, product_id)
        raise AssertionError(
            f"stock does not balance: before {before}, now {now}, confirmed units {sold}"
        ) from None


# -- money --------------------------------------------------------------------------


def payment_problems(orders: list[dict[str, Any]], payments: list[dict[str, Any]]) -> list[str]:
    """What is wrong between one user's orders and payments (empty when they agree).

    At most one successful charge per order; a successful charge is the payment of a
    confirmed order, or it has been refunded in full.
    """
    problems = []
    by_id = {order["id"]: order for order in orders}
    succeeded = [p for p in payments if p["status"] == "succeeded"]
    for order_id, count in Counter(p["order_id"] for p in succeeded).items():
        if count > 1:
            problems.append(f"order {order_id} was charged successfully {count} times")
    for payment in succeeded:
        order = by_id.get(payment["order_id"])
        kept = order is not None and order["status"] == "confirmed"
        kept = kept and order is not None and order["payment_id"] == payment["id"]
        refunded = payment["refunded_amount"]["amount"] == payment["amount"]["amount"]
        if not kept and not refunded:
            status = order["status"] if order else "no such order"
            problems.append(f"payment {payment['id']} succeeded for an order {status}, unrefunded")
    return problems


def balanced_payments(shop: Shop, headers: dict[str, str], orders: Orders) -> None:
    """Assert, within a bounded wait, that every user's payments agree with their orders.

    A charge whose outcome was unknown is settled by the sweeper (refund), so a
    disagreement is given time to heal before it fails the test.
    """

    def problems() -> list[str]:
        found: list[str] = []
        for user_id, user_orders in orders.items():
            found += payment_problems(user_orders, payments_of(shop, headers, user_id))
        return found

    try:
        eventually(lambda: True if not problems() else None, timeout=SETTLE_TIMEOUT, interval=1)
    except AssertionError:
        raise AssertionError(f"payments disagree with orders: {problems()}") from None


# -- the audit log ------------------------------------------------------------------


def order_story(order: dict[str, Any], payments: list[dict[str, Any]]) -> Counter[str]:
    """The events a settled order and its payments must each have left in the audit log once.

    Placing it; holding its stock (if it got that far), then taking the stock (when
    confirmed) or giving it back; its outcome; and for each payment of the order its
    result and its refund.
    """
    story: Counter[str] = Counter(["order.placed"])
    reached = {entry["status"] for entry in order["history"]}
    if "reserved" in reached:
        story["inventory.reserved"] += 1
    if "confirmed" in reached:
        story.update(["inventory.committed", "order.confirmed"])
    if "reserved" in reached and order["status"] != "confirmed":
        story["inventory.released"] += 1
    if order["status"] in FAILED:
        story["order.failed"] += 1
    if order["status"] == "cancelled":
        story["order.cancelled"] += 1
    for payment in payments:
        if payment["status"] in ("succeeded", "failed"):
            story[f"payment.{payment['status']}"] += 1
        if payment["refunded_amount"]["amount"] > 0:
            story["payment.refunded"] += 1
    if order["status"] == "confirmed":  # shipping makes its shipment of it
        story["shipment.created"] += 1
    return story


# What `mercato up`'s simulated carrier adds on its own, every 20 s, for as long as it
# has shipments to move: left out of "the log holds still", which it would never do.
CARRIER = frozenset({"shipment.shipped", "shipment.delivered"})


def may_also(order: dict[str, Any]) -> Counter[str]:
    """Events an order may have left once more than `order_story` says, or not, by timing.

    `mercato up`'s simulated carrier moves a shipment on every 20 s, so a confirmed
    order may be shipped and delivered by the time it is checked; an order cancelled
    after it was confirmed has a shipment if shipping saw the confirmation first.
    """
    reached = {entry["status"] for entry in order["history"]}
    if order["status"] == "confirmed":
        return Counter({"shipment.shipped": 1, "shipment.delivered": 1})
    if "confirmed" in reached:
        return Counter({"shipment.created": 1})
    return Counter()


def _audit(shop: Shop, headers: dict[str, str], **where: str) -> list[dict[str, Any]] | None:
    page = get_json(shop, "/api/logs/events", headers, limit=PAGE, **where)
    if page is None:
        return None
    if page["next_cursor"] is not None:  # not a failed check: this helper must page then
        raise RuntimeError(f"more than {PAGE} audit events for {where}")
    items: list[dict[str, Any]] = page["items"]
    return items


def _audit_problems(
    shop: Shop,
    headers: dict[str, str],
    accounts: Sequence[Account],
    orders: Orders,
    logouts: int,
) -> tuple[list[str], dict[str, list[str]]] | None:
    """What the audit log gets wrong, and what it holds; None while logs is away."""
    problems: list[str] = []
    seen: dict[str, list[str]] = {}
    for account in accounts:
        mine = orders.get(account.id, [])
        events = _audit(shop, headers, user_id=account.id)
        if events is None:
            return None
        own = Counter(e["type"] for e in events if e["order_id"] is None)
        expected = Counter({"user.registered": 1, "auth.token_revoked": logouts})
        if own != expected:
            problems.append(f"customer {account.id}: {dict(own)}, expected {dict(expected)}")
        strays = {e["order_id"] for e in events if e["order_id"]} - {o["id"] for o in mine}
        if strays:
            problems.append(f"customer {account.id}: events of orders they do not have: {strays}")
        payments = payments_of(shop, headers, account.id)
        for order in mine:
            story = _audit(shop, headers, order_id=order["id"])
            if story is None:
                return None
            seen[order["id"]] = [e["id"] for e in story if e["type"] not in CARRIER]
            got = Counter(e["type"] for e in story)
            want = order_story(order, [p for p in payments if p["order_id"] == order["id"]])
            if want - got or (got - want) - may_also(order):
                problems.append(f"order {order['id']} ({order['status']}): {dict(got)}")
                problems.append(f"  expected {dict(want)}")
        seen[account.id] = sorted(e["id"] for e in events if e["type"] not in CARRIER)
    return problems, seen


def assert_audited_once(
    shop: Shop,
    headers: dict[str, str],
    accounts: Sequence[Account],
    orders: Orders,
    *,
    logouts: int = 0,
) -> None:
    """Every event of `accounts` and their `orders` is in the audit log, exactly once.

    Waits until the log holds what it should and has not changed for QUIET_PERIOD.
    """
    last: dict[str, list[str]] | None = None
    problems: list[str] = ["the audit log was never readable"]
    stable_since = time.monotonic()

    def probe() -> bool | None:
        nonlocal last, problems, stable_since
        found = _audit_problems(shop, headers, accounts, orders, logouts)
        if found is None:
            return None
        problems, seen = found
        if seen != last:
            last, stable_since = seen, time.monotonic()
            return None
        quiet = time.monotonic() - stable_since >= QUIET_PERIOD
        return True if quiet and not problems else None

    try:
        eventually(probe, timeout=AUDIT_TIMEOUT + QUIET_PERIOD, interval=1.0)
    except AssertionError:
        detail = "\n".join(problems)
        raise AssertionError(
            f"the audit log is wrong after {AUDIT_TIMEOUT:.0f} s:\n{detail}"
        ) from None


def check_invariants(
    shop: Shop,
    admin: Account,
    accounts: Sequence[Account],
    *,
    stock: Mapping[str, dict[str, Any]] | None = None,
    logouts: int = 0,
) -> Orders:
    """Assert the invariants of the module docstring over what a fault test touched.

    `accounts` are the test's customers, `stock` maps each product they bought to how
    an admin saw it before (`admin_product`), `logouts` is how many tokens each
    customer revoked. Returns each customer's settled orders.
    """
    orders = settled_orders(shop, accounts)
    everything = [order for mine in orders.values() for order in mine]
    for product_id, before in (stock or {}).items():
        assert_stock_balanced(shop, admin.headers, product_id, before, everything)
    balanced_payments(shop, admin.headers, orders)
    assert_audited_once(shop, admin.headers, accounts, orders, logouts=logouts)
    return orders
