"""Unit tests of shipping's state machines: shipments and returns."""

from __future__ import annotations

import pytest

from mercato.shipping.states import (
    RETURN_MOVES,
    SHIPMENT_MOVES,
    SPLITTABLE,
    UNSHIPPED,
    InvalidTransition,
    ReturnStatus,
    ShipmentStatus,
    check_return_move,
    check_shipment_move,
)

S = ShipmentStatus
R = ReturnStatus


def test_every_status_has_a_row() -> None:
    assert set(SHIPMENT_MOVES) == set(ShipmentStatus)
    assert set(RETURN_MOVES) == set(ReturnStatus)


def test_the_happy_paths() -> None:
    for current, new in ((S.PENDING, S.PACKED), (S.PACKED, S.SHIPPED), (S.SHIPPED, S.DELIVERED)):
        check_shipment_move(current, new)
    for current_r, new_r in (
        (R.REQUESTED, R.ACCEPTED),
        (R.ACCEPTED, R.RECEIVED),
        (R.RECEIVED, R.REFUNDED),
    ):
        check_return_move(current_r, new_r)
    check_return_move(R.REQUESTED, R.REJECTED)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.PENDING, S.SHIPPED),
        (S.PENDING, S.DELIVERED),
        (S.PACKED, S.PENDING),
        (S.SHIPPED, S.CANCELLED),
        (S.DELIVERED, S.SHIPPED),
        (S.CANCELLED, S.PACKED),
        (S.PACKED, S.PACKED),
    ],
)
def test_refused_shipment_moves(current: ShipmentStatus, new: ShipmentStatus) -> None:
    with pytest.raises(InvalidTransition) as raised:
        check_shipment_move(current, new)
    assert (raised.value.current, raised.value.new) == (current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (R.REQUESTED, R.RECEIVED),
        (R.REJECTED, R.ACCEPTED),
        (R.ACCEPTED, R.REJECTED),
        (R.REFUNDED, R.RECEIVED),
    ],
)
def test_refused_return_moves(current: ReturnStatus, new: ReturnStatus) -> None:
    with pytest.raises(InvalidTransition):
        check_return_move(current, new)


def test_terminal_states_and_what_is_unshipped() -> None:
    assert {s for s, moves in SHIPMENT_MOVES.items() if not moves} == {S.DELIVERED, S.CANCELLED}
    assert {s for s, moves in RETURN_MOVES.items() if not moves} == {R.REJECTED, R.REFUNDED}
    assert UNSHIPPED == SPLITTABLE == {S.PENDING, S.PACKED}
