"""Prices in major units (as external feeds give them) turned into minor units.

ISO 4217 gives each currency its number of decimals: most have two (cents), a few
none (JPY, KRW, ...) and a few three (KWD, BHD, ...). Conversion goes through
`Decimal` built from the number's shortest decimal text, so `9.99` is 999 cents and
never 998.9999 truncated; amounts with more decimals than the currency has are
rounded half up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["decimals", "to_minor_units"]

_ZERO_DECIMALS = frozenset((
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
    "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
))  # fmt: skip
_THREE_DECIMALS = frozenset(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"))


def decimals(currency: str) -> int:
    """How many decimals the currency's minor unit has."""
    if currency in _ZERO_DECIMALS:
        return 0
    if currency in _THREE_DECIMALS:
        return 3
    return 2


def to_minor_units(amount: Decimal | float | int | str, currency: str) -> int:
    """`amount` major units of `currency` in minor units; ValueError if not a number."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        scaled = value.scaleb(decimals(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"not a number: {amount!r}") from None
    if not scaled.is_finite():
        raise ValueError(f"not a finite number: {amount!r}")
    return int(scaled)
