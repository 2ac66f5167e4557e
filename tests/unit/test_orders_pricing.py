"""Unit tests of saga pricing: an order is charged at the prices catalog reserved.

(Idempotency keys and fingerprints, once tested here, are the chassis's now:
`test_chassis_idempotency`.)
"""

from __future__ import annotations

from mercato.contracts.inventory import ReservationItemOut
from mercato.orders.saga import priced_items


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
