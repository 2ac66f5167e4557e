"""Money as the API gives it (integer minor units and an ISO 4217 code) and as a page shows it.

`format_money(Money(101799, "USD"))` is `$1,017.99`; a currency without a symbol here
is written with its code (`CHF 12.50`). The number of decimals of each currency is
the contracts' (`contracts.money`), as every service counts it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mercato.contracts.money import decimals, major_units

__all__ = ["Money", "decimals", "format_amount", "format_money"]

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


class Money(BaseModel):
    """An amount in minor units of a currency, as every API answers prices."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    amount: int
    currency: str


def format_amount(amount: int, currency: str) -> str:
    """`amount` minor units of `currency`, written for a shopper (`$1,017.99`)."""
    number = major_units(abs(amount), currency)
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


def format_money(money: Money) -> str:
    """`money` written for a shopper."""
    return format_amount(money.amount, money.currency)
