"""Card number rules: normalisation, the Luhn checksum, the brand, and expiry.

Pure functions, used to validate a card before it is handed to the provider. The
brand comes from the number's issuer prefix (IIN); a known brand also fixes the
number's length.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "MAX_DIGITS",
    "MIN_DIGITS",
    "NUMBER_PATTERN",
    "brand_of",
    "check_number",
    "is_expired",
    "luhn_valid",
    "normalize_number",
]

MIN_DIGITS = 12
MAX_DIGITS = 19
# What `normalize_number` accepts, as the JSON Schema pattern that documents it:
# 12 to 19 digits with any spaces and dashes around them (the checksum is not a regex).
NUMBER_PATTERN = rf"^[ -]*(?:[0-9][ -]*){{{MIN_DIGITS},{MAX_DIGITS}}}$"
_LENGTHS: dict[str, frozenset[int]] = {
    "visa": frozenset({13, 16, 19}),
    "mastercard": frozenset({16}),
    "amex": frozenset({15}),
    "discover": frozenset({16, 17, 18, 19}),
}


def normalize_number(raw: str) -> str:
    """The digits of a card number typed with spaces or dashes; ValueError otherwise."""
    digits = raw.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("must hold only digits, spaces and dashes")
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise ValueError(f"must have {MIN_DIGITS} to {MAX_DIGITS} digits")
    return digits


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) checksum."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def brand_of(digits: str) -> str:
    """The card brand its issuer prefix names: visa, mastercard, amex, discover or unknown."""
    two, four, six = int(digits[:2] or 0), int(digits[:4] or 0), int(digits[:6] or 0)
    if digits.startswith("4"):
        return "visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if four == 6011 or two == 65 or 644 <= int(digits[:3] or 0) <= 649 or 622126 <= six <= 622925:
        return "discover"
    return "unknown"


def check_number(raw: str) -> tuple[str, str]:
    """The digits and brand of a valid card number; ValueError saying what is wrong."""
    digits = normalize_number(raw)
    if not luhn_valid(digits):
        raise ValueError("is not a valid card number (checksum)")
    brand = brand_of(digits)
    lengths = _LENGTHS.get(brand)
    if lengths is not None and len(digits) not in lengths:
        raise ValueError(f"a {brand} card number has {'/'.join(map(str, sorted(lengths)))} digits")
    return digits, brand


def is_expired(exp_month: int, exp_year: int, today: date) -> bool:
    """Whether a card valid through the end of `exp_month`/`exp_year` has expired on `today`."""
    return (exp_year, exp_month) < (today.year, today.month)
