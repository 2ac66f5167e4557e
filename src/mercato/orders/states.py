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

`MACHINE` is the one table of it: for each status, where an order may go next and
what kind of state it is. Every set the other modules test a status against
(`ACTIVE`, `TERMINAL`, ...) is derived from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "ACTIVE",
    "CANCELLABLE",
    "FAILED",
    "MACHINE",
    "TERMINAL",
    "TRANSITIONS",
    "InvalidTransition",
    "State",
    "Status",
    "can_transition",
    "check_transition",
    "deadline_for",
    "stalled_in",
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


@dataclass(frozen=True, slots=True)
class State:
    """One row of the state machine: what kind of state a status is, and its moves.

    `active`: the saga still drives the order forward from here (a step runs, the
    sweeper resumes it). `deadline`: the order must leave the state within the step
    deadline. `failed`: the checkout ended without the order. A state with no moves
    is terminal.
    """

    active: bool
    deadline: bool
    failed: bool
    moves: frozenset[Status]

    @property
    def terminal(self) -> bool:
        """Whether the order never moves again."""
        return not self.moves


def _to(*moves: Status) -> frozenset[Status]:
    return frozenset(moves)


_S = Status
_STALL = Status.NEEDS_ATTENTION
# fmt: off
MACHINE: dict[Status, State] = {
    #                     active deadline failed  moves
    _S.PENDING:     State(True,  True,    False,  _to(_S.RESERVING, _S.CANCELLING, _STALL)),
    _S.RESERVING:   State(True,  True,    False,  _to(_S.RESERVED, _S.OUT_OF_STOCK, _S.REJECTED,
                                                      _S.CANCELLING, _STALL)),
    _S.RESERVED:    State(True,  True,    False,  _to(_S.CHARGING, _S.CANCELLING, _STALL)),
    _S.CHARGING:    State(True,  True,    False,  _to(_S.PAID, _S.PAYMENT_FAILED, _S.CANCELLING,
                                                      _STALL)),
    _S.PAID:        State(True,  True,    False,  _to(_S.CONFIRMED, _S.CANCELLING, _STALL)),
    # Settled but not terminal: its customer may still cancel it (before shipping).
    _S.CONFIRMED:   State(False, False,   False,  _to(_S.CANCELLING)),
    _S.CANCELLING:  State(True,  True,    False,  _to(_S.CANCELLED, _STALL)),
    # Waits for an operator, who resumes the saga where it stalled or cancels the order.
    _STALL:         State(False, False,   False,  _to(_S.PENDING, _S.RESERVING, _S.RESERVED,
                                                      _S.CHARGING, _S.PAID, _S.CANCELLING)),
    _S.PAYMENT_FAILED: State(False, False, True,  _to()),
    _S.OUT_OF_STOCK:   State(False, False, True,  _to()),
    _S.REJECTED:       State(False, False, True,  _to()),
    _S.CANCELLED:      State(False, False, False, _to()),
}
# fmt: on

TRANSITIONS: dict[Status, frozenset[Status]] = {s: row.moves for s, row in MACHINE.items()}
TERMINAL = frozenset(s for s, row in MACHINE.items() if row.terminal)
FAILED = frozenset(s for s, row in MACHINE.items() if row.failed)
ACTIVE = frozenset(s for s, row in MACHINE.items() if row.active)
# States a customer may cancel from (until a shipment leaves: `shipments.refuse_if_shipped`).
CANCELLABLE = frozenset(s for s, row in MACHINE.items() if Status.CANCELLING in row.moves)


class InvalidTransition(Exception):
    """The state machine does not allow moving an order from one state to another."""

    def __init__(self, current: Status, new: Status) -> None:
        super().__init__(f"an order cannot move from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: Status, new: Status) -> bool:
    """Whether an order may move from `current` to `new`."""
    return new in MACHINE[current].moves


def check_transition(current: Status, new: Status) -> None:
    """Raise InvalidTransition unless an order may move from `current` to `new`."""
    if not can_transition(current, new):
        raise InvalidTransition(current, new)


def deadline_for(status: Status, entered: datetime, seconds: float) -> datetime | None:
    """When an order that entered `status` at `entered` must have left it (None: never)."""
    return entered + timedelta(seconds=seconds) if MACHINE[status].deadline else None


def stalled_in(entered: Sequence[Status]) -> Status:
    """The state an order was in when it last went to `needs_attention` (its statuses in order)."""
    for index in range(len(entered) - 1, 0, -1):
        if entered[index] is Status.NEEDS_ATTENTION and entered[index - 1] in ACTIVE:
            return entered[index - 1]
    return Status.PENDING  # pragma: no cover - needs_attention is only entered from ACTIVE
