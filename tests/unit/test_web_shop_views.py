"""What the shop's pages show, built without a browser or a service: the view functions.

Money, a listing's URL and its facets, pictures (the catalog's own only), a product's
facts, the cart, an order's words, and the checkout form's checks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mercato.web.api import catalog, orders, payments
from mercato.web.api.backend import ApiError, FieldError
from mercato.web.checkout_form import (
    NEW_CARD,
    TYPED_BUT_SAVED,
    card_errors,
    card_label,
    order_errors,
    read_checkout,
    valid_key,
)
from mercato.web.forms import Posted
from mercato.web.listing import Browse, listing_view, price_label, stock_word
from mercato.web.money import format_amount
from mercato.web.numbers import whole_number
from mercato.web.order_view import order_view, status_word
from mercato.web.pages.cart import GONE, OTHER_CURRENCY, cart_view
from mercato.web.pictures import card_picture, gallery, own_variant
from mercato.web.product_view import attribute_name, facts, parse_quantity, product_view

IMAGE = "/api/catalog/images/0b6d4c7e-1f2a-4b3c-8d9e-0123456789ab"
TODAY = date(2026, 12, 6)


def _product(**changes: Any) -> catalog.Product:
    body: dict[str, Any] = {
        "id": "p-1",
        "sku": "TEA-1",
        "title": "Green tea",
        "brand": "Leafwell",
        "price": {"amount": 1250, "currency": "USD"},
        "stock": 12,
        **changes,
    }
    return catalog.Product.model_validate(body)


# -- money and numbers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (101799, "USD", "$1,017.99"),
        (5, "EUR", "€0.05"),
        (1500, "JPY", "¥1,500"),
        (12345, "KWD", "KWD 12.345"),
        (1250, "CHF", "CHF 12.50"),
        (-250, "GBP", "-£2.50"),
    ],
)
def test_money_is_written_with_the_currencys_decimals(
    amount: int, currency: str, text: str
) -> None:
    assert format_amount(amount, currency) == text


@pytest.mark.parametrize("typed", ["", " ", "1.5", "-1", "²", "١٢", "1e3", "9" * 5000])
def test_a_whole_number_is_ascii_digits_only(typed: str) -> None:
    assert whole_number(typed, max_digits=6) is None


def test_a_whole_number_may_have_spaces_around_it() -> None:
    assert whole_number(" 042 ", max_digits=3) == 42


# -- a listing's URL, sorting, facets and pages ---------------------------------------


def test_a_listing_reads_its_url_and_ignores_nonsense() -> None:
    browse = Browse.from_query(
        {"q": "  lap   top ", "brand": "Northwind", "price": "2500-5000", "stock": "1", "sort": "x"}
    )
    assert browse.q == "lap top" and browse.brand == "Northwind"
    assert browse.price == (2500, 5000) and browse.in_stock and browse.sort is None
    for price in ("5000-2500", "a-b", "2500", "-", "1-" + "9" * 40, "²-5"):
        assert Browse.from_query({"price": price}).price is None, price
    for page in ("0", "-3", "x", "9" * 50):
        assert Browse.from_query({"page": page}).page == 1, page
    assert Browse.from_query({"page": "999999"}).page == 10_000


def test_a_price_band_asks_the_catalog_for_its_inclusive_bounds() -> None:
    listing = Browse(price=(2500, 5000)).listing(category="teas")
    assert (listing.min_price, listing.max_price) == (2500, 4999)
    assert Browse(price=(50000, None)).listing().max_price is None
    assert listing.params()["facets"] == "true" and listing.params()["category"] == "teas"


def _answer(**changes: Any) -> catalog.ProductList:
    body: dict[str, Any] = {
        "items": [_product().model_dump()],
        "next_cursor": "CURSOR",
        "total": 45,
        "facets": {
            "brand": [{"value": "Leafwell", "count": 30}, {"value": "Kettle & Co", "count": 15}],
            "price": [
                {"min": 0, "max": 2500, "count": 40},
                {"min": 2500, "max": 5000, "count": 0},
                {"min": 50000, "max": None, "count": 5},
            ],
            "in_stock": 44,
        },
        **changes,
    }
    return catalog.ProductList.model_validate(body)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_facets_link_to_the_listing_with_that_choice_from_its_first_page() -> None:
    browse = Browse(q="tea", brand="Leafwell", cursor="OLD", page=2)
    view = listing_view(browse, _answer(), path="/search", heading="Results")

    brand, price, stock = view.facets
    assert [(o.label, o.count, o.selected) for o in brand.options] == [
        ("Leafwell", 30, True),
        ("Kettle & Co", 15, False),
    ]
    assert _query(brand.options[0].url) == {"q": ["tea"]}  # choosing it again removes it
    assert _query(brand.options[1].url) == {"q": ["tea"], "brand": ["Kettle & Co"]}
    assert [o.label for o in price.options] == ["Under $25.00", "$500.00 and over"]  # no empty band
    assert _query(price.options[0].url)["price"] == ["0-2500"]
    assert "after" not in _query(price.options[0].url)  # a new choice starts at page 1
    assert stock.options[0].count == 44 and _query(stock.options[0].url)["stock"] == ["1"]
    assert [a.label for a in view.active] == ["Brand: Leafwell"]
    assert _query(view.clear_url or "") == {"q": ["tea"]}


def test_a_listing_pages_on_with_the_catalogs_cursor_and_says_where_it_is() -> None:
    view = listing_view(Browse(q="tea", page=2, cursor="C1"), _answer(), path="/search", heading="")
    assert _query(view.next_url or "") == {"q": ["tea"], "after": ["CURSOR"], "page": ["3"]}
    assert view.first_url == "/search?q=tea"
    assert view.summary == "45 products, page 2 of 3"
    assert ("q", "tea") in view.kept and not any(n in ("after", "page") for n, _ in view.kept)
    assert [s.value for s in view.sorts if s.selected] == ["relevance"]


def test_without_facets_from_the_catalog_a_listing_has_no_filters() -> None:
    answer = _answer(facets=None, total=None, next_cursor=None)
    view = listing_view(Browse(), answer, path="/category/teas", heading="Teas")
    assert view.facets == () and view.summary is None and view.next_url is None
    assert "relevance" not in [s.value for s in view.sorts]  # nothing searched: no best match
    assert [s.value for s in view.sorts if s.selected] == ["newest"]


def test_a_corrected_search_says_what_was_searched_instead() -> None:
    view = listing_view(Browse(q="labtop"), _answer(corrected="laptop"), path="/search", heading="")
    assert view.corrected == "No results for “labtop”. Showing results for “laptop”."


def test_price_bands_and_stock_in_words() -> None:
    assert price_label((2500, 5000), "USD") == "$25.00 to $50.00"
    assert stock_word(0) == "Out of stock" and stock_word(3) == "Only 3 left"
    assert stock_word(40) == "In stock"


# -- pictures ---------------------------------------------------------------------------


def test_only_the_catalogs_own_pictures_are_shown() -> None:
    assert own_variant(f"{IMAGE}/medium.webp", "thumb") == f"{IMAGE}/thumb.webp"
    for other in (
        "https://img.example.com/p.jpg",
        "//evil.example/api/catalog/images/x/thumb.webp",
        f"{IMAGE}/medium.webp?x=1",
        f'{IMAGE}/medium.webp" onerror="x',
        None,
    ):
        assert own_variant(other, "thumb") is None, other
    placeholder = card_picture("Tea", "https://img.example.com/t.jpg", ())
    assert placeholder.src is None and placeholder.alt == ""


def test_a_product_pictures_have_their_box_alt_text_and_larger_sizes() -> None:
    card = card_picture("Tea", None, (f"{IMAGE}/medium.webp",))
    assert card.src == f"{IMAGE}/thumb.webp" and card.alt == "Tea"
    assert (card.width, card.height, card.lazy) == (200, 200, True)
    assert card.srcset == f"{IMAGE}/thumb.webp 200w, {IMAGE}/medium.webp 600w"
    first, second = gallery("Tea", None, (f"{IMAGE}/medium.webp", f"{IMAGE[:-1]}c/medium.webp"))
    assert first.lazy is False and second.lazy is True  # the first is what is seen first
    assert second.alt == "Tea, picture 2" and first.srcset.endswith(f"{IMAGE}/large.webp 1200w")


# -- a product's page -------------------------------------------------------------------


def test_a_products_facts_are_named_in_words_and_only_plain_values_shown() -> None:
    assert attribute_name("ram_gb") == "RAM (GB)"
    assert attribute_name("warrantyInformation") == "Warranty information"
    assert attribute_name("screen_inches") == "Screen (inches)"
    shown = facts(
        {"keep_warm": True, "weight_kg": 1.5, "source_id": 7, "dims": {"w": 1}, "tags": ["a", "b"]}
    )
    assert shown == (("Keep warm", "Yes"), ("Weight (kg)", "1.5"), ("Tags", "a, b"))


def test_a_product_page_for_a_visitor_and_for_a_customer() -> None:
    tea = _product(category="teas", stock=3)
    visitor = product_view(tea, category=None, csrf_token="", signed_in=False)
    assert visitor.category is not None and visitor.category.name == "Teas"
    assert visitor.stock == "Only 3 left" and visitor.form.max == 3 and not visitor.form.csrf_token
    assert visitor.pictures[0].src is None  # the placeholder
    out = product_view(_product(stock=0), category=None, csrf_token="t", signed_in=True)
    assert not out.in_stock and out.stock == "Out of stock"


@pytest.mark.parametrize(("typed", "quantity"), [("2", 2), (" 7 ", 7), ("0", None), ("100", None)])
def test_a_quantity_to_add_is_1_to_99(typed: str, quantity: int | None) -> None:
    assert parse_quantity(typed) == quantity


# -- the cart and the orders --------------------------------------------------------------


def test_a_cart_line_that_can_no_longer_be_bought_holds_checkout_back() -> None:
    tea = {"product_id": "a", "title": "Tea", "quantity": 2, "unit_price": None, "available": False}
    mug = {"product_id": "b/..", "title": "Mug", "quantity": 1, "currency_mismatch": True}
    total = {"amount": 0, "currency": "USD"}
    view = cart_view(
        orders.Cart.model_validate({"items": [tea, mug], "total": total}),
        signed_in=True,
        csrf_token="t",
    )

    assert view.count == 3 and view.blocked is not None
    assert view.lines[0].note == GONE and view.lines[0].unit_price is None
    assert view.lines[1].note == OTHER_CURRENCY
    assert view.lines[1].update_url == "/cart/items/b%2F.."  # an id is one path segment
    fine = cart_view(
        orders.Cart.model_validate({"items": [mug | {"currency_mismatch": False}], "total": total}),
        signed_in=False,
        csrf_token="t",
    )
    assert fine.blocked is None and not fine.empty and fine.signed_in is False
    assert cart_view(None, signed_in=False, csrf_token="").empty


def _order(status: str, reason: str | None = None) -> orders.Order:
    now = datetime(2026, 12, 6, 10, 51, tzinfo=UTC).isoformat()
    return orders.Order.model_validate(
        {
            "id": "e68fe604-faa9-4ee8-ae00-b5cdbea606be",
            "status": status,
            "reason": reason,
            "items": [],
            "total": {"amount": 2500, "currency": "USD"},
            "shipping_address": {
                "name": "Ann",
                "line1": "Main St 1",
                "city": "Berlin",
                "country": "DE",
            },
            "history": [{"status": "pending", "at": now}],
            "created_at": now,
            "updated_at": now,
        }
    )


def test_an_orders_status_is_a_word_and_a_sentence() -> None:
    failed = order_view(_order("payment_failed", "declined"), csrf_token="t")
    assert failed.word == "Payment failed" and "the card was declined" in failed.detail
    assert not failed.in_progress and not failed.can_cancel
    assert failed.number == "E68FE604" and failed.placed == "6 Dec 2026, 10:51 UTC"
    assert status_word("out_of_stock") == "Out of stock" and status_word("cancelled") == "Cancelled"
    charging = order_view(_order("charging"), csrf_token="t")
    assert charging.in_progress and not charging.can_cancel
    assert order_view(_order("confirmed"), csrf_token="t").can_cancel
    assert status_word("something_new") == "Something new"


# -- the checkout form --------------------------------------------------------------------

CARD = payments.PaymentMethod(id="pm-1", brand="visa", last4="4242", exp_month=4, exp_year=2029)
ADDRESS = {"name": "Ann", "line1": "Main St 1", "city": "Berlin", "country": "de"}


def _read(fields: dict[str, str], saved: tuple[payments.PaymentMethod, ...] = ()) -> Any:
    return read_checkout(Posted({"key": "k" * 32, **fields}), saved, today=TODAY)


def test_a_new_card_and_an_address_are_read_as_the_services_take_them() -> None:
    checkout, errors = _read(
        {**ADDRESS, "card_number": "4242 4242-4242 4242", "expiry": "04 / 29", "cvc": "123"}
    )
    assert errors == {}
    assert checkout.address["country"] == "DE" and checkout.address["postal_code"] is None
    assert checkout.card.number == "4242424242424242"
    assert (checkout.card.exp_month, checkout.card.exp_year) == (4, 2029)


@pytest.mark.parametrize(
    ("expiry", "message"),
    [
        ("13/29", "Expiry must be a month from 01 to 12, then the year: 04/29."),
        ("11/26", "This card has expired."),
        ("1229x", "Expiry must be a month and year, such as 04/29."),
        ("", "Expiry is required."),
    ],
)
def test_a_bad_expiry_says_what_is_wrong(expiry: str, message: str) -> None:
    _, errors = _read({**ADDRESS, "card_number": "4242424242424242", "expiry": expiry, "cvc": "1"})
    assert errors["expiry"] == message
    assert errors["cvc"] == "CVC must be the 3 or 4 digits on the card."


def test_every_missing_field_is_named_at_once() -> None:
    _, errors = _read({"country": "Germany"})
    assert set(errors) == {"name", "line1", "city", "country", "card_number", "expiry", "cvc"}
    assert errors["country"] == "Country must be a two-letter code, such as GB, DE or US."


def test_a_saved_card_is_chosen_by_its_radio_button() -> None:
    checkout, errors = _read({**ADDRESS, "payment": "pm-1"}, (CARD,))
    assert errors == {} and checkout.method_id == "pm-1" and checkout.card is None
    _, typed = _read({**ADDRESS, "payment": "pm-1", "card_number": "4000"}, (CARD,))
    assert typed == {"payment": TYPED_BUT_SAVED}
    _, someone_elses = _read({**ADDRESS, "payment": "pm-9"}, (CARD,))
    assert someone_elses == {"payment": "Choose how to pay."}
    _, new = _read({**ADDRESS, "payment": NEW_CARD}, (CARD,))
    assert set(new) == {"card_number", "expiry", "cvc"}
    assert card_label(CARD) == "Visa ending in 4242, expires 04/29"


def test_only_keys_the_form_could_have_given_are_used() -> None:
    assert valid_key("Ab_-" * 8)
    for key in ("", "short", "x" * 65, "a b" * 10, "é" * 30):
        assert not valid_key(key), key


def test_the_services_refusals_come_back_beside_the_fields() -> None:
    luhn = ApiError("payments", 422, "", "", (FieldError("card_number", "Value error, checksum"),))
    assert card_errors(luhn) == {
        "card_number": "This is not a valid card number: please check the digits."
    }
    expired = ApiError("payments", 422, "", "", (FieldError("exp_year", "the card has expired"),))
    assert card_errors(expired) == {"expiry": "This card has expired."}
    too_many = card_errors(ApiError("payments", 409, "", "Too many cards"))
    assert "saved card" in too_many["card_number"]
    address = ApiError("orders", 422, "", "x", (FieldError("shipping_address.city", "too long"),))
    assert order_errors(address) == ({"city": "City is not valid."}, None)
    assert order_errors(ApiError("orders", 422, "", "The cart is odd.")) == ({}, "The cart is odd.")
