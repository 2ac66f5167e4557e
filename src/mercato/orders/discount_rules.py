"""What a discount code takes off a cart: integer arithmetic only, no I/O.

A rule is `percent` (a whole percentage, 1 to 100, of the eligible lines) or `fixed`
(an amount in minor units of one currency, capped at the eligible lines). The
eligible lines are every line, or, when the rule names categories, only the lines
of products in one of them. A percentage is rounded half up to the minor unit and
never exceeds the eligible amount, so a discount is always a whole number between 0
and the eligible items, and items - discount is never negative. Shipping is never
discounted: the order's total is items + shipping - discount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Kind", "PricedLine", "Rule", "discount_amount", "eligible_amount", "percent_of"]


class Kind(StrEnum):
    """How a discount's value is read."""

    PERCENT = "percent"  # value: a whole percentage, 1 to 100
    FIXED = "fixed"  # value: minor units of the discount's currency


@dataclass(frozen=True, slots=True)
class Rule:
    """What a code takes off: its kind, value and the categories it is limited to (none: all)."""

    kind: Kind
    value: int
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A line's cost (minor units, unit price times quantity) and its product's category."""

    amount: int
    category: str | None


def eligible_amount(rule: Rule, lines: Iterable[PricedLine]) -> int:
    """What the lines the rule applies to cost together."""
    return sum(
        line.amount for line in lines if not rule.categories or line.category in rule.categories
    )


def percent_of(amount: int, percent: int) -> int:
    """`percent`% of `amount`, rounded half up to a whole minor unit (both non-negative)."""
    return (amount * percent + 50) // 100


def discount_amount(rule: Rule, lines: Sequence[PricedLine]) -> int:
    """What the rule takes off the lines: never negative, never above the eligible lines."""
    eligible = eligible_amount(rule, lines)
    if eligible <= 0:
        return 0
    if rule.kind is Kind.PERCENT:
        taken = percent_of(eligible, max(0, min(rule.value, 100)))
    else:
        taken = max(0, rule.value)
    return min(taken, eligible)
