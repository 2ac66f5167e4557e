"""Unit tests of saga pricing: an order is charged at the prices catalog reserved.

(Idempotency keys and fingerprints, once tested here, are the chassis's now:
`test_chassis_idempotency`.)
"""

from __future__ import annotations

from typing import Any

from mercato.contracts.inventory import ReservationItemOut
from mercato.contracts.money import line_total, lines_total
from mercato.orders.pricing import currency_change, item_total, items_total, priced_items


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
    lines = [ReservationItemOut.model_validate(line) for line in reserved]
    items, total, currency = priced_items(ordered, lines)
    assert (total, currency) == (1250, "USD")
    assert items[0] == {
        "product_id": "a",
        "title": "Tea",
        "quantity": 2,
        "unit_price": {"amount": 500, "currency": "USD"},
    }


def test_a_line_costs_its_unit_price_times_its_quantity() -> None:
    assert line_total(250, 3) == 750
    assert lines_total([(250, 3), (100, 1), (0, 5)]) == 850
    item = {"product_id": "a", "title": None, "quantity": 3, "unit_price": {"amount": 250}}
    assert item_total(item) == 750
    assert items_total([item, {**item, "quantity": 1}]) == 1000


def test_lines_priced_in_another_currency_are_named() -> None:
    items: list[dict[str, Any]] = [
        {"product_id": "a", "title": "Tea", "quantity": 1, "unit_price": {"currency": "EUR"}},
        {"product_id": "b", "title": None, "quantity": 1, "unit_price": {"currency": "USD"}},
    ]
    assert currency_change(items[1:], "USD") is None
    change = currency_change(items, "USD")
    assert change is not None and "Tea (EUR)" in change and "b (" not in change
