"""Prices in major units (as external feeds give them) turned into minor units.

ISO 4217 gives each currency its number of decimals (the contracts' `decimals`:
two for most, none for JPY, three for KWD). Conversion goes through
`Decimal` built from the number's shortest decimal text, so `9.99` is 999 cents and
never 998.9999 truncated; amounts with more decimals than the currency has are
rounded half up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from mercato.contracts.money import decimals

__all__ = ["decimals", "to_minor_units"]


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
