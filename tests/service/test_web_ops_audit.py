"""Service tests of the console's audit log: its filters by type, subject, order and time.

Events are handed to the real logs service as its consumer would (`tests.support.logs`),
and read back through the console's page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import update

from mercato.web.models import SessionRecord
from mercato.web.ops.access import SERVICE_REFUSED
from mercato.web.ops.audit import PAGE_SIZE
from tests.support.console import Console, open_console
from tests.support.logs import BASE, deliver, event
from tests.support.tokens import TokenFactory


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens) as console:
        await deliver(
            console.app_of("logs"),
            event("user.registered", subject="u1", at=0, user_id="u1", email="a@b.c", name="A"),
            event("order.placed", subject="o1", at=10, order_id="o1", user_id="u1"),
            event("payment.succeeded", subject="p1", at=20, order_id="o1", payment_id="p1"),
            event("order.confirmed", subject="o1", at=30, order_id="o1"),
            event("order.placed", subject="o2", at=40, order_id="o2", user_id="u2"),
        )
        yield console


def listed(html: str) -> list[tuple[str, str]]:
    """(type, subject) of each event the page lists."""
    rows = re.findall(
        r'<th scope="row">[^<]+</th>\s*<td>([^<]+)</td>\s*<td>[^<]+</td>\s*<td>([^<]+)</td>', html
    )
    return [(t, s) for t, s in rows]


def local(seconds: float) -> str:
    """BASE + seconds as a browser's datetime-local value (UTC)."""
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


async def test_without_filters_every_event_is_listed_in_order(console: Console) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops/audit")

    assert answer.status_code == 200
    assert [t for t, _ in listed(answer.text)] == [
        "user.registered",
        "order.placed",
        "payment.succeeded",
        "order.confirmed",
        "order.placed",
    ]
    assert '<label for="audit-type">Event type</label>' in answer.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"type": "order.*"},
            [("order.placed", "o1"), ("order.confirmed", "o1"), ("order.placed", "o2")],
        ),
        ({"type": "order.placed"}, [("order.placed", "o1"), ("order.placed", "o2")]),
        ({"subject": "o2"}, [("order.placed", "o2")]),
        (
            {"order_id": "o1"},
            [("order.placed", "o1"), ("payment.succeeded", "p1"), ("order.confirmed", "o1")],
        ),
        ({"user_id": "u2"}, [("order.placed", "o2")]),
        ({"type": "order.*", "subject": "o1"}, [("order.placed", "o1"), ("order.confirmed", "o1")]),
    ],
)
async def test_the_filters_narrow_the_events(
    console: Console, query: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops/audit", params=query)

    assert answer.status_code == 200
    assert listed(answer.text) == expected
    for name, value in query.items():
        assert f'name="{name}" type="' in answer.text and f'value="{value}"' in answer.text


async def test_a_time_range_takes_the_events_between(console: Console) -> None:
    admin = await console.admin()

    answer = await admin.get("/ops/audit", params={"since": local(10), "until": local(31)})

    assert [t for t, _ in listed(answer.text)] == [
        "order.placed",
        "payment.succeeded",
        "order.confirmed",
    ]
    with_offset = await admin.get(
        "/ops/audit", params={"since": (BASE + timedelta(seconds=35)).isoformat()}
    )
    assert listed(with_offset.text) == [("order.placed", "o2")]


async def test_bad_filters_get_the_form_back_with_the_reason(console: Console) -> None:
    admin = await console.admin()

    bad_time = await admin.get("/ops/audit", params={"since": "yesterday"})
    bad_type = await admin.get("/ops/audit", params={"type": "order placed"})
    backwards = await admin.get("/ops/audit", params={"since": local(30), "until": local(10)})

    assert bad_time.status_code == 422
    assert "From (UTC) must be a date and time" in bad_time.text
    assert 'id="audit-since-error"' in bad_time.text and 'value="yesterday"' in bad_time.text
    assert bad_type.status_code == 422 and 'id="audit-type-error"' in bad_type.text
    assert backwards.status_code == 422 and 'id="audit-until-error"' in backwards.text


async def test_pages_follow_the_cursor_with_the_filters_kept(console: Console) -> None:
    more = [
        event("product.stock_changed", subject="prod", at=100 + i, product_id="prod", on_hand=i)
        for i in range(PAGE_SIZE + 5)
    ]
    await deliver(console.app_of("logs"), *more)
    admin = await console.admin()

    first = await admin.get("/ops/audit", params={"type": "product.*"})
    link = re.search(r'<a href="(/ops/audit\?[^"]+)">Next events</a>', first.text)
    assert link is not None
    second = await admin.get(unescape(link[1]))

    assert len(listed(first.text)) == PAGE_SIZE
    assert "type=product.%2A" in unescape(link[1])
    assert len(listed(second.text)) == 5
    assert "Next events" not in second.text


async def test_the_services_refuse_a_customer_whom_the_web_service_took_for_an_admin(
    console: Console,
) -> None:
    # The second layer: were the web service fooled (a session row saying admin, a
    # role taken away since), the logs service still checks the token: a customer's.
    customer, email = await console.customer()
    runtime = console.app.state.runtime
    async with runtime.database.session() as db:
        await db.execute(
            update(SessionRecord).where(SessionRecord.user_email == email).values(roles="admin")
        )
        await db.commit()

    answer = await customer.get("/ops/audit")

    assert answer.status_code == 403
    assert SERVICE_REFUSED in unescape(answer.text)
    assert "order.placed" not in answer.text
