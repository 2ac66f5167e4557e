"""What a return gives back: pure integer arithmetic, no database, no HTTP.

An order's total is its lines' subtotal `S`, less its discount `D`, plus its shipping
`H` (the columns the discounts work adds; both 0 on an order without them). A return
gives back the price paid for its lines: their value at the order's unit prices, less
their share of the discount, plus the shipping when the whole order has come back.

The discount's share is taken *cumulatively*: after returns worth `v1`, `v2`, ... in
all `V`, the discount taken back is `ceil(D' * V / S)` (`D' = min(D, S)`, the part of
the discount that lay on the lines), and each return takes the difference from the
returns before it. So each partial return rounds in the shop's favour by under one
minor unit, and once every line is back exactly `D'` has been taken, never more:
returns that bring back the whole order refund exactly what was paid. A discount
larger than the lines (`D > S`) takes the rest off the shipping refund.

Whatever the inputs, a refund is a whole number of minor units, never negative and
never more than what is left of the payment (`paid - refunded_before`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ReturnRefund",
    "discount_taken",
    "over_returned",
    "refund_for_return",
]


@dataclass(frozen=True, slots=True)
class ReturnRefund:
    """A return's refund and how it is made up (all in minor units)."""

    lines_value: int  # the returned lines at the prices ordered
    discount_share: int  # taken off them: their part of the order's discount
    shipping: int  # the shipping given back (only once the whole order is back)
    amount: int  # what is refunded: value - share + shipping, capped by what is left


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def discount_taken(*, discount: int, subtotal: int, returned_value: int) -> int:
    """The part of the order's discount that returns worth `returned_value` in all take back."""
    if subtotal <= 0 or discount <= 0 or returned_value <= 0:
        return 0
    on_lines = min(discount, subtotal)
    return min(on_lines, _ceil_div(on_lines * min(returned_value, subtotal), subtotal))


def refund_for_return(
    *,
    lines: Iterable[tuple[int, int]],
    subtotal: int,
    paid: int,
    discount: int = 0,
    shipping: int = 0,
    returned_value_before: int = 0,
    refunded_before: int = 0,
    whole_order: bool = False,
    shipping_refunded_before: bool = False,
) -> ReturnRefund:
    """The refund of a return of `lines` (unit price, quantity) of an order.

    `subtotal` is the order's lines' value, `paid` what its payment took (its total),
    `discount` and `shipping` the order's (0 when it has none); `returned_value_before`
    and `refunded_before` are what the order's earlier returns brought back and were
    refunded; `whole_order` says this return completes the order, whose shipping is
    then given back unless an earlier return did.
    """
    value = sum(max(unit, 0) * max(quantity, 0) for unit, quantity in lines)
    before = max(returned_value_before, 0)
    share = discount_taken(
        discount=discount, subtotal=subtotal, returned_value=before + value
    ) - discount_taken(discount=discount, subtotal=subtotal, returned_value=before)
    give_back_shipping = 0
    if whole_order and not shipping_refunded_before:
        beyond_lines = max(discount - max(subtotal, 0), 0)  # a discount larger than the lines
        give_back_shipping = max(shipping - beyond_lines, 0)
    left = max(paid - max(refunded_before, 0), 0)
    amount = min(max(value - share, 0) + give_back_shipping, left)
    return ReturnRefund(
        lines_value=value, discount_share=share, shipping=give_back_shipping, amount=amount
    )


def over_returned(
    *,
    ordered: Mapping[str, int],
    returned_before: Mapping[str, int],
    returning: Mapping[str, int],
) -> dict[str, int]:
    """The products this return brings back more of than are ordered and not yet back.

    By product id: how many units too many (a product the order does not hold counts
    every unit). Empty when the return fits the order.
    """
    excess: dict[str, int] = {}
    for product_id, quantity in returning.items():
        left = ordered.get(product_id, 0) - returned_before.get(product_id, 0)
        if quantity > left:
            excess[product_id] = quantity - max(left, 0)
    return excess
