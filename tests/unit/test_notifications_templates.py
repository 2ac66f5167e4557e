"""Unit tests of the notifications' templates: every kind rendered, escaped, linked."""

from __future__ import annotations

import jinja2
import pytest

from mercato.notifications.kinds import EVENT_KINDS, Kind
from mercato.notifications.templates import SAMPLES, Shop, Templates, format_money

SHOP = Shop(name="Corner & Co", url="https://shop.example.com")


@pytest.fixture(scope="module")
def templates() -> Templates:
    """The templates of a shop whose name has a character HTML must escape."""
    return Templates(SHOP)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_renders_subject_text_and_html(templates: Templates, kind: Kind) -> None:
    mail = templates.preview(kind)
    assert "Corner & Co" in mail.subject and "\n" not in mail.subject
    assert mail.text.startswith("Hello Ada Lovelace,")
    assert "Corner & Co - https://shop.example.com" in mail.text  # text is not escaped
    assert "&amp;" not in mail.text
    assert mail.html.startswith("<!doctype html>") and "Corner &amp; Co" in mail.html
    assert "Corner & Co" not in mail.html
    assert 'href="https://shop.example.com/account"' in mail.html
    order_id = SAMPLES[kind].get("order_id")
    if order_id:
        assert order_id in mail.subject and order_id in mail.text
        assert f"https://shop.example.com/orders/{order_id}" in mail.text
        assert f'href="https://shop.example.com/orders/{order_id}"' in mail.html


def test_every_consumed_event_has_a_kind_and_each_kind_one_event() -> None:
    assert sorted(EVENT_KINDS.values()) == sorted(Kind)


def test_amounts_and_details_appear(templates: Templates) -> None:
    assert "paid: EUR 42.50." in templates.preview(Kind.ORDER_CONFIRMED).text
    assert templates.preview(Kind.REFUND_ISSUED).subject.startswith("Refund of EUR 19.99 ")
    shipped = templates.preview(Kind.SHIPMENT_SHIPPED)
    assert "with DHL" in shipped.text and "Tracking number: JD014600003828" in shipped.text
    no_link = templates.render(
        Kind.SHIPMENT_SHIPPED, {**SAMPLES[Kind.SHIPMENT_SHIPPED], "tracking_url": None}
    )
    assert "Track it" not in no_link.text and "track it" not in no_link.html


def test_values_are_escaped_in_html_and_links_are_encoded(templates: Templates) -> None:
    data = {**SAMPLES[Kind.SHIPMENT_SHIPPED], "name": '<b onclick="x">Eve</b>'}
    data |= {"carrier": "<img src=x>", "order_id": "a/b?c"}
    mail = templates.render(Kind.SHIPMENT_SHIPPED, data)
    assert "<img" not in mail.html and "&lt;img src=x&gt;" in mail.html
    assert "<b " not in mail.html and "&lt;b onclick=&#34;x&#34;&gt;Eve&lt;/b&gt;" in mail.html
    assert "https://shop.example.com/orders/a%2Fb%3Fc" in mail.text


def test_a_line_break_cannot_reach_the_subject(templates: Templates) -> None:
    data = {**SAMPLES[Kind.ORDER_CONFIRMED], "order_id": "o-1\r\nBcc: victim@example.com"}
    subject = templates.render(Kind.ORDER_CONFIRMED, data).subject
    assert "\r" not in subject and "\n" not in subject


def test_a_missing_value_is_an_error_not_a_blank(templates: Templates) -> None:
    with pytest.raises(jinja2.UndefinedError):
        templates.render(Kind.ORDER_CONFIRMED, {"name": "Ada", "order_id": "o-1"})


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (4250, "EUR", "EUR 42.50"),
        (5, "usd", "USD 0.05"),
        (123456789, "GBP", "GBP 1,234,567.89"),
        (1500, "JPY", "JPY 1,500"),
        (1234, "KWD", "KWD 1.234"),
        (-250, "EUR", "EUR -2.50"),
        (0, "EUR", "EUR 0.00"),
    ],
)
def test_money_is_shown_in_the_currencys_units(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown
