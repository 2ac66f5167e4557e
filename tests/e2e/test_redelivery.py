"""A consumer killed before it acknowledges, end to end: the events come again, one effect each.

The logs service consumes every event. While an admin restocks a product through
the gateway one unit at a time (each restock is one `product.stock_changed` event
carrying the new `on_hand`), the test freezes logs-1 with SIGSTOP, so the events
the broker hands it are neither handled nor acknowledged, then kills it with
SIGKILL. The launcher restarts it; the broker delivers the unacknowledged events
again (NATS after its ack wait, RabbitMQ when the connection drops), and the audit
log must end up with every restock exactly once: none lost, none twice.

On the embedded NATS the test also asks the broker that logs-1 really held
unacknowledged events when it was killed (and freezes it again if not), so the kill
lands between delivery and acknowledgement. The effect is idempotent twice over:
the consumer's inbox skips an event it handled, and an audit row is keyed by the
event id; the test checks the outcome, one entry per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import httpx
import nats
import pytest

from mercato.chassis.events.names import OPERATOR, inbox_prefix
from mercato.launcher.commands import operator_url
from mercato.launcher.topology import Layout
from tests.e2e.client import EVENT_ACK_WAIT_SECONDS, Account, Shop, System, eventually
from tests.e2e.invariants import QUIET_PERIOD, get_json
from tests.e2e.test_checkout_race import new_product
from tests.e2e.test_faults import process_restored

pytestmark = pytest.mark.e2e

CONSUMER = "logs"  # the durable consumer of the logs service (its service name)
EVENTS_STREAM = "MERCATO_EVENTS"  # the default namespace's stream (nats_bus.py)
RESTOCK_INTERVAL = 0.1  # below the gateway's per-user write limit (20/s)
WARM_UP = 10  # restocks handled normally before logs-1 is frozen
WHILE_FROZEN = 10  # restocks published while it is frozen, per try
AFTER_RESTART = 5  # restocks published once it is back
PAUSE_TRIES = 5
EVENTS_TIMEOUT = 30.0  # how long the restocks may take to reach a given count
# Four times the e2e ack wait, and well below NATS's default of 30 s: were the setting
# not to reach the consumer, the events would come back too late and the test fail.
REDELIVERY_TIMEOUT = 4 * EVENT_ACK_WAIT_SECONDS


class Restocker:
    """Adds one unit at a time to a product through the gateway, in a thread of its own.

    `on_hand` records what every answered restock left on hand: 1, 2, 3, ...
    """

    def __init__(self, base_url: str, headers: dict[str, str], product_id: str) -> None:
        self.base_url = base_url
        self.headers = headers
        self.product_id = product_id
        self.on_hand: list[int] = []
        self._halt = threading.Event()
        self._guard = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="restocker", daemon=True)

    @property
    def count(self) -> int:
        """How many restocks were answered."""
        with self._guard:
            return len(self.on_hand)

    def _run(self) -> None:
        path = f"/api/catalog/products/{self.product_id}/stock"
        with httpx.Client(base_url=self.base_url, timeout=10.0, trust_env=False) as http:
            while not self._halt.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    response = http.post(path, json={"delta": 1}, headers=self.headers)
                    if response.status_code == 200:
                        with self._guard:
                            self.on_hand.append(int(response.json()["on_hand"]))
                self._halt.wait(RESTOCK_INTERVAL)

    def start(self) -> None:
        """Start restocking."""
        self._thread.start()

    def reach(self, count: int) -> None:
        """Wait until `count` restocks were answered (bounded)."""
        eventually(lambda: True if self.count >= count else None, timeout=EVENTS_TIMEOUT)

    def stop(self) -> None:
        """Stop restocking and wait for the thread to end."""
        self._halt.set()
        self._thread.join(timeout=15.0)


def unacknowledged(system: System) -> int | None:
    """Events delivered to the logs consumer but not acknowledged, on the embedded NATS.

    None when the system runs no embedded NATS (another broker is not asked).
    """
    if system.pid("nats") is None:
        return None

    async def ask() -> int:
        # As the operator: the broker admits no one without credentials.
        url = operator_url(Layout(port=system.port, data_dir=system.data_dir))
        connection = await nats.connect(url, connect_timeout=2, inbox_prefix=inbox_prefix(OPERATOR))
        try:
            info = await connection.jetstream().consumer_info(EVENTS_STREAM, CONSUMER)
            return int(info.num_ack_pending or 0)
        finally:
            await connection.close()

    return asyncio.run(ask())


def freeze_with_events_in_flight(system: System, pid: int, restocker: Restocker) -> int | None:
    """SIGSTOP logs-1 while events flow, until the broker shows some unacknowledged.

    Returns how many were unacknowledged (None if the broker cannot be asked). A try
    that caught none (the process was between two fetches) lets it go on and retries.
    """
    for _ in range(PAUSE_TRIES):
        os.kill(pid, signal.SIGSTOP)
        restocker.reach(restocker.count + WHILE_FROZEN)
        pending = unacknowledged(system)
        if pending is None or pending > 0:
            return pending
        os.kill(pid, signal.SIGCONT)
        restocker.reach(restocker.count + WARM_UP)
    return 0


def audited_on_hand(shop: Shop, admin: Account, product_id: str) -> list[int] | None:
    """The on_hand of every `product.stock_changed` audit entry of the product."""
    page = get_json(
        shop,
        "/api/logs/events",
        admin.headers,
        subject=product_id,
        type="product.stock_changed",
        limit=500,
    )
    if page is None:
        return None
    assert page["next_cursor"] is None, "more restocks than one page"
    items: list[dict[str, Any]] = page["items"]
    return [int(item["data"]["on_hand"]) for item in items]


def test_logs_killed_before_acknowledging_records_every_event_exactly_once(
    shop: Shop, system: System, admin: Account
) -> None:
    product_id = new_product(shop, admin, stock=0)
    restocker = Restocker(system.base_url, admin.headers, product_id)

    with process_restored(system, "logs-1") as old_pid:
        restocker.start()
        try:
            restocker.reach(WARM_UP)
            in_flight = freeze_with_events_in_flight(system, old_pid, restocker)
            os.kill(old_pid, signal.SIGKILL)
            system.wait_restarted("logs-1", old_pid)
            restocker.reach(restocker.count + AFTER_RESTART)
        finally:
            restocker.stop()

    assert in_flight is None or in_flight > 0, "logs-1 never held an unacknowledged event"
    expected = Counter(restocker.on_hand)
    assert sorted(expected) == list(range(1, len(restocker.on_hand) + 1))

    def complete() -> list[int] | None:
        audited = audited_on_hand(shop, admin, product_id)
        return audited if audited is not None and expected <= Counter(audited) else None

    try:
        eventually(complete, timeout=REDELIVERY_TIMEOUT, interval=1.0)
    except AssertionError:
        so_far = audited_on_hand(shop, admin, product_id) or []
        missing = sorted((expected - Counter(so_far)).elements())
        raise AssertionError(f"restocks missing from the audit log: {missing}") from None
    time.sleep(QUIET_PERIOD)  # a late second delivery would show up by now
    audited = audited_on_hand(shop, admin, product_id)
    assert audited is not None
    assert Counter(audited) == expected, sorted(audited)
