"""Service tests of the console's mails page: the mails sent, one mail, the templates.

The notifications service runs for real, mailing a test SMTP server; its events are
handed to it through the chassis consumer, as its subscription would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import pytest

from mercato.web.ops.access import ADMINS_ONLY
from tests.support.console import Console, open_console
from tests.support.mail_server import MailServer
from tests.support.ops_fulfilment import mail
from tests.support.tokens import TokenFactory

PAGE = "/ops/mails"


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory, smtp: MailServer) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens, mail=smtp) as console:
        yield console


def mail_links(text: str) -> list[str]:
    return [part.split('"')[0] for part in text.split('href="/ops/mails/')[1:]]


async def test_the_mails_sent_filtered_by_order_and_by_user(console: Console) -> None:
    await mail(console, "u-ann", "ann@example.com", "ord-ann-1")
    await mail(console, "u-bob", "bob@example.com", "ord-bob-1")
    admin = await console.admin()

    everything = await admin.get(PAGE)
    by_order = await admin.get(PAGE, params={"order_id": "ord-ann-1"})
    by_user = await admin.get(PAGE, params={"user_id": "u-bob"})

    assert everything.status_code == 200
    assert "ann@example.com" in everything.text and "bob@example.com" in everything.text
    assert 'href="/ops/orders/ord-ann-1"' in everything.text
    assert "ord-ann-1" in by_order.text and "bob@example.com" not in by_order.text
    assert len([m for m in mail_links(by_order.text) if m != "templates"]) == 1
    assert "bob@example.com" in by_user.text and "ann@example.com" not in by_user.text
    assert len([m for m in mail_links(by_user.text) if m != "templates"]) == 2  # welcome, order
    nobody = await admin.get(PAGE, params={"user_id": "u-nobody"})
    assert "No mail matches." in nobody.text


async def test_one_mails_text(console: Console, smtp: MailServer) -> None:
    await mail(console, "u-ann", "ann@example.com", "ord-ann-2")
    admin = await console.admin()
    listed = await admin.get(PAGE, params={"order_id": "ord-ann-2"})
    [message_id] = [m for m in mail_links(listed.text) if m != "templates"]

    page = await admin.get(f"{PAGE}/{message_id}")
    missing = await admin.get(f"{PAGE}/no-such-mail")

    assert page.status_code == 200
    text = unescape(page.text)
    assert "ann@example.com" in text and "ord-ann-2" in text
    arrived = [m for m in smtp.arrived() if "ord-ann-2" in m.text]
    assert arrived and arrived[0].text.strip().splitlines()[0] in text  # the mail's own text
    assert missing.status_code == 404


async def test_the_templates_previewed(console: Console) -> None:
    admin = await console.admin()

    page = await admin.get(f"{PAGE}/templates")

    assert page.status_code == 200
    for kind in ("account_created", "order_confirmed", "shipment_shipped", "refund_issued"):
        assert f'id="template-{kind}"' in page.text, kind
    assert 'sandbox=""' in page.text and "srcdoc=" in page.text
    assert "<script" not in page.text.split("srcdoc=")[1].split('"')[1]  # escaped HTML


async def test_a_bad_filter_is_said(console: Console) -> None:
    admin = await console.admin()

    bad = await admin.get(PAGE, params={"cursor": "not-a-cursor"})

    assert bad.status_code == 422 and "These filters cannot be used" in bad.text


async def test_customers_and_visitors_are_kept_out(console: Console) -> None:
    await mail(console, "u-ann", "ann@example.com", "ord-ann-3")
    customer, _ = await console.customer()

    for path in (PAGE, f"{PAGE}/templates", f"{PAGE}/anything"):
        seen = await customer.get(path)
        assert seen.status_code == 403 and ADMINS_ONLY in seen.text, path
        assert "ann@example.com" not in seen.text
        visitor = await console.browser().get(path)
        assert visitor.status_code == 303 and "/login" in visitor.headers["location"], path


async def test_notifications_down_is_said_on_the_page(tmp_path: Path, tokens: TokenFactory) -> None:
    async with open_console(tmp_path, tokens) as console:  # no notifications service
        admin = await console.admin()
        page = await admin.get(PAGE)
        assert page.status_code == 200
        assert "Mail is unavailable right now" in page.text
