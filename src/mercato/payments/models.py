"""The payments service's tables: methods, payments, refunds, and the event tables.

A method row holds what a card may show and the provider's token, never the number
or CVC; `payment_method_counts` holds how many each user has, the row that
concurrent saves of one user take turns on (see `store.take_method_slot`). A
payment row is written `pending` (with its idempotency key, unique) before the
provider is called and finished `succeeded` or `failed` afterwards, together with
its event, or `unknown` when the provider did not answer in time (no event until it
is reconciled to one of the other two); `attempt_at` is when the current attempt
took it, so a retry can take over an attempt that died. `refunded_amount` counts
refunds in flight and done; a check constraint keeps it within the captured amount.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Base, UtcDateTime
from mercato.chassis.events import event_tables
from mercato.chassis.web.idempotency import MAX_KEY_LENGTH

__all__ = [
    "EVENTS",
    "FAILED",
    "PENDING",
    "SUCCEEDED",
    "UNKNOWN",
    "Method",
    "MethodCount",
    "Payment",
    "PaymentsBase",
    "Refund",
]

PENDING, SUCCEEDED, FAILED, UNKNOWN = "pending", "succeeded", "failed", "unknown"


class PaymentsBase(Base):
    """Declarative base of the payments service, with its own metadata."""

    __abstract__ = True
    metadata = MetaData()


class Method(PaymentsBase):
    """A saved card of one user: brand, last four digits, expiry, provider token."""

    __tablename__ = "payment_methods"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(100))
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    provider_token: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MethodCount(PaymentsBase):
    """How many methods one user has saved; a save takes a slot here first."""

    __tablename__ = "payment_method_counts"
    __table_args__ = (CheckConstraint("methods >= 0", name="ck_payment_method_counts_methods"),)

    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    methods: Mapped[int] = mapped_column(Integer)


class Payment(PaymentsBase):
    """One charge of a method for an order, under one idempotency key."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount", name="ck_payments_refunded"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(100))
    payment_method_id: Mapped[str] = mapped_column(String(64))
    provider_token: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(50), default=None)
    provider_charge_id: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Refund(PaymentsBase):
    """Part or all of a succeeded payment given back, under one idempotency key."""

    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_refunds_idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str] = mapped_column(String(36), ForeignKey("payments.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(50), default=None)
    provider_refund_id: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)


# A user's methods and payments newest first; a payment by order; a payment's refunds.
Index("ix_payment_methods_user_id", Method.user_id, Method.created_at)
Index("ix_payments_user_id_created_at", Payment.user_id, Payment.created_at, Payment.id)
Index("ix_payments_order_id", Payment.order_id)
Index("ix_payments_status_attempt_at", Payment.status, Payment.attempt_at)  # the reconciler
Index("ix_refunds_payment_id", Refund.payment_id, Refund.created_at)

EVENTS = event_tables(PaymentsBase.metadata)
