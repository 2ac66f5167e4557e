"""API shapes of the payments service (never ORM classes), and the bodies of stored things.

The charge and refund shapes the orders service relies on are its contracts with
payments, defined in `mercato.contracts.payments` and re-exported here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mercato.chassis.web.json_body import WholeNumber
from mercato.chassis.web.paging import Page
from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.payments import (
    PAYMENT_EXAMPLE,
    ChargeIn,
    MoneyIn,
    MoneyOut,
    PaymentOut,
    RefundIn,
    RefundList,
    RefundOut,
)
from mercato.payments.cards import NUMBER_PATTERN, brand_of, check_number, is_expired
from mercato.payments.models import Method, Payment, Refund

__all__ = [
    "MAX_AMOUNT",
    "ChargeIn",
    "MethodIn",
    "MethodList",
    "MethodOut",
    "MoneyIn",
    "MoneyOut",
    "PaymentOut",
    "PaymentPage",
    "RefundIn",
    "RefundList",
    "RefundOut",
    "method_body",
    "payment_body",
    "refund_body",
]

MAX_YEARS_AHEAD = 20
METHOD_EXAMPLE: dict[str, Any] = {
    "id": "e4b2a1c9-7d3f-4e8a-b6c5-2a1f9e8d7c6b",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2034,
    "created_at": "2026-01-01T12:00:00Z",
}


class MethodIn(BaseModel):
    """A card as the customer types it; only brand, last4 and expiry are kept."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "card_number": "4242 4242 4242 4242",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                }
            ]
        },
    )

    # The pattern is documentation: `check_number` decides, with messages that say
    # what is wrong (a pattern mismatch would not), and checks the Luhn checksum too.
    card_number: str = Field(
        max_length=40,
        description="12 to 19 digits, spaces and dashes allowed, with a valid Luhn checksum.",
        json_schema_extra={"pattern": NUMBER_PATTERN},
    )
    exp_month: WholeNumber = Field(ge=1, le=12, description="1 to 12.")
    exp_year: WholeNumber = Field(ge=2000, le=2100, description="Four digits.")
    cvc: str = Field(pattern=r"^[0-9]{3,4}$", description="Three or four digits.")

    @field_validator("card_number")
    @classmethod
    def _card_number(cls, value: str) -> str:
        """The digits of a valid card number."""
        return check_number(value)[0]

    @field_validator("exp_year")
    @classmethod
    def _not_expired(cls, value: int, info: ValidationInfo) -> int:
        """A year that, with exp_month, is neither past nor too far ahead."""
        today = datetime.now(UTC).date()
        month = info.data.get("exp_month")
        if isinstance(month, int) and is_expired(month, value, today):
            raise ValueError("the card has expired (exp_month/exp_year is in the past)")
        if value > today.year + MAX_YEARS_AHEAD:
            raise ValueError(f"must be within {MAX_YEARS_AHEAD} years from now")
        return value

    @property
    def brand(self) -> str:
        """The card's brand, from its number."""
        return brand_of(self.card_number)


class MethodOut(BaseModel):
    """A saved card as the API shows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [METHOD_EXAMPLE]})

    id: str = Field(description="The saved card's id, to pay with.")
    brand: str = Field(description="`visa`, `mastercard`, `amex`... from the number.")
    last4: str = Field(description="The number's last four digits.")
    exp_month: int = Field(description="Expiry month, 1 to 12.")
    exp_year: int = Field(description="Expiry year, four digits.")
    created_at: datetime = Field(description="When it was saved.")


class MethodList(BaseModel):
    """The caller's saved cards, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [METHOD_EXAMPLE]}]})

    items: list[MethodOut] = Field(description="Every saved card, newest first.")


class PaymentPage(Page[PaymentOut]):
    """One page of payments, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [PAYMENT_EXAMPLE], "next_cursor": None}]}
    )


def method_body(method: Method) -> MethodOut:
    """The API shape of a stored method."""
    return MethodOut(
        id=method.id,
        brand=method.brand,
        last4=method.last4,
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        created_at=method.created_at,
    )


def payment_body(payment: Payment) -> PaymentOut:
    """The API shape of a stored payment."""
    return PaymentOut.model_validate(
        {
            "id": payment.id,
            "status": payment.status,
            "reason": payment.reason,
            "order_id": payment.order_id,
            "user_id": payment.user_id,
            "payment_method_id": payment.payment_method_id,
            "amount": MoneyOut(amount=payment.amount, currency=payment.currency),
            "refunded_amount": MoneyOut(amount=payment.refunded_amount, currency=payment.currency),
            "created_at": payment.created_at,
            "updated_at": payment.updated_at,
        }
    )


def refund_body(refund: Refund) -> RefundOut:
    """The API shape of a stored refund."""
    return RefundOut.model_validate(
        {
            "id": refund.id,
            "payment_id": refund.payment_id,
            "status": refund.status,
            "amount": MoneyOut(amount=refund.amount, currency=refund.currency),
            "reason": refund.reason,
            "failure_reason": refund.failure_reason,
            "created_at": refund.created_at,
        }
    )
