"""Money as the API gives it (integer minor units and an ISO 4217 code) and as a page shows it.

`format_money(Money(101799, "USD"))` is `$1,017.99`; a currency without a symbol here
is written with its code (`CHF 12.50`). ISO 4217 gives each currency its number of
decimals: most have two, a few none (JPY) or three (KWD). The table is the catalog's
(`catalog.money`), repeated because the storefront imports no service's code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Money", "decimals", "format_amount", "format_money"]

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_ZERO_DECIMALS = frozenset((
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
    "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
))  # fmt: skip
_THREE_DECIMALS = frozenset(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"))


class Money(BaseModel):
    """An amount in minor units of a currency, as every API answers prices."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    amount: int
    currency: str


def decimals(currency: str) -> int:
    """How many decimals the currency's minor unit has."""
    if currency in _ZERO_DECIMALS:
        return 0
    if currency in _THREE_DECIMALS:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """`amount` minor units of `currency`, written for a shopper (`$1,017.99`)."""
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**places)
    number = f"{whole:,}" + (f".{fraction:0{places}d}" if places else "")
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


def format_money(money: Money) -> str:
    """`money` written for a shopper."""
    return format_amount(money.amount, money.currency)
