"""Service tests of the account page: the shopper's name and addresses, at the real users.

Against real auth and users servers (`tests.support.web`): what the page shows, each
form's success and its bad input, a refused post, and one shopper's page never showing
or changing another's data.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mercato.web.api.backend import ApiError, FieldError
from mercato.web.api.users import Address, Profile
from mercato.web.pages.profile import account_view, address_errors
from tests.support.tokens import TokenFactory
from tests.support.web import SHOP, Storefront, open_storefront, page_form, submit

ADDRESS = {"line1": "1 Main Street", "city": "London", "postal_code": "SW1A 1AA", "country": "gb"}


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Storefront]:
    async with open_storefront(tmp_path, tokens) as shop:
        yield shop


async def _customer(shop: Storefront, name: str = "Ann Shopper") -> httpx.AsyncClient:
    browser = shop.browser()
    await shop.register(browser, name=name)
    return browser


async def _add(browser: httpx.AsyncClient, **changes: str) -> httpx.Response:
    return await submit(browser, "/account/addresses", {**ADDRESS, **changes}, page="/account")


def test_the_view_lists_addresses_and_keeps_what_was_typed() -> None:
    address = Address(id="a1", name="Ann", line1="1 Main St", city="Leeds", country="GB")
    profile = Profile(id="u1", email="ann@example.com", name="Ann", addresses=(address,))

    view = account_view(
        profile,
        "tok",
        address_values={"line1": "2 High St", "city": ""},
        address_errors={"city": "City is required."},
    )

    assert view.addresses[0].lines == ("Ann", "1 Main St", "Leeds", "GB")
    assert view.addresses[0].summary == "Ann, 1 Main St, Leeds, GB"
    (name,) = view.name_form.fields
    assert name.value == "Ann"
    fields = {f.field.name: f for f in view.add_form.fields}
    assert fields["line1"].value == "2 High St"
    assert fields["city"].error == "City is required."
    assert fields["city"].described_by == "address-city-error"
    assert fields["country"].described_by == "address-country-hint"


def test_the_users_errors_land_beside_the_add_forms_fields() -> None:
    refusal = ApiError(
        "users",
        422,
        "Unprocessable Content",
        "Invalid fields",
        (
            FieldError("addresses.2.country", "must be an ISO 3166-1 alpha-2 country code"),
            FieldError("addresses.0.city", "about another address"),
            FieldError("addresses.2.postal_code", "String should match pattern"),
        ),
    )

    assert address_errors(refusal, 2) == {
        "country": "Country must be an ISO 3166-1 alpha-2 country code.",
        "postal_code": "String should match pattern.",
    }


async def test_a_visitor_is_sent_to_log_in_and_back(shop: Storefront) -> None:
    answer = await shop.browser().get("/account")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Faccount"


async def test_the_page_shows_the_shoppers_details(shop: Storefront) -> None:
    browser = await _customer(shop)

    page = await browser.get("/account")

    assert page.status_code == 200
    assert "<h1>Your account</h1>" in page.text
    assert page_form(page.text, "name")["name"] == "Ann Shopper"
    assert "You have no saved addresses yet." in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_adding_and_removing_an_address(shop: Storefront) -> None:
    browser = await _customer(shop)

    added = await _add(browser)

    assert added.status_code == 303 and added.headers["location"] == "/account"
    page = await browser.get("/account")
    assert "The address is added." in page.text
    assert "1 Main Street<br>SW1A 1AA London<br>GB" in page.text
    assert 'Remove<span class="visually-hidden"> Ann Shopper, 1 Main Street' in page.text
    (action,) = re.findall(r'action="(/account/addresses/[^"]+/remove)"', page.text)

    removed = await submit(browser, action, {}, page="/account")

    assert removed.status_code == 303
    page = await browser.get("/account")
    assert "The address is removed." in page.text and "1 Main Street" not in page.text


async def test_bad_addresses_get_the_form_back_with_the_message_beside_the_field(
    shop: Storefront,
) -> None:
    browser = await _customer(shop)
    cases = [
        ({"city": " "}, "city", "City is required."),
        ({"country": "XX"}, "country", "Country must be an ISO 3166-1 alpha-2 country code"),
        ({"postal_code": "!!"}, "postal_code", "Postal code"),
    ]
    for change, field, message in cases:
        answer = await _add(browser, **change)
        assert answer.status_code == 422, change
        assert answer.headers["content-type"].startswith("text/html")
        assert message in answer.text, change
        form = page_form(answer.text, "address")
        assert form["line1"] == "1 Main Street"  # what was typed, kept
        assert f'id="address-{field}-error"' in answer.text
        assert re.search(rf'id="address-{field}"[^>]*aria-invalid="true"', answer.text), field
    assert "You have no saved addresses yet." in (await browser.get("/account")).text


async def test_eleven_addresses_are_one_too_many(shop: Storefront) -> None:
    browser = await _customer(shop)
    for number in range(10):
        assert (await _add(browser, line1=f"{number} Main Street")).status_code == 303

    answer = await _add(browser, line1="11 Main Street")

    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and "10" in answer.text


async def test_renaming_changes_the_name_the_shop_shows(shop: Storefront) -> None:
    browser = await _customer(shop)

    answer = await submit(browser, "/account/name", {"name": "Ann Renamed"}, page="/account")

    assert answer.status_code == 303
    page = await browser.get("/account")
    assert "Your name is saved." in page.text
    assert '<a href="/account" class="who">Ann Renamed</a>' in page.text
    empty = await submit(browser, "/account/name", {"name": ""}, page="/account")
    assert empty.status_code == 422 and "Name is required." in empty.text


async def test_a_post_without_the_token_changes_nothing(shop: Storefront) -> None:
    browser = await _customer(shop)

    answer = await browser.post("/account/addresses", data=ADDRESS, headers={"Origin": SHOP})

    assert answer.status_code == 403
    assert "We could not accept this form" in answer.text
    assert "You have no saved addresses yet." in answer.text


async def test_one_shopper_never_sees_or_changes_anothers_account(shop: Storefront) -> None:
    ann = await _customer(shop, "Ann Shopper")
    await _add(ann)
    anns_page = (await ann.get("/account")).text
    (action,) = re.findall(r'action="(/account/addresses/[^"]+/remove)"', anns_page)
    bob = await _customer(shop, "Bob Other")

    bobs_page = (await bob.get("/account")).text
    answer = await submit(bob, action, {}, page="/account")  # Ann's address id, Bob's session

    assert "Ann Shopper" not in bobs_page and "1 Main Street" not in bobs_page
    assert answer.status_code == 303
    assert "1 Main Street" in (await ann.get("/account")).text  # still there
    assert "Ann" not in (await bob.get("/")).text


async def test_users_down_is_a_page_naming_the_part_of_the_shop_unavailable(
    shop: Storefront,
) -> None:
    browser = await _customer(shop)
    await shop.users.stop()

    answer = await browser.get("/account")

    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["retry-after"]
    assert "Your profile is unavailable" in answer.text
    assert "The rest of the shop still works" in answer.text
    assert "127.0.0.1" not in answer.text  # no internal address
    home = await browser.get("/")
    assert home.status_code == 200 and "Log out" in home.text
