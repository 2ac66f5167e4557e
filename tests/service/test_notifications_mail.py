"""Service tests of the notifications service's mail: events in, mails at a real SMTP server.

The server is aiosmtpd on a loopback port (`tests.support.mail_server`); events go
through the chassis's idempotent consumer, as the broker's subscription hands them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.chassis.events import Event, PoisonEvent
from mercato.chassis.runtime import Runtime
from mercato.notifications import service
from mercato.notifications.kinds import Kind
from mercato.notifications.mail import (
    Mailer,
    MailUnavailable,
    Outgoing,
    SmtpTarget,
    build_message,
)
from mercato.notifications.models import EVENTS, Message
from mercato.notifications.service import UnknownRecipient
from tests.support.apps import running
from tests.support.mail_server import MailServer
from tests.support.notifications import (
    SHOP_URL,
    confirmed,
    consumer,
    delivered,
    failed,
    notifications_app,
    refunded,
    registered,
    shipped,
)
from tests.support.tokens import TokenFactory

MESSAGES = "/api/notifications/messages"


@pytest.fixture
def app(tmp_path: Path, smtp: MailServer) -> FastAPI:
    """The notifications service mailing through `smtp`."""
    return notifications_app(tmp_path, smtp)


@pytest.fixture
async def client(app: FastAPI, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The started app's client."""
    async with running(app, tokens) as client:
        yield client


async def handle(app: FastAPI, event: Event) -> None:
    """Hand `event` to the service as its subscription does."""
    await consumer(app).handle(event)


async def message_rows(app: FastAPI) -> list[Message]:
    """Every stored message."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        return list(await session.scalars(select(Message)))


async def inbox_count(app: FastAPI) -> int:
    """How many events the service's inbox holds."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        count = await session.scalar(select(func.count()).select_from(EVENTS.inbox))
        return int(count or 0)


async def test_each_event_mails_the_customer(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer, tokens: TokenFactory
) -> None:
    user_id, order_id = str(uuid.uuid4()), f"ord-{uuid.uuid4().hex[:8]}"
    events = [
        registered(user_id, "ada@example.com"),
        confirmed(user_id, order_id),
        failed(user_id, order_id),
        shipped(user_id, order_id),
        delivered(user_id, order_id),
        refunded(user_id, order_id),
    ]
    for event in events:
        await handle(app, event)
    mails = await smtp.wait_for(6)
    assert len(mails) == 6
    assert all(mail.recipients == ["ada@example.com"] for mail in mails)
    assert all(mail.message["To"] == "Ada Lovelace <ada@example.com>" for mail in mails)
    assert all(mail.message["From"] == "Testshop <shop@example.com>" for mail in mails)
    welcome, confirmation, payment, shipping, delivery, refund = mails
    assert welcome.message["Subject"] == "Welcome to Testshop"
    assert "ada@example.com" in welcome.text
    assert confirmation.message["Subject"] == f"Your Testshop order {order_id} is confirmed"
    assert f"Order {order_id} is confirmed and paid: EUR 42.50" in confirmation.text
    assert f"{SHOP_URL}/orders/{order_id}" in confirmation.text
    assert f'href="{SHOP_URL}/orders/{order_id}"' in confirmation.html
    assert "card_declined" in payment.text and order_id in payment.message["Subject"]
    assert "DHL" in shipping.text and "JD0146000038" in shipping.text
    assert "https://track.example.com/JD0146000038" in shipping.html
    assert f"your order {order_id} was delivered" in delivery.text
    assert refund.message["Subject"] == f"Refund of EUR 19.99 for your Testshop order {order_id}"
    # Each mail's id names its event and kind: a resend would carry the same one.
    assert confirmation.message["Message-ID"] == f"<{events[1].id}.order_confirmed@example.com>"
    # What was sent is what the customer's messages show, newest first.
    listed = await client.get(MESSAGES, headers=tokens.headers(user_id, ["customer"]))
    items = listed.json()["items"]
    assert [i["kind"] for i in reversed(items)] == [k.value for k in Kind]
    assert all(i["status"] == "sent" and i["to"] == "ada@example.com" for i in items)
    by_kind = {i["kind"]: i for i in items}
    assert by_kind["order_confirmed"]["order_id"] == order_id
    assert by_kind["order_confirmed"]["text"] == confirmation.text.replace("\r\n", "\n")
    assert by_kind["account_created"]["order_id"] is None


