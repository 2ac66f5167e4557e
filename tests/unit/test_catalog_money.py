"""Unit tests of price conversion from major to minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mercato.catalog.money import decimals, to_minor_units


@pytest.mark.parametrize(
    ("amount", "cents"),
    [(9.99, 999), (0.1 + 0.2, 30), (19.9, 1990), (1299, 129900), (0, 0), ("4.35", 435)],
)
def test_floats_become_exact_cents(amount: float | int | str, cents: int) -> None:
    assert to_minor_units(amount, "USD") == cents


def test_more_decimals_than_the_currency_has_round_half_up() -> None:
    assert to_minor_units(Decimal("9.995"), "USD") == 1000
    assert to_minor_units(Decimal("9.994"), "USD") == 999


def test_currencies_have_their_own_minor_units() -> None:
    assert decimals("JPY") == 0 and to_minor_units(1500, "JPY") == 1500
    assert decimals("KWD") == 3 and to_minor_units(1.5, "KWD") == 1500
    assert decimals("EUR") == 2


@pytest.mark.parametrize("amount", ["abc", "nan", "inf"])
def test_non_numbers_are_refused(amount: str) -> None:
    with pytest.raises(ValueError):
        to_minor_units(amount, "USD")
