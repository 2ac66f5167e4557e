"""The building blocks of every event's data: the base class, money and a product line.

They live apart from the schemas so that every module of event schemas
(`events`, `shipping_events`) builds on the same three classes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EventData", "Line", "Money", "added"]


def _is_none(value: object) -> bool:
    return value is None


def added() -> Any:
    """The default of a field added to a schema within its version: None, and left out of
    the event when None, so an event that does not use it is the bytes it was before."""
    return Field(default=None, exclude_if=_is_none)


class EventData(BaseModel):
    """Base of event payloads: unknown fields are allowed (producers may add).

    A concrete schema sets `TYPE`; one without (`ProductChanged`) only shares fields.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


class Money(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str


class Line(BaseModel):
    """One product line of a reservation or an order."""

    model_config = ConfigDict(frozen=True, extra="allow")

    product_id: str
    quantity: int
    unit_price: Money | None = None
