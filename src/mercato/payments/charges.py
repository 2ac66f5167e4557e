"""Charges: one payment per Idempotency-Key, however often and however concurrently asked.

A charge first commits a `pending` payment under its key (a unique constraint), then
calls the provider with a key derived from the payment id, then records the outcome
and its event (`payment.succeeded` or `payment.failed`) in one transaction. A second
request with the key finds the row: a different body is refused (422), a finished
payment is answered again, a pending one is in flight (409) unless its attempt is
older than the lease, in which case the retry takes it over and asks the provider
again under the same provider key, which cannot charge twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.errors import Conflict, NotFound
from mercato.chassis.events import Outbox
from mercato.contracts.events import Money, PaymentFailed, PaymentSucceeded
from mercato.payments import store
from mercato.payments.models import FAILED, PENDING, SUCCEEDED, Payment
from mercato.payments.provider import Amount, ProviderClient, ProviderError
from mercato.payments.schemas import ChargeIn
from mercato.payments.service import check_same_request, fingerprint, new_id, now

__all__ = ["PAYMENT_FAILED", "PAYMENT_SUCCEEDED", "charge", "in_progress", "provider_key"]

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"


def in_progress() -> Conflict:
    """The 409 for a request whose first attempt is still running."""
    return Conflict(
        "A request with this Idempotency-Key is still in progress; retry shortly.",
        headers={"Retry-After": "1"},
    )


def provider_key(payment: Payment) -> str:
    """The idempotency key the provider sees for a payment (the same on every attempt)."""
    return f"payment:{payment.id}"


async def charge(
    session: AsyncSession,
    *,
    provider: ProviderClient,
    outbox: Outbox,
    key: str,
    charge_in: ChargeIn,
    lease_seconds: float,
) -> tuple[Payment, bool]:
    """Charge a user's method once per key; the payment and whether it is a replay."""
    digest = fingerprint(charge_in.model_dump(mode="json"))
    payment = await store.payment_by_key(session, key)
    if payment is None:
        payment, opened = await _open(session, key=key, digest=digest, charge_in=charge_in)
        if opened:
            return await _attempt(session, provider=provider, outbox=outbox, payment=payment), False
    check_same_request(payment.request_hash, digest)
    if payment.status != PENDING:
        return payment, True
    moment = now()
    stale_before = moment - timedelta(seconds=lease_seconds)
    if not await store.claim_payment(
        session, payment_id=payment.id, now=moment, stale_before=stale_before
    ):
        await session.rollback()
        raise in_progress()
    await session.commit()
    return await _attempt(session, provider=provider, outbox=outbox, payment=payment), False


async def _open(
    session: AsyncSession, *, key: str, digest: str, charge_in: ChargeIn
) -> tuple[Payment, bool]:
    """Commit a pending payment under `key`, or find the one a concurrent request made."""
    method = await store.get_method(session, charge_in.payment_method_id)
    if method is None or method.user_id != charge_in.user_id:
        raise NotFound(
            f"No payment method {charge_in.payment_method_id} of user {charge_in.user_id}."
        )
    moment = now()
    payment = Payment(
        id=new_id(),
        idempotency_key=key,
        request_hash=digest,
        order_id=charge_in.order_id,
        user_id=charge_in.user_id,
        payment_method_id=method.id,
        provider_token=method.provider_token,
        amount=charge_in.amount.amount,
        currency=charge_in.amount.currency,
        refunded_amount=0,
        status=PENDING,
        created_at=moment,
        updated_at=moment,
        attempt_at=moment,
    )
    return await store.claim_key(
        session, payment, lambda: store.payment_by_key(session, key), in_progress
    )


async def _attempt(
    session: AsyncSession, *, provider: ProviderClient, outbox: Outbox, payment: Payment
) -> Payment:
    """Ask the provider, then record the outcome and its event in one transaction."""
    amount = Amount(amount=payment.amount, currency=payment.currency)
    try:
        result = await provider.charge(payment.provider_token, amount, provider_key(payment))
    except ProviderError as exc:
        status, charge_id = FAILED, None
        reason: str | None = exc.reason
    else:
        status = SUCCEEDED if result.approved else FAILED
        reason = None if result.approved else (result.decline_reason or "declined")
        charge_id = result.charge_id
    finished = await store.finish_payment(
        session, payment_id=payment.id, status=status, reason=reason, charge_id=charge_id, now=now()
    )
    if finished:
        await _record_event(session, outbox=outbox, payment=payment, status=status, reason=reason)
        await session.commit()
    else:  # a takeover finished it first; its answer stands
        await session.rollback()
    stored = await store.get_payment(session, payment.id)
    if stored is None:  # pragma: no cover - payments are never deleted
        raise NotFound(f"No payment {payment.id}.")
    return stored


async def _record_event(
    session: AsyncSession, *, outbox: Outbox, payment: Payment, status: str, reason: str | None
) -> None:
    """Write `payment.succeeded` or `payment.failed` to the outbox."""
    money = Money(amount=payment.amount, currency=payment.currency)
    if status == SUCCEEDED:
        data = PaymentSucceeded(
            payment_id=payment.id,
            order_id=payment.order_id,
            user_id=payment.user_id,
            amount=money,
            method_id=payment.payment_method_id,
        ).model_dump(mode="json")
        await outbox.add(session, PAYMENT_SUCCEEDED, subject=payment.id, data=data)
        return
    failed = PaymentFailed(
        payment_id=payment.id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        amount=money,
        reason=reason or "declined",
    )
    await outbox.add(
        session, PAYMENT_FAILED, subject=payment.id, data=failed.model_dump(mode="json")
    )
