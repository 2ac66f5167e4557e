"""Unit tests of the order state machine."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from mercato.orders.states import (
    ACTIVE,
    CANCELLABLE,
    FAILED,
    TERMINAL,
    TRANSITIONS,
    InvalidTransition,
    Status,
    can_transition,
    check_transition,
    deadline_for,
    stalled_in,
)

HAPPY = [
    Status.PENDING,
    Status.RESERVING,
    Status.RESERVED,
    Status.CHARGING,
    Status.PAID,
    Status.CONFIRMED,
]


def test_every_state_has_its_moves() -> None:
    assert set(TRANSITIONS) == set(Status)


def test_the_happy_path_is_allowed() -> None:
    for current, new in itertools.pairwise(HAPPY):
        assert can_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (Status.RESERVING, Status.OUT_OF_STOCK),
        (Status.CHARGING, Status.PAYMENT_FAILED),
        (Status.PAID, Status.CANCELLING),
        (Status.CONFIRMED, Status.CANCELLING),
        (Status.CANCELLING, Status.CANCELLED),
    ],
)
def test_failure_and_compensation_moves(current: Status, new: Status) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (Status.PENDING, Status.CHARGING),  # no charge before stock is reserved
        (Status.RESERVED, Status.CONFIRMED),  # no confirmation before payment
        (Status.CHARGING, Status.CONFIRMED),
        (Status.CONFIRMED, Status.PAID),  # never backwards
        (Status.CANCELLING, Status.CONFIRMED),
        (Status.PAYMENT_FAILED, Status.CANCELLING),  # terminal
        (Status.CANCELLED, Status.CANCELLING),
        (Status.RESERVED, Status.PAYMENT_FAILED),
    ],
)
def test_forbidden_moves(current: Status, new: Status) -> None:
    assert not can_transition(current, new)
    with pytest.raises(InvalidTransition) as raised:
        check_transition(current, new)
    assert (raised.value.current, raised.value.new) == (current, new)


def test_terminal_and_active_states() -> None:
    assert {
        Status.PAYMENT_FAILED,
        Status.OUT_OF_STOCK,
        Status.REJECTED,
        Status.CANCELLED,
    } == TERMINAL
    assert FAILED < TERMINAL
    assert Status.NEEDS_ATTENTION not in ACTIVE and Status.NEEDS_ATTENTION not in TERMINAL
    assert Status.CONFIRMED not in ACTIVE and Status.CONFIRMED not in TERMINAL
    assert {
        Status.PENDING,
        Status.RESERVING,
        Status.RESERVED,
        Status.CHARGING,
        Status.PAID,
        Status.CANCELLING,
    } == ACTIVE


def test_cancellable_before_shipping_but_not_after_failure() -> None:
    assert Status.CONFIRMED in CANCELLABLE and Status.PENDING in CANCELLABLE
    assert not CANCELLABLE & TERMINAL
    assert Status.CANCELLING not in CANCELLABLE


def test_states_serialise_as_their_names() -> None:
    assert Status("payment_failed") is Status.PAYMENT_FAILED
    assert f"{Status.OUT_OF_STOCK}" == "out_of_stock"


def test_every_state_has_a_way_out_to_a_terminal_state() -> None:
    # No state is a dead end: from each, some path of allowed moves ends the order.
    for start in Status:
        reached, frontier = {start}, [start]
        while frontier:
            for new in TRANSITIONS[frontier.pop()]:
                if new not in reached:
                    reached.add(new)
                    frontier.append(new)
        assert reached & TERMINAL, f"{start} never reaches a terminal state"


def test_every_state_the_saga_drives_can_be_left_for_an_operator() -> None:
    for status in ACTIVE:
        assert can_transition(status, Status.NEEDS_ATTENTION), status
    assert not can_transition(Status.CONFIRMED, Status.NEEDS_ATTENTION)
    # An operator resumes it where it stalled, or it is cancelled.
    assert TRANSITIONS[Status.NEEDS_ATTENTION] == ACTIVE
    assert Status.NEEDS_ATTENTION in CANCELLABLE


def test_a_rejected_order_is_a_failure_not_out_of_stock() -> None:
    check_transition(Status.RESERVING, Status.REJECTED)
    assert Status.REJECTED in FAILED
    assert not can_transition(Status.REJECTED, Status.CANCELLING)


def test_only_the_states_the_saga_drives_have_a_deadline() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for status in Status:
        deadline = deadline_for(status, at, 60)
        if status in ACTIVE:
            assert deadline == at + timedelta(seconds=60), status
        else:
            assert deadline is None, status


def test_an_order_resumes_in_the_state_it_last_stalled_in() -> None:
    entered = [
        Status.PENDING,
        Status.RESERVING,
        Status.NEEDS_ATTENTION,
        Status.RESERVING,
        Status.RESERVED,
        Status.CHARGING,
        Status.NEEDS_ATTENTION,
    ]
    assert stalled_in(entered) is Status.CHARGING
    assert stalled_in(entered[:3]) is Status.RESERVING
