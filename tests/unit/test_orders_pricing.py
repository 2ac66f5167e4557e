"""Unit tests of idempotency keys and request fingerprints, and saga pricing."""

from __future__ import annotations

import pytest

from mercato.chassis.errors import BadRequest
from mercato.orders.idempotency import MAX_KEY_LENGTH, fingerprint, require_key
from mercato.orders.saga import priced_items

BODY = {"payment_method_id": "pm_1", "shipping_address": {"city": "Berlin", "country": "DE"}}


def test_same_body_same_fingerprint_whatever_the_key_order() -> None:
    reordered = {
        "shipping_address": {"country": "DE", "city": "Berlin"},
        "payment_method_id": "pm_1",
    }
    assert fingerprint(BODY) == fingerprint(reordered)
    assert len(fingerprint(BODY)) == 64


@pytest.mark.parametrize(
    "other",
    [
        {**BODY, "payment_method_id": "pm_2"},
        {**BODY, "shipping_address": {"city": "Bonn", "country": "DE"}},
        {**BODY, "shipping_address": {"city": "Berlin", "country": "DE", "line2": None}},
        {"payment_method_id": "pm_1"},
    ],
)
def test_other_bodies_have_other_fingerprints(other: dict[str, object]) -> None:
    assert fingerprint(other) != fingerprint(BODY)


def test_require_key() -> None:
    assert require_key("  abc-123 ") == "abc-123"
    for bad in (None, "", "   ", "x" * (MAX_KEY_LENGTH + 1), "a\nb"):
        with pytest.raises(BadRequest):
            require_key(bad)


def test_priced_items_use_the_reserved_prices() -> None:
    ordered = [
        {
            "product_id": "a",
            "title": "Tea",
            "quantity": 2,
            "unit_price": {"amount": 1, "currency": "USD"},
        },
        {
            "product_id": "b",
            "title": "Cup",
            "quantity": 1,
            "unit_price": {"amount": 1, "currency": "USD"},
        },
    ]
    reserved = [
        {"product_id": "a", "quantity": 2, "unit_price": {"amount": 500, "currency": "USD"}},
        {"product_id": "b", "quantity": 1, "unit_price": {"amount": 250, "currency": "USD"}},
    ]
    items, total, currency = priced_items(ordered, reserved)
    assert (total, currency) == (1250, "USD")
    assert items[0] == {
        "product_id": "a",
        "title": "Tea",
        "quantity": 2,
        "unit_price": {"amount": 500, "currency": "USD"},
    }
