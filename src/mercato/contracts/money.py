"""Money as every service counts it: the bound on amounts, and what a line costs.

Amounts are integer minor units (cents). One bound for all of them keeps what the
catalog may price, what orders may total and what payments may charge in step: an
order whose total payments would refuse is refused when it is placed instead.

`line_total` is the one place a unit price is multiplied by a quantity: the
catalog's reservations, the orders service's cart, order lines and totals all use
it, so what the catalog holds and what orders charges cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MAX_AMOUNT", "line_total", "lines_total"]

MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency


def line_total(unit_amount: int, quantity: int) -> int:
    """What `quantity` units at `unit_amount` minor units each cost, in minor units."""
    return unit_amount * quantity


def lines_total(lines: Iterable[tuple[int, int]]) -> int:
    """The sum of `line_total` over `(unit_amount, quantity)` pairs."""
    return sum(line_total(amount, quantity) for amount, quantity in lines)
