"""The bound on quantities that every service holds to: stock counts and cart lines.

The catalog keeps stock in 32-bit integer columns; a cart line asks for some of
that stock, so it can never sensibly ask for more. One bound for both keeps a
quantity the orders service accepts within what the catalog can count.
"""

from __future__ import annotations

__all__ = ["MAX_STOCK"]

MAX_STOCK = 2**31 - 1  # the largest value of a signed 32-bit column
