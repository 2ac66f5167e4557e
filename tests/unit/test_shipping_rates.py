"""Unit tests of shipping's rate arithmetic: which rate applies, the quotes' order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.shipping import MAX_WEIGHT_GRAMS, QuoteQuery
from mercato.shipping.rates import MethodInfo, RateInfo, best_rate, price_of, quote

STANDARD = MethodInfo("standard", "Standard", 3, 5)
EXPRESS = MethodInfo("express", "Express", 1, 2)


def ask(country: str = "DE", weight: int = 1000, subtotal: int = 0) -> QuoteQuery:
    return QuoteQuery(country=country, currency="EUR", weight_grams=weight, subtotal=subtotal)


def test_the_country_comes_before_the_rest_of_the_world() -> None:
    rates = [
        RateInfo("standard", ("*",), "EUR", 5000, 300),
        RateInfo("standard", ("DE", "AT"), "EUR", 5000, 700),
    ]
    assert [q.price.amount for q in quote([STANDARD], rates, ask("DE")).items] == [700]
    assert [q.price.amount for q in quote([STANDARD], rates, ask("FR")).items] == [300]


def test_weight_bands_currency_and_free_over() -> None:
    rates = [
        RateInfo("standard", ("DE",), "EUR", 2000, 500, free_over=10_000),
        RateInfo("standard", ("DE",), "EUR", 20_000, 900),
        RateInfo("standard", ("DE",), "USD", 20_000, 1),
    ]
    assert quote([STANDARD], rates, ask(weight=2000)).items[0].price.amount == 500
    assert quote([STANDARD], rates, ask(weight=2001)).items[0].price.amount == 900
    assert quote([STANDARD], rates, ask(weight=1, subtotal=10_000)).items[0].price.amount == 0
    assert quote([STANDARD], rates, ask(weight=1, subtotal=9_999)).items[0].price.amount == 500
    assert quote([STANDARD], rates, ask(weight=20_001)).items == []


def test_inactive_and_rateless_methods_are_left_out() -> None:
    rates = [RateInfo("express", ("*",), "EUR", 5000, 1500)]
    closed = MethodInfo("express", "Express", 1, 2, active=False)
    assert quote([STANDARD, closed], rates, ask()).items == []
    assert [q.method for q in quote([STANDARD, EXPRESS], rates, ask()).items] == ["express"]


def test_ties_go_to_the_faster_method() -> None:
    rates = [
        RateInfo("standard", ("*",), "EUR", 5000, 500),
        RateInfo("express", ("*",), "EUR", 5000, 500),
    ]
    assert [q.method for q in quote([STANDARD, EXPRESS], rates, ask()).items] == [
        "express",
        "standard",
    ]


def test_price_of_never_goes_below_zero() -> None:
    assert price_of(RateInfo("m", ("*",), "EUR", 1, -5), 0) == 0
    assert best_rate([], country="DE", currency="EUR", weight_grams=1, subtotal=0) is None


methods = st.lists(
    st.builds(
        MethodInfo,
        code=st.sampled_from(["a", "b", "c", "d"]),
        name=st.just("m"),
        min_days=st.integers(0, 5),
        max_days=st.integers(5, 10),
        active=st.booleans(),
    ),
    max_size=4,
    unique_by=lambda m: m.code,
)
rates = st.lists(
    st.builds(
        RateInfo,
        method=st.sampled_from(["a", "b", "c", "d", "z"]),
        countries=st.sampled_from([("*",), ("DE",), ("DE", "FR"), ("US",)]),
        currency=st.sampled_from(["EUR", "USD"]),
        max_weight_grams=st.integers(1, MAX_WEIGHT_GRAMS),
        price=st.integers(0, MAX_AMOUNT),
        free_over=st.none() | st.integers(0, MAX_AMOUNT),
    ),
    max_size=12,
)
queries = st.builds(
    QuoteQuery,
    country=st.sampled_from(["DE", "FR", "US", "JP"]),
    currency=st.sampled_from(["EUR", "USD"]),
    weight_grams=st.integers(0, MAX_WEIGHT_GRAMS),
    subtotal=st.integers(0, MAX_AMOUNT),
)


@given(methods, rates, queries)
def test_quotes_are_whole_non_negative_cheapest_first(
    methods: list[MethodInfo], rates: list[RateInfo], query: QuoteQuery
) -> None:
    found = quote(methods, rates, query).items
    amounts = [q.price.amount for q in found]
    assert all(type(a) is int and 0 <= a <= MAX_AMOUNT for a in amounts)
    assert amounts == sorted(amounts)
    assert all(q.price.currency == query.currency for q in found)
    codes = [q.method for q in found]
    assert len(codes) == len(set(codes))
    for method in methods:
        priced = best_rate(
            [r for r in rates if r.method == method.code],
            country=query.country,
            currency=query.currency,
            weight_grams=query.weight_grams,
            subtotal=query.subtotal,
        )
        # Quoted exactly when active and some rate of it prices the parcel.
        assert (method.code in codes) == (method.active and priced is not None)
    for q in found:
        own = [r for r in rates if r.method == q.method and r.currency == query.currency]
        fitting = [r for r in own if query.weight_grams <= r.max_weight_grams]
        zone = [r for r in fitting if query.country in r.countries or "*" in r.countries]
        # The price is one that a rate of the method charges for this parcel.
        assert q.price.amount in {price_of(r, query.subtotal) for r in zone}