async def test_a_redelivered_event_mails_once(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    await handle(app, registered(user_id, "bob@example.com", "Bob"))
    event = confirmed(user_id)
    await handle(app, event)
    await handle(app, event)  # the broker's redelivery: the inbox skips it
    await smtp.wait_for(2)
    # Past the inbox too (another consumer name, a replayed dead letter): the sent
    # record of (event, kind) keeps it at one mail.
    runtime: Runtime[Any, Any] = app.state.runtime
    courier: service.Courier = runtime.context
    async with runtime.database.transaction() as session:
        again = await service.notify(
            session, courier, event_id=event.id, kind=Kind.ORDER_CONFIRMED,
            user_id=user_id, data=event.data,
        )  # fmt: skip
    assert again is None
    assert len(smtp.arrived()) == 2
    assert [m.kind for m in await message_rows(app)].count("order_confirmed") == 1


async def test_a_kind_turned_off_is_skipped_not_sent(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer, tokens: TokenFactory
) -> None:
    user_id = str(uuid.uuid4())
    headers = tokens.headers(user_id, ["customer"])
    await handle(app, registered(user_id, "cy@example.com", "Cy"))
    put = await client.put(
        "/api/notifications/preferences",
        json={"kinds": {"order_confirmed": False}},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    order_event = confirmed(user_id)
    await handle(app, order_event)
    await handle(app, shipped(user_id, order_event.data["order_id"]))  # still on
    mails = await smtp.wait_for(2)
    assert [m.message["Subject"].split()[0] for m in mails] == ["Welcome", "Your"]
    assert "on its way" in mails[1].message["Subject"]
    listed = (await client.get(MESSAGES, headers=headers)).json()["items"]
    statuses = {item["kind"]: item["status"] for item in listed}
    assert statuses == {
        "account_created": "sent",
        "order_confirmed": "skipped",
        "shipment_shipped": "sent",
    }


async def test_mail_server_down_fails_the_event_then_sends_once_when_back(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    await handle(app, registered(user_id, "di@example.com", "Di"))
    await smtp.wait_for(1)
    smtp.stop()
    event = confirmed(user_id)
    for _ in range(2):  # each delivery fails, and leaves the event to be retried
        with pytest.raises(MailUnavailable):
            await handle(app, event)
    assert [m.kind for m in await message_rows(app)] == ["account_created"]
    assert await inbox_count(app) == 1  # the failed deliveries' inbox rows rolled back
    smtp.start()
    await handle(app, event)
    await handle(app, event)
    mails = await smtp.wait_for(2)  # the welcome, and the confirmation once
    assert len(mails) == 2 and event.data["order_id"] in mails[1].message["Subject"]
    assert await inbox_count(app) == 2


async def test_mails_in_a_row_go_through_one_connection(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    await handle(app, registered(user_id, "ed@example.com", "Ed"))
    await handle(app, confirmed(user_id))
    await handle(app, shipped(user_id, str(uuid.uuid4())))
    mails = await smtp.wait_for(3)
    assert mails[0].peer is not None
    assert {mail.peer for mail in mails} == {mails[0].peer}


async def test_a_connection_the_server_closed_is_replaced_before_the_next_mail(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    await handle(app, registered(user_id, "flo@example.com", "Flo"))
    await smtp.wait_for(1)
    smtp.stop()  # a restart of the server: the kept connection is closed
    smtp.start()
    await handle(app, confirmed(user_id))  # no failure: sent on a new connection
    first, second = await smtp.wait_for(2)
    assert second.peer is not None and second.peer != first.peer


async def test_a_mail_that_finds_the_kept_connection_gone_is_sent_on_a_new_one() -> None:
    """The server restarts between two mails, and the second begins before the client
    has read the old connection's end: it is sent again on a new connection."""
    server = MailServer()
    server.start()
    mailer = Mailer(SmtpTarget("127.0.0.1", server.port), timeout=5.0)

    def message(n: int) -> EmailMessage:
        mail = Outgoing("Gus", "gus@example.com", f"Mail {n}", "Hello", "<p>Hello</p>", f"<{n}@x>")
        return build_message(mail, sender="Shop <shop@example.com>")

    try:
        await mailer.send(message(1))
        server.stop()
        server.start()
        await mailer.send(message(2))  # no await between: the old connection looks open
        first, second = await server.wait_for(2)
        assert [first.message["Subject"], second.message["Subject"]] == ["Mail 1", "Mail 2"]
        assert second.peer is not None and second.peer != first.peer
    finally:
        await mailer.close()
        server.stop()


async def test_an_unknown_user_is_retried_until_registered(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    event = confirmed(user_id)
    with pytest.raises(UnknownRecipient):  # not a PoisonEvent: the chassis retries it
        await handle(app, event)
    await handle(app, registered(user_id, "ed@example.com", "Ed"))
    await handle(app, event)
    mails = await smtp.wait_for(2)
    assert mails[1].recipients == ["ed@example.com"]


async def test_markup_in_a_name_is_escaped_in_html(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    await handle(app, registered(user_id, "fay@example.com", "<script>alert(1)</script>"))
    [mail] = await smtp.wait_for(1)
    assert "<script>" not in mail.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "Hello <script>alert(1)</script>," in mail.text  # text is not HTML


async def test_events_it_cannot_understand_are_dead_lettered_at_once(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    broken = Event.new("order.confirmed", subject="o", data={"order_id": "o"}, source="orders")
    with pytest.raises(PoisonEvent):
        await handle(app, broken)
    data = registered(user_id, "gil@example.com").data
    newer = Event.new("user.registered", subject=user_id, data=data, source="auth", version=2)
    with pytest.raises(PoisonEvent):
        await handle(app, newer)
    forged = Event.new("order.confirmed", subject="o", data=confirmed(user_id).data, source="web")
    with pytest.raises(PoisonEvent):
        await handle(app, forged)
    assert smtp.arrived() == [] and await message_rows(app) == []


async def test_an_event_too_old_to_be_news_mails_nobody(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    """A consumer new to a running system reads days of history: no late mails from it."""
    user_id, known = str(uuid.uuid4()), str(uuid.uuid4())
    days_ago = datetime.now(UTC) - timedelta(days=3)
    old_registration = registered(user_id, "old@example.com", "Old").model_copy(
        update={"occurred_at": days_ago}
    )
    await handle(app, old_registration)
    stranger = confirmed(str(uuid.uuid4())).model_copy(update={"occurred_at": days_ago})
    await handle(app, stranger)  # an unknown user, yet no retry: it is history
    await handle(app, confirmed(user_id).model_copy(update={"occurred_at": days_ago}))
    assert smtp.arrived() == [] and await message_rows(app) == []
    # The old registration still taught it the address: today's order is mailed.
    await handle(app, registered(known, "new@example.com"))
    await handle(app, confirmed(user_id))
    mails = await smtp.wait_for(2)
    assert mails[1].recipients == ["old@example.com"]


async def test_a_tracking_link_that_is_not_a_web_link_is_dropped(
    app: FastAPI, client: httpx.AsyncClient, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    await handle(app, registered(user_id, "gus@example.com", "Gus\r\nBcc: x@example.com"))
    event = shipped(user_id, "ord-1")
    hostile = event.model_copy(
        update={"data": {**event.data, "tracking_url": "javascript:alert(1)"}}
    )
    await handle(app, hostile)
    welcome, mail = await smtp.wait_for(2)
    assert "javascript:" not in mail.html and "javascript:" not in mail.text
    assert "JD0146000038" in mail.text  # the tracking number is still there
    assert welcome.recipients == ["gus@example.com"] and welcome.message["Bcc"] is None
