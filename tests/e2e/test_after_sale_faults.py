"""Notifications or shipping down, end to end: the checkouts go on as usual, and what they
missed is done once they are back, once.

Notifications is stopped (SIGSTOP: it holds its connections but answers nothing, as a
hung process does) while a customer checks out three times through the gateway; the
orders confirm without it, since nothing on the checkout's path waits for mail. Once
it runs again its consumer reads the confirmations it missed and mails each, and the
development mail sink holds exactly one confirmation per order.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter

import pytest

from tests.e2e.checkouts import (
    Attempt,
    order_of,
    post_checkout,
    prepare_shoppers,
    well_stocked_product,
)
from tests.e2e.client import Account, Shop, System, confirmed_checkout, eventually
from tests.e2e.test_notification_delivery import sunk
from tests.e2e.test_shipping import audit

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["nats"], indirect=True)]

QUIET = 5.0  # seconds the sink must hold still before the mails are counted


def test_checkouts_go_on_while_notifications_is_down_and_each_mail_comes_once(
    system: System, shop: Shop, customer: Account
) -> None:
    pid = system.pid("notifications-1")
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        orders = [confirmed_checkout(shop, customer) for _ in range(3)]
    finally:
        os.kill(pid, signal.SIGCONT)
    subjects = {f"Your Mercato order {order['id']} is confirmed" for order in orders}

    def counted() -> Counter[str] | None:
        found = Counter(str(mail["Subject"]) for mail in sunk(system, customer.email))
        return found if subjects <= set(found) else None

    eventually(counted, timeout=60, interval=0.5)
    time.sleep(QUIET)  # a second mail of one event would come within this
    found = counted()
    assert found is not None
    assert {subject: found[subject] for subject in subjects} == dict.fromkeys(subjects, 1)


def test_shipping_down_at_confirmation_makes_the_shipment_when_it_is_back(
    system: System, shop: Shop, admin: Account
) -> None:
    """The order is placed (shipping quotes it), then shipping stops before the order is
    confirmed: the confirmation waits in the broker, and the shipment appears, once,
    when shipping runs again.

    Payments is held stopped while the order is placed, so that the order cannot be
    confirmed before shipping is stopped too; it is let go once shipping is down.
    """
    product = well_stocked_product(shop, 1)
    (shopper,) = prepare_shoppers(shop, product["id"], 1)
    payments, shipping = system.pid("payments-1"), system.pid("shipping-1")
    assert payments is not None and shipping is not None
    os.kill(payments, signal.SIGSTOP)
    try:
        attempt = post_checkout(system.base_url, Attempt(shopper, str(uuid.uuid4())))
        os.kill(shipping, signal.SIGSTOP)
    finally:
        os.kill(payments, signal.SIGCONT)
    try:
        assert attempt.status == 201 and attempt.order_id is not None, attempt
        order = order_of(shop, shopper.account, attempt.order_id)
        assert order["status"] == "confirmed", order

        def confirmed() -> list[str] | None:  # the audit log learns it a moment later
            found = [e["type"] for e in audit(shop, admin, order["id"])]
            return found if "order.confirmed" in found else None

        types = eventually(confirmed, timeout=20, interval=0.25)
        time.sleep(1.0)  # were shipping running, its shipment.created would follow
        types = [e["type"] for e in audit(shop, admin, order["id"])]
        assert "shipment.created" not in types, types
    finally:
        os.kill(shipping, signal.SIGCONT)

    def created() -> list[str] | None:
        found = [e["type"] for e in audit(shop, admin, order["id"])]
        return found if "shipment.created" in found else None

    eventually(created, timeout=60, interval=0.5)
    time.sleep(QUIET)
    assert [e["type"] for e in audit(shop, admin, order["id"])].count("shipment.created") == 1
