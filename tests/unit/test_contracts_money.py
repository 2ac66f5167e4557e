"""Unit tests of how every service counts and writes money: decimals and major units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.contracts.money import decimals, major_units


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (101799, "USD", "1,017.99"),
        (5, "EUR", "0.05"),
        (-1250, "eur", "-12.50"),
        (1500, "JPY", "1,500"),
        (1500, "KWD", "1.500"),
        (0, "XYZ", "0.00"),  # unknown: two decimals
    ],
)
def test_amounts_are_written_with_their_currencys_decimals(
    amount: int, currency: str, text: str
) -> None:
    assert major_units(amount, currency) == text


@given(st.integers(-(10**12), 10**12), st.sampled_from(["USD", "JPY", "KWD"]))
def test_the_text_reads_back_as_the_amount(amount: int, currency: str) -> None:
    text = major_units(amount, currency).replace(",", "")
    whole, _, fraction = text.partition(".")
    assert len(fraction) == decimals(currency)
    sign = -1 if whole.startswith("-") else 1
    assert sign * (abs(int(whole)) * 10 ** decimals(currency) + int(fraction or 0)) == amount
