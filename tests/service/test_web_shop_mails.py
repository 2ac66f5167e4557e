"""Service tests of `/account/mails`: the shopper's mails and their mail preferences.

The storefront in front of real services (`tests.support.shop_pages`) with the
notifications service mailing through a real SMTP server on a loopback port; its
events are handed to its own consumer (`tests.support.notifications`), there being
no broker.
"""

from __future__ import annotations

import base64
import html as markup
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from mercato.chassis.events import IdempotentConsumer
from tests.support.mail_server import MailServer
from tests.support.notifications import confirmed, consumer, registered, shipped
from tests.support.shop_pages import SAME_SITE, ShopPages, open_shop_pages
from tests.support.tokens import TokenFactory
from tests.support.web import page_form

pytestmark = pytest.mark.asyncio(loop_scope="module")
MAILS = "/account/mails"
PREFERENCES = "/api/notifications/preferences"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shop(
    tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[ShopPages]:
    """The shop with notifications behind it, mailing through a real SMTP server."""
    server = MailServer()
    server.start()
    try:
        async with open_shop_pages(
            tmp_path_factory.mktemp("mails"), tokens, mail_server=server
        ) as shop:
            yield shop
    finally:
        server.stop()


def _subject(headers: dict[str, str]) -> str:
    """The user id a bearer token names (its `sub`; auth verified it when it was issued)."""
    payload = headers["Authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def _mails(shop: ShopPages) -> IdempotentConsumer:
    assert shop.notifications is not None
    return consumer(shop.notifications.app)


async def _mailed(shop: ShopPages) -> tuple[httpx.AsyncClient, dict[str, str], str]:
    """A signed-in shopper who was welcomed and whose order was confirmed, then shipped;
    their browser, token and the order's id."""
    browser, email = await shop.customer()
    token = await shop.token(email)
    user_id = _subject(token)
    handle = _mails(shop).handle
    await handle(registered(user_id, email, "Ann Shopper"))
    order = confirmed(user_id)
    order_id = str(order.data["order_id"])
    await handle(order)
    await handle(shipped(user_id, order_id))
    return browser, token, order_id


def _rows(html: str) -> list[tuple[str, str, str]]:
    """The mails listed: (link, subject, kind)."""
    return re.findall(
        r'<th scope="row"><a href="(/account/mails/[^"]+)">([^<]+)</a>.*?</th>\s*'
        r"<td><time[^>]*>[^<]+</time></td>\s*<td>([^<]+)</td>",
        html,
        re.S,
    )


async def test_the_account_page_links_to_the_mails_and_their_preferences(
    shop: ShopPages,
) -> None:
    browser, _ = await shop.customer()
    page = (await browser.get("/account")).text
    assert '<a href="/account/mails">Your mails</a>' in page
    assert '<a href="/account/mails#preferences-heading">Mail preferences</a>' in page


async def test_a_visitor_is_sent_to_sign_in(shop: ShopPages) -> None:
    visitor = shop.browser()
    answer = await visitor.get(MAILS)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Faccount%2Fmails"


async def test_the_mails_are_listed_newest_first_and_each_opens(shop: ShopPages) -> None:
    browser, _, order_id = await _mailed(shop)

    page = (await browser.get(MAILS)).text

    rows = _rows(page)
    assert [kind for _, _, kind in rows] == [
        "Order shipped",
        "Order confirmed",
        "Welcome to your account",
    ]
    link, subject, _ = rows[1]
    mail = await browser.get(link)
    assert mail.status_code == 200
    assert f"<h1>{subject}</h1>" in mail.text
    assert order_id in mail.text  # its text names the order
    assert '<pre class="mail-text">' in mail.text
    assert f'<a href="/orders/{order_id}">See the order</a>' in mail.text


async def test_another_shoppers_mail_or_none_is_not_found(shop: ShopPages) -> None:
    ann, _, _ = await _mailed(shop)
    link = _rows((await ann.get(MAILS)).text)[0][0]
    mallory, _, _ = await _mailed(shop)

    assert (await mallory.get(link)).status_code == 404
    assert (await mallory.get(f"{MAILS}/no-such-mail")).status_code == 404
    assert link not in (await mallory.get(MAILS)).text


async def test_preferences_are_saved_and_the_welcome_stays_on(shop: ShopPages) -> None:
    browser, token, _ = await _mailed(shop)
    page = (await browser.get(MAILS)).text
    welcome = re.search(r'<input type="checkbox" id="mail-kind-account_created"[^>]*>', page)
    assert welcome is not None
    assert "checked" in welcome.group(0) and "disabled" in welcome.group(0)
    assert '<label for="mail-kind-order_confirmed">Order confirmed</label>' in page
    fields = page_form(page, "mail-preferences")
    fields.pop("order_confirmed")  # the shopper unticks it
    fields.pop("account_created", None)  # disabled: a browser never sends it

    answer = await browser.post(f"{MAILS}/preferences", data=fields, headers=SAME_SITE)

    assert answer.status_code == 303 and answer.headers["location"] == MAILS
    shown = (await browser.get(MAILS)).text
    assert "Your mail preferences are saved." in shown
    box = re.search(r'<input type="checkbox" id="mail-kind-order_confirmed"[^>]*>', shown)
    assert box is not None and "checked" not in box.group(0)
    assert shop.notifications is not None
    prefs = await shop.api(shop.notifications, "GET", PREFERENCES, headers=token)
    assert prefs["kinds"]["order_confirmed"] is False
    assert prefs["kinds"]["account_created"] is True
    assert prefs["kinds"]["shipment_shipped"] is True


async def test_preferences_without_the_csrf_token_are_refused_and_unchanged(
    shop: ShopPages,
) -> None:
    browser, token, _ = await _mailed(shop)
    fields = page_form((await browser.get(MAILS)).text, "mail-preferences")
    fields.pop("order_confirmed")
    del fields["csrf_token"]

    answer = await browser.post(f"{MAILS}/preferences", data=fields, headers=SAME_SITE)

    assert answer.status_code == 403
    assert markup.escape("We could not accept this form") in answer.text
    assert shop.notifications is not None
    prefs = await shop.api(shop.notifications, "GET", PREFERENCES, headers=token)
    assert prefs["kinds"]["order_confirmed"] is True


async def test_a_mails_link_that_no_longer_works_starts_from_the_newest(shop: ShopPages) -> None:
    browser, _, _ = await _mailed(shop)
    answer = await browser.get(MAILS, params={"after": "garbage"})
    assert answer.status_code == 303 and answer.headers["location"] == MAILS
    assert len(_rows((await browser.get(MAILS)).text)) == 3
