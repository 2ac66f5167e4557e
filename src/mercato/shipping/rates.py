"""Rate arithmetic: which rate prices a parcel, and the quotes of every method. Pure.

A rate applies to a parcel when it is in the rate's currency, weighs at most its
`max_weight_grams` and goes to one of its `countries`. Rates naming the country
come before the rest of the world (`*`): a method with a rate for the country itself
that fits the parcel is priced from those alone, so a country can be dearer or
cheaper than the default. Among the rates that apply the cheapest wins (weight bands: a heavier band
is dearer). A rate with `free_over` costs nothing when the items' subtotal reaches it.
A method that is inactive or has no rate that applies is left out of the quotes;
the quotes are cheapest first, then fastest, then by code, so the order is stable.
Every amount is an integer of minor units, never negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.shipping import Quote, QuoteList, QuoteMoney, QuoteQuery

__all__ = ["REST_OF_WORLD", "MethodInfo", "RateInfo", "applies", "best_rate", "price_of", "quote"]

REST_OF_WORLD = "*"


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """What a quote needs of a method."""

    code: str
    name: str
    min_days: int
    max_days: int
    active: bool = True


@dataclass(frozen=True, slots=True)
class RateInfo:
    """What a quote needs of a rate."""

    method: str
    countries: tuple[str, ...]
    currency: str
    max_weight_grams: int
    price: int
    free_over: int | None = None


def price_of(rate: RateInfo, subtotal: int) -> int:
    """What `rate` charges for items worth `subtotal`: 0 from its `free_over` on."""
    if rate.free_over is not None and subtotal >= rate.free_over:
        return 0
    return min(max(rate.price, 0), MAX_AMOUNT)


def applies(rate: RateInfo, *, currency: str, weight_grams: int, country: str | None) -> bool:
    """Whether `rate` prices this parcel; `country=None` skips the zone test."""
    if rate.currency != currency or weight_grams > rate.max_weight_grams:
        return False
    return country is None or country in rate.countries


def best_rate(
    rates: Iterable[RateInfo], *, country: str, currency: str, weight_grams: int, subtotal: int
) -> RateInfo | None:
    """The rate of one method that prices the parcel (the country's before `*`), or None."""
    fitting = [
        r for r in rates if applies(r, currency=currency, weight_grams=weight_grams, country=None)
    ]
    own = [r for r in fitting if country in r.countries]
    candidates = own or [r for r in fitting if REST_OF_WORLD in r.countries]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (price_of(r, subtotal), r.max_weight_grams))


def quote(methods: Sequence[MethodInfo], rates: Sequence[RateInfo], query: QuoteQuery) -> QuoteList:
    """Every active method that ships the parcel, priced, cheapest first."""
    by_method: dict[str, list[RateInfo]] = {}
    for each in rates:
        by_method.setdefault(each.method, []).append(each)
    quotes: list[Quote] = []
    for method in methods:
        if not method.active:
            continue
        rate = best_rate(
            by_method.get(method.code, []),
            country=query.country,
            currency=query.currency,
            weight_grams=query.weight_grams,
            subtotal=query.subtotal,
        )
        if rate is None:
            continue
        price = QuoteMoney(amount=price_of(rate, query.subtotal), currency=query.currency)
        quotes.append(
            Quote(
                method=method.code,
                name=method.name,
                price=price,
                min_days=method.min_days,
                max_days=method.max_days,
            )
        )
    quotes.sort(key=lambda q: (q.price.amount, q.max_days, q.method))
    return QuoteList(items=quotes)
