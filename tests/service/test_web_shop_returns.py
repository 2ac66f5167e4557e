"""Service tests of an order's delivery and returns on its page, against real services.

Orders, shipping and the storefront are real (`tests.support.shop_pages` with
shipping served); the events between orders and shipping are carried by hand through
each service's own handlers (`tests.support.shop_goods`), there being no broker.
"""

from __future__ import annotations

import html as markup
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import update

from mercato.shipping.models import Shipment
from tests.support.shop_goods import TRACKING_URL, ShopGoods
from tests.support.shop_pages import (
    ADDRESS,
    CARD_OK,
    SAME_SITE,
    ShopPages,
    checkout_fields,
    expiry,
    open_shop_pages,
    order_path,
)
from tests.support.tokens import TokenFactory
from tests.support.web import page_form, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shop(
    tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[ShopPages]:
    """The shop with the shipping service behind it."""
    async with open_shop_pages(tmp_path_factory.mktemp("returns"), tokens, shipping=True) as s:
        yield s


async def _order(
    shop: ShopPages, browser: httpx.AsyncClient, quantity: int = 2
) -> tuple[str, dict[str, Any]]:
    """A settled order of `quantity` of a new product, placed through the pages."""
    tea = await shop.product(title="Oolong tea", stock=10)
    await submit(
        browser,
        "/cart/items",
        {"product_id": tea["id"], "quantity": str(quantity)},
        page=f"/product/{tea['id']}",
    )
    page = await browser.get("/checkout")
    fields = {
        **checkout_fields(page.text),
        **ADDRESS,
        "payment": "new",
        "card_number": CARD_OK,
        "expiry": expiry(),
        "cvc": "123",
    }
    path = order_path(await browser.post("/checkout", data=fields, headers=SAME_SITE))
    assert (await shop.wait_settled(browser, path))["status"] == "confirmed"
    return path, tea


def _return_fields(html: str, quantity: str, reason: str) -> dict[str, str]:
    fields = page_form(html, "return-form")
    [name] = [n for n in fields if n.startswith("quantity-")]
    return {**fields, name: quantity, "reason": reason}


async def _delivered(shop: ShopPages) -> tuple[httpx.AsyncClient, str, dict[str, Any]]:
    browser, _ = await shop.customer()
    path, tea = await _order(shop, browser)
    await ShopGoods(shop).delivered(path.rsplit("/", 1)[1])
    return browser, path, tea


async def test_the_order_page_shows_where_the_goods_are_and_each_shipment(
    shop: ShopPages,
) -> None:
    browser, _ = await shop.customer()
    path, _ = await _order(shop, browser)
    order_id = path.rsplit("/", 1)[1]
    goods = ShopGoods(shop)

    before = (await browser.get(path)).text
    assert "Delivery status: <strong>Not shipped yet</strong>" in before
    assert 'id="return-form"' not in before  # nothing delivered: nothing to return
    assert "You have not returned anything from this order." in before

    shipment = await goods.ship(order_id)
    await goods.move(shipment, "pack", "ship")
    await goods.relay()
    shipped = (await browser.get(path)).text
    assert "Delivery status: <strong>Shipped</strong>" in shipped
    assert "Shipment 1: On its way" in shipped
    assert "Carrier: DHL" in shipped and "JD014600" in shipped
    assert f'<a href="{TRACKING_URL}" rel="noopener noreferrer">Track shipment 1</a>' in shipped
    assert "Oolong tea × 2" in shipped
    assert 'id="return-form"' not in shipped  # on its way, not yet delivered

    await goods.move(shipment, "deliver")
    await goods.relay()
    delivered = (await browser.get(path)).text
    assert "Delivery status: <strong>Delivered</strong>" in delivered
    assert "Shipment 1: Delivered" in delivered
    assert '<label for="return-quantity-1">How many of Oolong tea to return</label>' in delivered
    assert "From 0 to 2." in delivered


async def test_a_return_is_asked_for_and_shown_with_its_status(shop: ShopPages) -> None:
    browser, path, tea = await _delivered(shop)
    page = (await browser.get(path)).text

    answer = await browser.post(
        f"{path}/returns", data=_return_fields(page, "1", "Too strong"), headers=SAME_SITE
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == f"{path}#returns-heading"
    shown = (await browser.get(path)).text
    assert "Your return is requested." in shown
    assert "Requested: we will tell you where to send it" in shown
    assert "Reason: Too strong" in shown
    assert "From 0 to 1." in shown  # one of two is claimed
    order_id = path.rsplit("/", 1)[1]
    listed = await shop.api(
        shop.shipping, "GET", "/api/shipping/returns", params={"order_id": order_id}
    )
    [asked] = listed["items"]
    assert asked["items"] == [{"product_id": tea["id"], "quantity": 1}]
    assert asked["reason"] == "Too strong" and asked["status"] == "requested"


async def test_a_return_without_the_csrf_token_is_refused_and_nothing_asked(
    shop: ShopPages,
) -> None:
    browser, path, _ = await _delivered(shop)
    fields = _return_fields((await browser.get(path)).text, "1", "Broken")
    del fields["csrf_token"]

    answer = await browser.post(f"{path}/returns", data=fields, headers=SAME_SITE)
    assert answer.status_code == 403
    assert "We could not accept this form" in answer.text
    other_site = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    fields = _return_fields((await browser.get(path)).text, "1", "Broken")
    assert (
        await browser.post(f"{path}/returns", data=fields, headers=other_site)
    ).status_code == 403

    order_id = path.rsplit("/", 1)[1]
    listed = await shop.api(
        shop.shipping, "GET", "/api/shipping/returns", params={"order_id": order_id}
    )
    assert listed["items"] == []


async def test_another_customers_order_is_not_found(shop: ShopPages) -> None:
    _, path, _ = await _delivered(shop)
    mallory, _ = await shop.customer()
    token = page_form((await mallory.get("/account")).text)["csrf_token"]

    assert (await mallory.get(path)).status_code == 404
    answer = await mallory.post(
        f"{path}/returns",
        data={"csrf_token": token, "reason": "mine now"},
        headers=SAME_SITE,
    )
    assert answer.status_code == 404
    order_id = path.rsplit("/", 1)[1]
    listed = await shop.api(
        shop.shipping, "GET", "/api/shipping/returns", params={"order_id": order_id}
    )
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("quantity", "reason", "field", "message"),
    [
        ("3", "Too big", "return-quantity-1", "Oolong tea: choose a whole number from 0 to 2."),
        ("two", "Too big", "return-quantity-1", "Oolong tea: choose a whole number from 0 to 2."),
        ("-1", "Too big", "return-quantity-1", "Oolong tea: choose a whole number from 0 to 2."),
        ("0", "Too big", "return-quantity-1", "Choose how many of an item to return."),
        ("1", "  ", "return-reason", "Reason: please tell us why the items go back."),
    ],
)
async def test_a_bad_return_comes_back_with_the_message_beside_its_field(
    shop: ShopPages, quantity: str, reason: str, field: str, message: str
) -> None:
    browser, path, _ = await _delivered(shop)
    fields = _return_fields((await browser.get(path)).text, quantity, reason)

    answer = await browser.post(f"{path}/returns", data=fields, headers=SAME_SITE)

    assert answer.status_code == 422
    page = answer.text
    assert f'<p class="field-error" id="{field}-error">{markup.escape(message)}</p>' in page
    tag = re.search(rf'<(input|textarea) id="{field}"[^>]*>', page)
    assert tag is not None and 'aria-invalid="true"' in tag.group(0)
    assert f'aria-describedby="{field}-hint {field}-error"' in page or field == "return-reason"
    assert f'value="{markup.escape(quantity)}"' in page  # what was typed is kept
    if reason.strip():
        assert f">{reason}</textarea>" in page


async def test_shippings_refusal_past_the_window_is_beside_the_line(shop: ShopPages) -> None:
    browser, path, _ = await _delivered(shop)
    order_id = path.rsplit("/", 1)[1]
    assert shop.shipping is not None
    database = shop.shipping.app.state.runtime.database
    long_ago = datetime.now(UTC) - timedelta(days=31)  # the default window is 30 days
    async with database.transaction() as session:
        await session.execute(
            update(Shipment).where(Shipment.order_id == order_id).values(delivered_at=long_ago)
        )
    fields = _return_fields((await browser.get(path)).text, "1", "Late")

    answer = await browser.post(f"{path}/returns", data=fields, headers=SAME_SITE)

    assert answer.status_code == 409
    error = (
        '<p class="field-error" id="return-quantity-1-error">'
        "The return window of Oolong tea has closed.</p>"
    )
    assert error in answer.text
    assert 'value="1"' in answer.text and ">Late</textarea>" in answer.text


async def test_shippings_refusal_of_more_than_is_left_is_beside_the_line(
    shop: ShopPages,
) -> None:
    browser, path, _ = await _delivered(shop)
    stale = (await browser.get(path)).text  # offers 2
    first = await browser.post(
        f"{path}/returns", data=_return_fields(stale, "2", "Both broken"), headers=SAME_SITE
    )
    assert first.status_code == 303

    again = await browser.post(
        f"{path}/returns", data=_return_fields(stale, "1", "Once more"), headers=SAME_SITE
    )

    assert again.status_code == 409
    assert "Only 0 of Oolong tea may still be returned." in again.text
    assert 'id="return-quantity-1" name="quantity-' in again.text  # the line stays, with its error
    assert again.text.count("Requested: we will tell you where to send it") == 1


async def test_the_order_page_still_shows_when_shipping_is_down(shop: ShopPages) -> None:
    browser, path, _ = await _delivered(shop)
    assert shop.shipping is not None
    await shop.shipping.stop()
    try:
        page = await browser.get(path)
    finally:
        await shop.restart_shipping()
    assert page.status_code == 200
    assert "Delivery status: <strong>Delivered</strong>" in page.text  # from orders
    assert "We cannot show your returns just now." in page.text
    assert 'id="return-form"' not in page.text
