"""The bound on money that every service holds to: prices, charges and order totals.

Amounts are integer minor units (cents). One bound for all of them keeps what the
catalog may price, what orders may total and what payments may charge in step: an
order whose total payments would refuse is refused when it is placed instead.
"""

from __future__ import annotations

__all__ = ["MAX_AMOUNT"]

MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency
