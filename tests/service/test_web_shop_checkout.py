"""Service tests of checkout: the form, the order it places, and everything that goes wrong.

Against real services (`tests.support.shop_pages`): the success and the declined
test cards, a saved card, a double submit and a reload of one form (one order, one
card), bad input (the form back with each message beside its field, what was typed
kept but the CVC), a forged or reused key, the payment provider or orders down.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from mercato.chassis.data.database import Database
from mercato.payments.provider import Card, ProviderError
from mercato.payments.simulated import SimulatedProvider
from tests.support.shop_pages import (
    ADDRESS,
    CARD_DECLINED,
    CARD_OK,
    SAME_SITE,
    ShopPages,
    checkout_fields,
    expiry,
    module_shop,  # noqa: F401 (the fixture `shop`)
    open_shop_pages,
    order_path,
)
from tests.support.tokens import TokenFactory
from tests.support.web import submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _cart(shop: ShopPages, browser: httpx.AsyncClient, *products: dict[str, Any]) -> None:
    for product in products:
        fields = {"product_id": product["id"], "quantity": "1"}
        added = await submit(browser, "/cart/items", fields, page=product_url(product))
        assert added.status_code == 303, added.text


def product_url(product: dict[str, Any]) -> str:
    return f"/product/{product['id']}"


async def _form(browser: httpx.AsyncClient, **typed: str) -> dict[str, str]:
    """The checkout form as the browser got it, with `typed` filled in."""
    page = await browser.get("/checkout")
    assert page.status_code == 200, page.text
    return {**checkout_fields(page.text), **typed}


def _new_card(number: str = CARD_OK) -> dict[str, str]:
    return {**ADDRESS, "payment": "new", "card_number": number, "expiry": expiry(), "cvc": "123"}


async def _post(browser: httpx.AsyncClient, fields: dict[str, str]) -> httpx.Response:
    return await browser.post("/checkout", data=fields, headers=SAME_SITE)


async def _post_until_placed(
    browser: httpx.AsyncClient, fields: dict[str, str], seconds: float = 15.0
) -> httpx.Response:
    """Send the form again as a shopper would press the button, until an order is shown.

    The web service's client keeps a circuit open for a few seconds after orders was
    unreachable: until it closes, the form comes back saying it could not confirm.
    """
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        answer = await _post(browser, fields)
        if answer.status_code != 503 or asyncio.get_running_loop().time() > deadline:
            return answer
        await asyncio.sleep(0.5)


async def _orders(shop: ShopPages, email: str) -> list[dict[str, Any]]:
    body = await shop.api(shop.orders, "GET", "/api/orders", headers=await shop.token(email))
    return list(body["items"])


async def _cards(shop: ShopPages, email: str) -> list[dict[str, Any]]:
    headers = await shop.token(email)
    return list(
        (await shop.api(shop.payments, "GET", "/api/payments/methods", headers=headers))["items"]
    )


async def test_checkout_with_the_success_card_ends_confirmed(shop: ShopPages) -> None:
    tea, mug = await shop.product(stock=5), await shop.product(title="Mug", amount=800, stock=5)
    browser, email = await shop.customer()
    await _cart(shop, browser, tea, mug)

    page = await browser.get("/checkout")
    assert "<li><span>1 × Green tea</span> <span>$12.50</span></li>" in page.text
    assert "Total <strong>$20.50</strong>" in page.text
    placed = await _post(browser, {**checkout_fields(page.text), **_new_card()})
    path = order_path(placed)
    status = await shop.wait_settled(browser, path)

    assert status["status"] == "confirmed" and status["word"] == "Confirmed"
    order = await browser.get(path)
    assert '<strong class="status-word">Confirmed</strong>' in order.text
    assert await shop.stock(tea["id"]) == 4 and await shop.stock(mug["id"]) == 4
    assert "Your cart is empty" in (await browser.get("/cart")).text
    (card,) = await _cards(shop, email)
    again = await browser.get(f"/product/{tea['id']}")
    assert card["last4"] == "4242" and again.status_code == 200


async def test_a_saved_card_is_offered_and_paid_with(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, email = await shop.customer()
    await _cart(shop, browser, tea)
    await shop.wait_settled(
        browser, order_path(await _post(browser, await _form(browser, **_new_card())))
    )
    await _cart(shop, browser, tea)

    page = await browser.get("/checkout")
    (card,) = await _cards(shop, email)
    assert re.search(
        rf'<input type="radio" id="pay-0" name="payment" value="{card["id"]}" checked>\s*'
        r'<label for="pay-0">Visa ending in 4242, expires 12/\d\d</label>',
        page.text,
    )
    placed = await _post(browser, {**checkout_fields(page.text), **ADDRESS})

    assert (await shop.wait_settled(browser, order_path(placed)))["status"] == "confirmed"
    assert len(await _cards(shop, email)) == 1  # no new card
    assert len(await _orders(shop, email)) == 2


async def test_the_declined_card_ends_payment_failed_and_the_stock_comes_back(
    shop: ShopPages,
) -> None:
    tea = await shop.product(stock=3)
    browser, _ = await shop.customer()
    await _cart(shop, browser, tea)

    placed = await _post(browser, await _form(browser, **_new_card(CARD_DECLINED)))
    status = await shop.wait_settled(browser, order_path(placed))

    assert status["word"] == "Payment failed"
    assert "the card was declined" in status["live"]
    assert await shop.stock(tea["id"]) == 3
    page = await browser.get(order_path(placed))
    assert "Cancel order" not in page.text  # nothing to cancel


async def test_a_double_submit_places_one_order_and_saves_one_card(shop: ShopPages) -> None:
    tea = await shop.product(stock=5)
    browser, email = await shop.customer()
    await _cart(shop, browser, tea)
    fields = await _form(browser, **_new_card())

    first, second = await asyncio.gather(_post(browser, fields), _post(browser, fields))

    assert order_path(first) == order_path(second)
    assert len(await _orders(shop, email)) == 1
    assert len(await _cards(shop, email)) == 1
    reload = await _post(browser, fields)  # the same form again, later: the same order
    assert order_path(reload) == order_path(first)
    await shop.wait_settled(browser, order_path(first))
    assert await shop.stock(tea["id"]) == 4


async def test_bad_input_gets_the_form_back_with_each_message_beside_its_field(
    shop: ShopPages,
) -> None:
    tea = await shop.product()
    browser, email = await shop.customer()
    await _cart(shop, browser, tea)
    fields = await _form(browser)
    typed = {
        "name": "Ann <script>",
        "line1": "",
        "city": "Berlin",
        "country": "Germany",
        "payment": "new",
        "card_number": "4242 4242 4242 4242",
        "expiry": "13/40",
        "cvc": "98765",
    }

    answer = await _post(browser, {**fields, **typed})

    assert answer.status_code == 422
    html = answer.text
    assert 'id="checkout-line1-error">Address is required.</p>' in html
    assert 'id="checkout-country-error">Country must be a two-letter code' in html
    assert 'id="checkout-expiry-error">Expiry must be a month from 01 to 12' in html
    assert 'id="checkout-cvc-error">CVC must be the 3 or 4 digits on the card.</p>' in html
    assert 'value="Ann &lt;script&gt;"' in html and "<script>" not in html.split("</head>")[1]
    assert 'value="4242 4242 4242 4242"' in html and 'value="13/40"' in html
    assert "98765" not in html  # never the CVC
    assert f'name="key" value="{fields["key"]}"' in html  # the same checkout, corrected
    assert await _orders(shop, email) == [] and await _cards(shop, email) == []


async def test_a_card_payments_refuses_is_shown_beside_the_card_number(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, email = await shop.customer()
    await _cart(shop, browser, tea)

    answer = await _post(browser, await _form(browser, **_new_card("4242 4242 4242 4241")))

    assert answer.status_code == 422
    assert "This is not a valid card number: please check the digits." in answer.text
    assert await _orders(shop, email) == []
    fixed = await _post(browser, {**checkout_fields(answer.text), **_new_card()})
    assert (await shop.wait_settled(browser, order_path(fixed)))["status"] == "confirmed"


async def test_a_key_the_form_did_not_give_is_refused_with_a_new_form(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, email = await shop.customer()
    await _cart(shop, browser, tea)
    fields = await _form(browser, **_new_card())

    answer = await _post(browser, {**fields, "key": "../../x"})

    assert answer.status_code == 422
    assert "This checkout form has expired." in answer.text
    assert 'name="key" value="../../x"' not in answer.text
    assert await _orders(shop, email) == []


async def test_another_customers_key_is_their_own_checkout_only(shop: ShopPages) -> None:
    tea = await shop.product(stock=5)
    ann, ann_email = await shop.customer()
    bob, bob_email = await shop.customer()
    await _cart(shop, ann, tea)
    await _cart(shop, bob, tea)
    ann_fields = await _form(ann, **_new_card())
    ann_order = order_path(await _post(ann, ann_fields))

    bob_fields = {**await _form(bob, **_new_card()), "key": ann_fields["key"]}
    bob_order = order_path(await _post(bob, bob_fields))

    assert bob_order != ann_order
    assert [o["id"] for o in await _orders(shop, bob_email)] == [bob_order.rsplit("/", 1)[1]]
    assert (await bob.get(ann_order)).status_code == 404  # Ann's order is not Bob's to see
    assert len(await _orders(shop, ann_email)) == 1


async def test_a_post_without_the_token_orders_nothing(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, email = await shop.customer()
    await _cart(shop, browser, tea)
    fields = await _form(browser, **_new_card())
    del fields["csrf_token"]

    answer = await _post(browser, fields)
    cross_site = await browser.post(
        "/checkout",
        data=await _form(browser, **_new_card()),
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert answer.status_code == 403 and cross_site.status_code == 403
    assert "We could not accept this form" in answer.text
    assert await _orders(shop, email) == [] and await _cards(shop, email) == []


async def test_an_empty_cart_has_nothing_to_check_out(shop: ShopPages) -> None:
    browser, _ = await shop.customer()

    answer = await browser.get("/checkout")

    assert answer.status_code == 303 and answer.headers["location"] == "/cart"
    assert "Your cart is empty: there is nothing to check out." in (await browser.get("/cart")).text


async def test_a_cart_emptied_after_the_form_was_shown_orders_nothing(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, email = await shop.customer()
    await _cart(shop, browser, tea)
    fields = await _form(browser, **_new_card())
    await submit(browser, f"/cart/items/{tea['id']}/remove", {}, page="/cart")

    answer = await _post(browser, fields)

    assert answer.status_code == 303 and answer.headers["location"] == "/cart"
    assert await _orders(shop, email) == []


async def test_a_visitor_is_sent_to_log_in_first(shop: ShopPages) -> None:
    answer = await shop.browser().get("/checkout")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fcheckout"


async def test_the_checkout_is_filled_in_with_the_default_address(shop: ShopPages) -> None:
    tea = await shop.product()
    browser, email = await shop.customer()
    address = {
        "name": "Ann at work",
        "line1": "Quay 4",
        "city": "Leeds",
        "postal_code": "LS1",
        "country": "GB",
    }
    await shop.api(
        shop.users,
        "PATCH",
        "/api/users/me",
        json={"addresses": [address]},
        headers=await shop.token(email),
    )
    await _cart(shop, browser, tea)

    fields = checkout_fields((await browser.get("/checkout")).text)

    assert {k: fields[k] for k in address} == address


class Refusing(SimulatedProvider):
    """The simulated provider, refusing to tokenize any card."""

    async def tokenize(self, card: Card) -> str:
        raise ProviderError("provider_unavailable")


async def test_a_payment_provider_error_is_shown_beside_the_card_and_orders_down_keeps_the_cart(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    def refusing(database: Database) -> SimulatedProvider:
        return Refusing(database)

    async with open_shop_pages(tmp_path, tokens, payments_provider=refusing) as shop:
        tea = await shop.product()
        browser, email = await shop.customer()
        await _cart(shop, browser, tea)
        fields = await _form(browser, **_new_card())

        refused = await _post(browser, fields)

        assert refused.status_code == 503
        assert (
            'id="checkout-card_number-error">We could not check this card with the payment '
            "provider just now." in refused.text
        )
        assert 'value="4242 4242 4242 4242"' in refused.text
        assert await _orders(shop, email) == []


async def test_orders_down_at_checkout_keeps_the_cart_and_a_retry_orders_once(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_shop_pages(tmp_path, tokens) as shop:
        tea = await shop.product(stock=5)
        browser, email = await shop.customer()
        await _cart(shop, browser, tea)
        fields = await _form(browser, **_new_card())
        assert shop.orders is not None
        await shop.orders.stop()

        down = await _post(browser, fields)

        assert down.status_code == 503
        assert "We could not confirm your order just now. Your cart is kept" in down.text
        assert "Your cart is kept, but it cannot be shown right now." in down.text
        await shop.restart_orders()
        retried = await _post_until_placed(browser, fields)  # the same form, sent again
        assert (await shop.wait_settled(browser, order_path(retried)))["status"] == "confirmed"
        assert len(await _orders(shop, email)) == 1
        assert len(await _cards(shop, email)) == 1  # the card saved by the first post, reused
