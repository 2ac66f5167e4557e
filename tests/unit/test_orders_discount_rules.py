"""Unit tests of a discount's arithmetic: integers, never negative, never above the items."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mercato.contracts.money import MAX_AMOUNT
from mercato.orders.discount_rules import (
    Kind,
    PricedLine,
    Rule,
    discount_amount,
    eligible_amount,
    percent_of,
)

TEA, CUPS = "tea", "cups"


def test_percent_rounds_half_up_to_the_minor_unit() -> None:
    assert percent_of(1999, 10) == 200  # 199.9
    assert percent_of(1995, 10) == 200  # 199.5 rounds up
    assert percent_of(1994, 10) == 199  # 199.4
    assert percent_of(5, 10) == 1  # 0.5 rounds up
    assert percent_of(4, 10) == 0
    assert percent_of(1234, 100) == 1234


def test_percent_discounts_every_line_without_categories() -> None:
    lines = [PricedLine(1000, TEA), PricedLine(500, None)]
    assert discount_amount(Rule(Kind.PERCENT, 20), lines) == 300


def test_categories_limit_the_discount_to_their_lines() -> None:
    lines = [PricedLine(1000, TEA), PricedLine(3000, CUPS), PricedLine(700, None)]
    rule = Rule(Kind.PERCENT, 50, frozenset({TEA}))
    assert eligible_amount(rule, lines) == 1000
    assert discount_amount(rule, lines) == 500
    fixed = Rule(Kind.FIXED, 2500, frozenset({TEA}))
    assert discount_amount(fixed, lines) == 1000  # capped at the eligible lines, not the cart


def test_fixed_is_capped_at_the_eligible_items() -> None:
    assert discount_amount(Rule(Kind.FIXED, 500), [PricedLine(1200, None)]) == 500
    assert discount_amount(Rule(Kind.FIXED, 5000), [PricedLine(1200, None)]) == 1200


def test_nothing_eligible_takes_nothing_off() -> None:
    lines = [PricedLine(1000, CUPS)]
    assert discount_amount(Rule(Kind.PERCENT, 30, frozenset({TEA})), lines) == 0
    assert discount_amount(Rule(Kind.FIXED, 300, frozenset({TEA})), lines) == 0
    assert discount_amount(Rule(Kind.FIXED, 300), []) == 0


categories = st.sampled_from([TEA, CUPS, None])
lines_strategy = st.lists(
    st.builds(PricedLine, st.integers(min_value=0, max_value=MAX_AMOUNT), categories), max_size=20
)
rules = st.one_of(
    st.builds(
        Rule,
        st.just(Kind.PERCENT),
        st.integers(min_value=1, max_value=100),
        st.frozensets(st.sampled_from([TEA, CUPS]), max_size=2),
    ),
    st.builds(
        Rule,
        st.just(Kind.FIXED),
        st.integers(min_value=1, max_value=MAX_AMOUNT),
        st.frozensets(st.sampled_from([TEA, CUPS]), max_size=2),
    ),
)


@given(rule=rules, lines=lines_strategy, shipping=st.integers(min_value=0, max_value=100_000))
def test_totals_are_whole_and_never_negative(
    rule: Rule, lines: list[PricedLine], shipping: int
) -> None:
    discount = discount_amount(rule, lines)
    items = sum(line.amount for line in lines)
    assert isinstance(discount, int)
    assert 0 <= discount <= eligible_amount(rule, lines) <= items
    total = items + shipping - discount
    assert isinstance(total, int)
    assert total >= shipping >= 0


@given(lines=lines_strategy, percent=st.integers(min_value=1, max_value=100))
def test_a_percentage_is_within_half_a_unit_of_the_exact_share(
    lines: list[PricedLine], percent: int
) -> None:
    rule = Rule(Kind.PERCENT, percent)
    eligible = eligible_amount(rule, lines)
    # |discount - eligible * percent / 100| <= 1/2, in integers
    assert abs(discount_amount(rule, lines) * 100 - eligible * percent) <= 50


@given(lines=lines_strategy, value=st.integers(min_value=1, max_value=MAX_AMOUNT))
def test_fixed_takes_its_value_or_all_that_is_eligible(lines: list[PricedLine], value: int) -> None:
    rule = Rule(Kind.FIXED, value)
    assert discount_amount(rule, lines) == min(value, eligible_amount(rule, lines))
