"""Unit tests of a return's refund (the discount's share, the shipping, the caps) and of
an order's fulfilment status."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mercato.orders.return_refunds import discount_taken, over_returned, refund_for_return
from mercato.orders.shipments import fulfilment


def test_a_return_without_discount_gives_back_its_lines_at_the_prices_paid() -> None:
    refund = refund_for_return(lines=[(450, 2), (100, 1)], subtotal=1900, paid=1900)
    assert (refund.lines_value, refund.discount_share, refund.amount) == (1000, 0, 1000)


def test_the_discount_is_shared_in_proportion_rounded_for_the_shop() -> None:
    # 10% off 1000: a third of the lines takes ceil(100 / 3) = 34 of the discount.
    first = refund_for_return(lines=[(1, 333)], subtotal=1000, paid=900, discount=100)
    assert (first.discount_share, first.amount) == (34, 299)
    second = refund_for_return(
        lines=[(1, 667)],
        subtotal=1000,
        paid=900,
        discount=100,
        returned_value_before=333,
        refunded_before=first.amount,
    )
    assert second.discount_share == 66  # the discount in all: exactly 100
    assert first.amount + second.amount == 900


def test_the_shipping_comes_back_with_the_whole_order_once() -> None:
    paid = 1000 + 500 - 100
    whole = refund_for_return(
        lines=[(500, 2)], subtotal=1000, paid=paid, discount=100, shipping=500, whole_order=True
    )
    assert (whole.shipping, whole.amount) == (500, paid)
    again = refund_for_return(
        lines=[],
        subtotal=1000,
        paid=paid,
        shipping=500,
        whole_order=True,
        shipping_refunded_before=True,
        returned_value_before=1000,
        refunded_before=paid,
    )
    assert again.amount == 0


def test_never_more_than_what_is_left_of_the_payment() -> None:
    refund = refund_for_return(lines=[(500, 2)], subtotal=1000, paid=1000, refunded_before=900)
    assert refund.amount == 100


def test_a_discount_beyond_the_lines_comes_off_the_shipping() -> None:
    paid = 300 + 500 - 400  # 300 of lines, 500 of shipping, 400 off
    refund = refund_for_return(
        lines=[(100, 3)], subtotal=300, paid=paid, discount=400, shipping=500, whole_order=True
    )
    assert (refund.discount_share, refund.shipping, refund.amount) == (300, 400, paid)


def test_over_returned_names_each_product_and_how_many_too_many() -> None:
    ordered = {"tea": 3, "cup": 1}
    assert over_returned(ordered=ordered, returned_before={"tea": 2}, returning={"tea": 1}) == {}
    assert over_returned(
        ordered=ordered, returned_before={"tea": 2}, returning={"tea": 2, "pot": 1}
    ) == {"tea": 1, "pot": 1}


orders = st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 50)), min_size=1, max_size=6)


@given(
    lines=orders,
    discount=st.integers(0, 10**7),
    shipping=st.integers(0, 10**5),
    cuts=st.lists(st.integers(0, 5), max_size=8),
)
def test_returns_in_any_slices_never_refund_more_than_was_paid(
    lines: list[tuple[int, int]], discount: int, shipping: int, cuts: list[int]
) -> None:
    subtotal = sum(unit * quantity for unit, quantity in lines)
    paid = max(subtotal + shipping - discount, 0)
    discount = min(discount, subtotal + shipping)  # a total is never below zero
    left = [quantity for _, quantity in lines]
    value_before = refunded = 0
    shipping_done = False
    for step, cut in enumerate([*cuts, 10**9]):  # the last slice brings everything back
        index = step % len(lines)
        take = min(cut if cut < 10**9 else left[index], left[index])
        returning = [(lines[index][0], take)]
        if cut >= 10**9:
            returning = [(unit, left[i]) for i, (unit, _) in enumerate(lines)]
            left = [0] * len(lines)
        else:
            left[index] -= take
        whole = not any(left)
        refund = refund_for_return(
            lines=returning,
            subtotal=subtotal,
            paid=paid,
            discount=discount,
            shipping=shipping,
            returned_value_before=value_before,
            refunded_before=refunded,
            whole_order=whole,
            shipping_refunded_before=shipping_done,
        )
        assert isinstance(refund.amount, int)
        assert 0 <= refund.amount <= paid - refunded
        assert 0 <= refund.discount_share <= refund.lines_value
        value_before += refund.lines_value
        refunded += refund.amount
        shipping_done = shipping_done or whole
        if whole:
            break
    assert refunded == paid  # everything back: exactly what was paid


@given(
    discount=st.integers(-5, 10**7),
    subtotal=st.integers(-5, 10**7),
    returned=st.integers(-5, 10**8),
)
def test_the_discount_taken_is_within_the_discount(
    discount: int, subtotal: int, returned: int
) -> None:
    taken = discount_taken(discount=discount, subtotal=subtotal, returned_value=returned)
    assert 0 <= taken <= max(min(discount, subtotal), 0)


@given(
    st.fixed_dictionaries(
        {
            "lines": st.lists(st.tuples(st.integers(-10, 10**6), st.integers(-3, 50)), max_size=5),
            "subtotal": st.integers(-10, 10**7),
            "paid": st.integers(-10, 10**7),
            "discount": st.integers(-10, 10**7),
            "shipping": st.integers(-10, 10**5),
            "returned_value_before": st.integers(-10, 10**7),
            "refunded_before": st.integers(-10, 10**7),
            "whole_order": st.booleans(),
            "shipping_refunded_before": st.booleans(),
        }
    )
)
def test_a_refund_is_never_negative_nor_above_what_is_left(case: dict[str, Any]) -> None:
    refund = refund_for_return(**case)
    assert isinstance(refund.amount, int)
    assert 0 <= refund.amount <= max(case["paid"] - max(case["refunded_before"], 0), 0)
    assert refund.shipping <= max(case["shipping"], 0)


def test_fulfilment_follows_the_shipments_then_the_returns() -> None:
    ordered = Counter({"tea": 2, "cup": 1})
    tea, cup = Counter({"tea": 2}), Counter({"cup": 1})
    none: Counter[str] = Counter()

    def status(*shipments: tuple[str, Counter[str]], returned: Counter[str] = none) -> str:
        return fulfilment(ordered=ordered, shipments=list(shipments), returned=returned)

    assert status() == "unfulfilled"
    assert status(("created", tea), ("created", cup)) == "awaiting_shipment"
    assert status(("shipped", tea), ("created", cup)) == "partially_shipped"
    assert status(("shipped", tea + cup)) == "shipped"
    assert status(("delivered", tea), ("shipped", cup)) == "partially_delivered"
    assert status(("delivered", tea), ("delivered", cup)) == "delivered"
    assert status(("delivered", tea), returned=Counter({"tea": 1})) == "partially_returned"
    assert status(("delivered", tea + cup), returned=tea + cup) == "returned"
