"""The operations console's browser tests: the administrator's steps, and a real dead letter.

`log_in_as_admin` signs the administrator `mercato up` was started with in through the
login form. `poison_dead_letter` makes a real dead letter in the running system: it
publishes, as the broker's operator (who may publish any event type, to replay), a
`user.registered` event of a version the users service does not understand, which
users' consumer refuses for good and dead-letters (the logs service records it as
any event); its id identifies the dead letter. `png` is a small picture to upload.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image
from playwright.sync_api import Page

from mercato.chassis.events import Event, connect_bus
from mercato.chassis.events.names import OPERATOR
from mercato.launcher.commands import operator_url
from mercato.launcher.topology import Layout
from tests.e2e.client import ADMIN_EMAIL, ADMIN_PASSWORD, Shop, System, eventually
from tests.support.browser import Customer, log_in

__all__ = [
    "ADMIN",
    "dead_letters_of",
    "log_in_as_admin",
    "png",
    "poison_dead_letter",
    "wait_dead_lettered",
]

ADMIN = Customer("Admin", ADMIN_EMAIL, ADMIN_PASSWORD)


def log_in_as_admin(page: Page, *, next_path: str | None = None) -> None:
    """Sign the administrator in through the login form."""
    log_in(page, ADMIN, next_path=next_path)


def poison_dead_letter(system: System) -> Event:
    """Publish an event users' consumer dead-letters at once; the event."""
    event = Event.new(
        "user.registered",
        subject=str(uuid.uuid4()),
        data={"user_id": str(uuid.uuid4()), "email": "poison@example.com", "name": "Poison"},
        source="auth",
        version=99,  # users understands v1 only: a PoisonEvent, dead-lettered unhandled
    )

    async def publish() -> None:
        url = operator_url(Layout(port=system.port, data_dir=system.data_dir))
        bus = connect_bus(url, service=OPERATOR, tails=())
        await bus.connect()
        try:
            await bus.publish(event)
        finally:
            await bus.close()

    # In a thread of its own: Playwright's synchronous API runs an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, publish()).result(timeout=30)
    return event


def dead_letters_of(
    shop: Shop, headers: dict[str, str], event_id: str, consumer: str = "users"
) -> list[dict[str, Any]]:
    """The dead letters of the event `event_id` by `consumer` (users: notifications
    dead-letters a poisoned `user.registered` too), from the logs service's API."""
    answer = shop.http.get("/api/logs/dead-letters", headers=headers)
    assert answer.status_code == 200, answer.text
    return [
        d
        for d in answer.json()["items"]
        if (d["event"] or {}).get("id") == event_id and d["consumer"] == consumer
    ]


def wait_dead_lettered(shop: Shop, headers: dict[str, str], event_id: str) -> dict[str, Any]:
    """Users' dead letter of `event_id`, once its consumer has dead-lettered it."""
    found = eventually(lambda: dead_letters_of(shop, headers, event_id) or None, timeout=20)
    return found[0]


def png() -> bytes:
    """A small PNG picture."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (11, 93, 59)).save(out, format="PNG")
    return out.getvalue()
