"""The state machines of a shipment and of a return, and their allowed moves.

    shipment:  pending ─▶ packed ─▶ shipped ─▶ delivered
                  │          │
                  └──────────┴─▶ cancelled          (the order was cancelled)

    return:    requested ─▶ accepted ─▶ received ─▶ refunded   (orders paid it back)
                   └─▶ rejected

`delivered`, `cancelled`, `rejected` and `refunded` are terminal. Lines may be split
off a shipment into a new one only before it ships (`SPLITTABLE`). A move the table
does not allow is an `InvalidTransition`, which the API answers 409.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "RETURN_MOVES",
    "SHIPMENT_MOVES",
    "SPLITTABLE",
    "UNSHIPPED",
    "InvalidTransition",
    "ReturnStatus",
    "ShipmentStatus",
    "check_return_move",
    "check_shipment_move",
]


class ShipmentStatus(StrEnum):
    """Where a shipment stands."""

    PENDING = "pending"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class ReturnStatus(StrEnum):
    """Where a return stands."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RECEIVED = "received"
    REFUNDED = "refunded"


_S = ShipmentStatus
_R = ReturnStatus
SHIPMENT_MOVES: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    _S.PENDING: frozenset({_S.PACKED, _S.CANCELLED}),
    _S.PACKED: frozenset({_S.SHIPPED, _S.CANCELLED}),
    _S.SHIPPED: frozenset({_S.DELIVERED}),
    _S.DELIVERED: frozenset(),
    _S.CANCELLED: frozenset(),
}
RETURN_MOVES: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    _R.REQUESTED: frozenset({_R.ACCEPTED, _R.REJECTED}),
    _R.ACCEPTED: frozenset({_R.RECEIVED}),
    _R.RECEIVED: frozenset({_R.REFUNDED}),
    _R.REJECTED: frozenset(),
    _R.REFUNDED: frozenset(),
}
# Not yet handed to the carrier: what a cancelled order cancels, what may be split.
UNSHIPPED = frozenset(s for s, moves in SHIPMENT_MOVES.items() if _S.CANCELLED in moves)
SPLITTABLE = UNSHIPPED


class InvalidTransition(Exception):
    """The state machine does not allow the move."""

    def __init__(self, kind: str, current: str, new: str) -> None:
        super().__init__(f"a {kind} cannot move from {current} to {new}")
        self.current = current
        self.new = new


def check_shipment_move(current: ShipmentStatus, new: ShipmentStatus) -> None:
    """Raise InvalidTransition unless a shipment may move from `current` to `new`."""
    if new not in SHIPMENT_MOVES[current]:
        raise InvalidTransition("shipment", current, new)


def check_return_move(current: ReturnStatus, new: ReturnStatus) -> None:
    """Raise InvalidTransition unless a return may move from `current` to `new`."""
    if new not in RETURN_MOVES[current]:
        raise InvalidTransition("return", current, new)
