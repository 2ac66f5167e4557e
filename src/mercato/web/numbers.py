"""Whole numbers typed into a form or a URL, read without surprises.

`str.isdigit` accepts `²` and other digits `int` refuses, and `int` refuses a string
of more than 4300 digits: `whole_number` reads only ASCII digits, a bounded number of
them, and answers None for anything else.
"""

from __future__ import annotations

__all__ = ["whole_number"]


def whole_number(text: str, *, max_digits: int) -> int | None:
    """`text` (surrounding spaces aside) as a whole number of at most `max_digits` digits."""
    text = text.strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
