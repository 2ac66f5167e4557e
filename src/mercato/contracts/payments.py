"""The payments service's charges and refunds, as the orders service calls them.

The checkout charges an order's total (`POST /api/payments/charges` with a
`ChargeIn`, answered with the `PaymentOut`) and, when it compensates, refunds it
(`POST /api/payments/{payment_id}/refunds` with a `RefundIn`, answered with the
`RefundOut`); to tell a payment refunded in full already it reads the payment
(`GET /api/payments/{payment_id}`) and its refunds (`.../refunds`, a `RefundList`).
Both writes take an `Idempotency-Key`. Payments parses the requests and documents
its answers with these models, and orders builds its requests and parses the
answers with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.chassis.web.json_body import WholeNumber
from mercato.contracts.money import MAX_AMOUNT

__all__ = [
    "ChargeIn",
    "MoneyIn",
    "MoneyOut",
    "PaymentOut",
    "RefundIn",
    "RefundList",
    "RefundOut",
]

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MethodId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class MoneyIn(BaseModel):
    """A positive amount in minor units (cents) of an ISO 4217 currency."""

    model_config = ConfigDict(extra="forbid")

    amount: WholeNumber = Field(ge=1, le=MAX_AMOUNT, description="Minor units, e.g. cents.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD.")


class MoneyOut(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    amount: int
    currency: str


class ChargeIn(BaseModel):
    """A charge of a user's saved card for an order."""

    model_config = ConfigDict(extra="forbid")

    order_id: Id
    user_id: Id
    payment_method_id: MethodId
    amount: MoneyIn


class PaymentOut(BaseModel):
    """A payment; `pending` only while its provider call is in flight.

    `unknown` when the provider did not answer in time, so the money may have moved:
    it is reconciled with the provider's record (by the charge's key) to `succeeded`
    or `failed` once its attempt is older than the lease.
    """

    id: str
    status: Literal["pending", "succeeded", "failed", "unknown"]
    reason: str | None = Field(
        description="Why it failed (declined, insufficient_funds, provider_timeout, ...) or "
        "why its outcome is unknown (provider_timeout)."
    )
    order_id: str
    user_id: str
    payment_method_id: str
    amount: MoneyOut
    refunded_amount: MoneyOut
    created_at: datetime
    updated_at: datetime


class RefundIn(BaseModel):
    """A refund of a payment; without `amount`, all that is not refunded yet."""

    model_config = ConfigDict(extra="forbid")

    amount: MoneyIn | None = None
    reason: Reason


class RefundOut(BaseModel):
    """A refund; in lists also `failed` ones (`failure_reason`), which moved no money."""

    id: str
    payment_id: str
    status: Literal["pending", "succeeded", "failed"]
    amount: MoneyOut
    reason: str
    failure_reason: str | None
    created_at: datetime


class RefundList(BaseModel):
    """The refunds of one payment, oldest first."""

    items: list[RefundOut]
