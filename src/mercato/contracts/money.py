"""Money as every service counts it: the bound on amounts, and what a line costs.

Amounts are integer minor units (cents). One bound for all of them keeps what the
catalog may price, what orders may total and what payments may charge in step: an
order whose total payments would refuse is refused when it is placed instead.

`line_total` is the one place a unit price is multiplied by a quantity: the
catalog's reservations, the orders service's cart, order lines and totals all use
it, so what the catalog holds and what orders charges cannot drift apart.

ISO 4217 gives each currency its number of decimals (`decimals`): most have two
(cents), a few none (JPY, KRW, ...) and a few three (KWD, BHD, ...). `major_units`
writes an amount for people (`101799` USD is `1,017.99`): the catalog's feeds, the
storefront's pages, the mails and the API's messages all read the same table.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MAX_AMOUNT", "decimals", "line_total", "lines_total", "major_units"]

MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency
_ZERO_DECIMALS = frozenset((
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
    "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
))  # fmt: skip
_THREE_DECIMALS = frozenset(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"))


def decimals(currency: str) -> int:
    """How many decimals the currency's minor unit has (ISO 4217; two when unknown)."""
    code = currency.upper()
    if code in _ZERO_DECIMALS:
        return 0
    if code in _THREE_DECIMALS:
        return 3
    return 2


def major_units(amount: int, currency: str) -> str:
    """`amount` minor units of `currency` as people write it: `-1,017.99`, `1,500` (JPY)."""
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**places)
    return sign + f"{whole:,}" + (f".{fraction:0{places}d}" if places else "")


def line_total(unit_amount: int, quantity: int) -> int:
    """What `quantity` units at `unit_amount` minor units each cost, in minor units."""
    return unit_amount * quantity


def lines_total(lines: Iterable[tuple[int, int]]) -> int:
    """The sum of `line_total` over `(unit_amount, quantity)` pairs."""
    return sum(line_total(amount, quantity) for amount, quantity in lines)
