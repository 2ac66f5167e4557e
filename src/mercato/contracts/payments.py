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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mercato.chassis.web.json_body import WholeNumber
from mercato.contracts.money import MAX_AMOUNT

__all__ = [
    "PAYMENT_EXAMPLE",
    "REFUND_EXAMPLE",
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


PAYMENT_ID = "c7a1e3b5-9d2f-4a6c-8e0b-1f3d5a7c9e2b"
ORDER_ID = "5f2d7a9c-3e1b-4d6f-a8c2-9b0e1f2a3c4d"
USER_ID = "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51"
METHOD_ID = "e4b2a1c9-7d3f-4e8a-b6c5-2a1f9e8d7c6b"
MINOR_UNITS = "Minor units, e.g. cents."
CURRENCY = "ISO 4217 code, e.g. USD."
PAYMENT_EXAMPLE: dict[str, Any] = {
    "id": PAYMENT_ID,
    "status": "succeeded",
    "reason": None,
    "order_id": ORDER_ID,
    "user_id": USER_ID,
    "payment_method_id": METHOD_ID,
    "amount": {"amount": 9000, "currency": "USD"},
    "refunded_amount": {"amount": 0, "currency": "USD"},
    "created_at": "2026-01-01T12:00:00Z",
    "updated_at": "2026-01-01T12:00:01Z",
}
REFUND_EXAMPLE: dict[str, Any] = {
    "id": "f1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b",
    "payment_id": PAYMENT_ID,
    "status": "succeeded",
    "amount": {"amount": 9000, "currency": "USD"},
    "reason": "cancelled",
    "failure_reason": None,
    "created_at": "2026-01-02T09:30:00Z",
}


class MoneyIn(BaseModel):
    """A positive amount in minor units (cents) of an ISO 4217 currency."""

    model_config = ConfigDict(extra="forbid")

    amount: WholeNumber = Field(ge=1, le=MAX_AMOUNT, description=MINOR_UNITS)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description=CURRENCY)


class MoneyOut(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    amount: int = Field(description=MINOR_UNITS)
    currency: str = Field(description=CURRENCY)


class ChargeIn(BaseModel):
    """A charge of a user's saved card for an order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "order_id": ORDER_ID,
                    "user_id": USER_ID,
                    "payment_method_id": METHOD_ID,
                    "amount": {"amount": 9000, "currency": "USD"},
                }
            ]
        },
    )

    order_id: Id = Field(description="The order it pays for.")
    user_id: Id = Field(description="The user whose card it is.")
    payment_method_id: MethodId = Field(description="One of that user's saved cards.")
    amount: MoneyIn = Field(description="How much to charge.")


class PaymentOut(BaseModel):
    """A payment; `pending` only while its provider call is in flight.

    `unknown` when the provider did not answer in time, so the money may have moved:
    it is reconciled with the provider's record (by the charge's key) to `succeeded`
    or `failed` once its attempt is older than the lease.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_EXAMPLE]})

    id: str = Field(description="The payment's id.")
    status: Literal["pending", "succeeded", "failed", "unknown"] = Field(
        description="Whether the provider took the money (see the schema's description)."
    )
    reason: str | None = Field(
        description="Why it failed (declined, insufficient_funds, provider_timeout, ...) or "
        "why its outcome is unknown (provider_timeout)."
    )
    order_id: str = Field(description="The order it pays for.")
    user_id: str = Field(description="The user who pays.")
    payment_method_id: str = Field(description="The saved card charged.")
    amount: MoneyOut = Field(description="What was charged.")
    refunded_amount: MoneyOut = Field(description="How much of it was refunded so far.")
    created_at: datetime = Field(description="When the charge was asked for.")
    updated_at: datetime = Field(description="When it last changed.")


class RefundIn(BaseModel):
    """A refund of a payment; without `amount`, all that is not refunded yet."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "cancelled"}]}
    )

    amount: MoneyIn | None = Field(
        default=None, description="How much to give back; all that is left when omitted."
    )
    reason: Reason = Field(description="Why, e.g. `cancelled`.")


class RefundOut(BaseModel):
    """A refund; in lists also `failed` ones (`failure_reason`), which moved no money."""

    model_config = ConfigDict(json_schema_extra={"examples": [REFUND_EXAMPLE]})

    id: str = Field(description="The refund's id.")
    payment_id: str = Field(description="The payment it gives back.")
    status: Literal["pending", "succeeded", "failed"] = Field(
        description="Whether the provider gave the money back."
    )
    amount: MoneyOut = Field(description="How much it gives back.")
    reason: str = Field(description="Why it was asked for.")
    failure_reason: str | None = Field(description="Why the provider did not make it, if so.")
    created_at: datetime = Field(description="When it was asked for.")


class RefundList(BaseModel):
    """The refunds of one payment, oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [REFUND_EXAMPLE]}]})

    items: list[RefundOut] = Field(description="Every refund of the payment, oldest first.")
