"""The order state machine: the states of the checkout saga and its allowed moves.

    pending ─▶ reserving ─▶ reserved ─▶ charging ─▶ paid ─▶ confirmed
                   │                        │          │         │
                   ▼                        ▼          │         │
        out_of_stock, rejected       payment_failed    │         │
                                                       ▼         ▼
    (any non-terminal state, and confirmed) ───────▶ cancelling ─▶ cancelled

    (any state the saga drives) ─▶ needs_attention ─▶ (back where it stalled) | cancelling

`payment_failed`, `out_of_stock`, `rejected` (the catalog refused the order's lines
for another reason than stock: a price that changed currency, a product gone) and
`cancelled` are terminal. `needs_attention` is where the saga leaves an order it
cannot drive further on its own: a dependency refused a step for good, or the step
kept failing past its retries or its deadline. It waits for an operator, who resumes
it (back to the state it stalled in) or cancels it; it is never retried by itself.
So every state has a way out, and none is a loop.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE",
    "CANCELLABLE",
    "FAILED",
    "TERMINAL",
    "TRANSITIONS",
    "InvalidTransition",
    "Status",
    "can_transition",
    "check_transition",
]


class Status(StrEnum):
    """Where an order stands in the checkout saga."""

    PENDING = "pending"
    RESERVING = "reserving"
    RESERVED = "reserved"
    CHARGING = "charging"
    PAID = "paid"
    CONFIRMED = "confirmed"
    PAYMENT_FAILED = "payment_failed"
    OUT_OF_STOCK = "out_of_stock"
    REJECTED = "rejected"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    NEEDS_ATTENTION = "needs_attention"


_STALL = Status.NEEDS_ATTENTION
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RESERVING, Status.CANCELLING, _STALL}),
    Status.RESERVING: frozenset(
        {Status.RESERVED, Status.OUT_OF_STOCK, Status.REJECTED, Status.CANCELLING, _STALL}
    ),
    Status.RESERVED: frozenset({Status.CHARGING, Status.CANCELLING, _STALL}),
    Status.CHARGING: frozenset({Status.PAID, Status.PAYMENT_FAILED, Status.CANCELLING, _STALL}),
    Status.PAID: frozenset({Status.CONFIRMED, Status.CANCELLING, _STALL}),
    Status.CONFIRMED: frozenset({Status.CANCELLING}),
    Status.CANCELLING: frozenset({Status.CANCELLED, _STALL}),
    # An operator resumes the saga where it stalled, or cancels the order.
    Status.NEEDS_ATTENTION: frozenset(
        {
            Status.PENDING,
            Status.RESERVING,
            Status.RESERVED,
            Status.CHARGING,
            Status.PAID,
            Status.CANCELLING,
        }
    ),
    Status.PAYMENT_FAILED: frozenset(),
    Status.OUT_OF_STOCK: frozenset(),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}

TERMINAL = frozenset(status for status, moves in TRANSITIONS.items() if not moves)
FAILED = frozenset({Status.PAYMENT_FAILED, Status.OUT_OF_STOCK, Status.REJECTED})
# States the saga still has to drive forward (confirmed is settled, not terminal, and an
# order that needs attention waits for an operator).
ACTIVE = frozenset(TRANSITIONS) - TERMINAL - {Status.CONFIRMED, Status.NEEDS_ATTENTION}
# States a customer may cancel from: before shipping, which Mercato does not model yet.
CANCELLABLE = frozenset(s for s, moves in TRANSITIONS.items() if Status.CANCELLING in moves)


class InvalidTransition(Exception):
    """The state machine does not allow moving an order from one state to another."""

    def __init__(self, current: Status, new: Status) -> None:
        super().__init__(f"an order cannot move from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: Status, new: Status) -> bool:
    """Whether an order may move from `current` to `new`."""
    return new in TRANSITIONS[current]


def check_transition(current: Status, new: Status) -> None:
    """Raise InvalidTransition unless an order may move from `current` to `new`."""
    if not can_transition(current, new):
        raise InvalidTransition(current, new)
