"""The order state machine: the states of the checkout saga and its allowed moves.

    pending ─▶ reserving ─▶ reserved ─▶ charging ─▶ paid ─▶ confirmed
                   │                        │          │         │
                   ▼                        ▼          │         │
              out_of_stock           payment_failed    │         │
                                                       ▼         ▼
    (any non-terminal state, and confirmed) ───────▶ cancelling ─▶ cancelled

`payment_failed`, `out_of_stock` and `cancelled` are terminal.
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
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RESERVING, Status.CANCELLING}),
    Status.RESERVING: frozenset({Status.RESERVED, Status.OUT_OF_STOCK, Status.CANCELLING}),
    Status.RESERVED: frozenset({Status.CHARGING, Status.CANCELLING}),
    Status.CHARGING: frozenset({Status.PAID, Status.PAYMENT_FAILED, Status.CANCELLING}),
    Status.PAID: frozenset({Status.CONFIRMED, Status.CANCELLING}),
    Status.CONFIRMED: frozenset({Status.CANCELLING}),
    Status.CANCELLING: frozenset({Status.CANCELLED}),
    Status.PAYMENT_FAILED: frozenset(),
    Status.OUT_OF_STOCK: frozenset(),
    Status.CANCELLED: frozenset(),
}

TERMINAL = frozenset(status for status, moves in TRANSITIONS.items() if not moves)
FAILED = frozenset({Status.PAYMENT_FAILED, Status.OUT_OF_STOCK})
# States the saga still has to drive forward (confirmed is settled, not terminal).
ACTIVE = frozenset(TRANSITIONS) - TERMINAL - {Status.CONFIRMED}
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
