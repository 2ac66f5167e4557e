"""Charges: one payment per Idempotency-Key, however often and however concurrently asked.

A charge first commits a `pending` payment under its key (a unique constraint), then
calls the provider with a key derived from the payment id, then records the outcome
and its event (`payment.succeeded` or `payment.failed`) in one transaction. A second
request with the key finds the row: a different body is refused (422), a finished
payment is answered again, a pending one is in flight (409) unless its attempt is
older than the lease, in which case the retry takes it over and asks the provider
again under the same provider key, which cannot charge twice.

A provider that does not answer within its deadline leaves the charge's outcome
unknown: the money may have moved. Such a payment is recorded `unknown` (reason
`provider_timeout`), with no event, and stays so until `reconcile` looks the charge
up at the provider by its key, once the attempt is older than the lease (so that a
call still under way at the provider has ended): the charge found decides
`succeeded` or `failed`; no charge under the key means nothing was captured
(`failed`, `provider_timeout`); a lookup that fails leaves it `unknown` for the
next try. A repeated request with the key reconciles it, and so does payments'
own reconciler in the background (`reconciler`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import NotFound
from mercato.chassis.web.idempotency import check_replay, fingerprint, in_progress
from mercato.contracts.events import Money, PaymentFailed, PaymentSucceeded
from mercato.payments import store
from mercato.payments.models import FAILED, PENDING, SUCCEEDED, UNKNOWN, Payment
from mercato.payments.provider import (
    Amount,
    ChargeResult,
    ProviderClient,
    ProviderError,
    ProviderTimeout,
)
from mercato.payments.schemas import ChargeIn
from mercato.payments.service import new_id, now

__all__ = [
    "charge",
    "provider_key",
    "reconcile",
]

log = logging.getLogger("mercato.payments.charges")

TIMED_OUT = "provider_timeout"


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
    check_replay(stored=payment.request_hash, digest=digest)
    if payment.status == UNKNOWN:
        settled = await reconcile(
            session, provider=provider, outbox=outbox, payment=payment, lease_seconds=lease_seconds
        )
        return settled, settled.status == UNKNOWN
    if payment.status != PENDING:
        return payment, True
    moment = now()
    stale_before = moment - timedelta(seconds=lease_seconds)
    if not await store.claim_payment(
        session, payment_id=payment.id, status=PENDING, now=moment, stale_before=stale_before
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
    outcome: tuple[str, str | None, str | None]
    try:
        result = await provider.charge(payment.provider_token, amount, provider_key(payment))
    except ProviderTimeout:
        outcome = (UNKNOWN, None, TIMED_OUT)  # it may have gone through all the same
    except ProviderError as exc:
        outcome = (FAILED, None, exc.reason)
    else:
        outcome = _outcome(result)
    return await _finish(session, outbox=outbox, payment=payment, was=PENDING, outcome=outcome)


def _outcome(result: ChargeResult | None) -> tuple[str, str | None, str | None]:
    """Status, charge id and reason of a provider's answer (None: no charge was made)."""
    if result is None:
        return FAILED, None, TIMED_OUT
    if result.approved:
        return SUCCEEDED, result.charge_id, None
    return FAILED, None, result.decline_reason or "declined"


async def _finish(
    session: AsyncSession,
    *,
    outbox: Outbox,
    payment: Payment,
    was: str,
    outcome: tuple[str, str | None, str | None],
) -> Payment:
    """Record `outcome` on a payment that is still `was` (with its event); the stored row."""
    status, charge_id, reason = outcome
    payment_id = payment.id
    finished = await store.finish_payment(
        session,
        payment_id=payment_id,
        status=status,
        reason=reason,
        charge_id=charge_id,
        now=now(),
        was=was,
    )
    if finished:
        if status != UNKNOWN:
            await _record_event(
                session, outbox=outbox, payment=payment, status=status, reason=reason
            )
        await session.commit()
    else:  # a takeover finished it first; its answer stands
        await session.rollback()
    return await _stored(session, payment_id)


async def reconcile(
    session: AsyncSession,
    *,
    provider: ProviderClient,
    outbox: Outbox,
    payment: Payment,
    lease_seconds: float,
) -> Payment:
    """Settle an `unknown` payment from the provider's record of its charge, when it is due.

    Due once its last attempt began more than `lease_seconds` ago; until then, or
    while the provider cannot say, the payment is answered `unknown` as it is.
    """
    payment_id, key = payment.id, provider_key(payment)  # a rollback expires `payment`
    moment = now()
    stale_before = moment - timedelta(seconds=lease_seconds)
    if not await store.claim_payment(
        session, payment_id=payment_id, status=UNKNOWN, now=moment, stale_before=stale_before
    ):
        await session.rollback()  # too soon, settled meanwhile, or another request has it
        return await _stored(session, payment_id)
    await session.commit()
    try:
        found = await provider.lookup(key)
    except ProviderError as exc:
        log.warning("payment %s: the provider could not look its charge up (%s)", payment_id, exc)
        return await _stored(session, payment_id)
    settled = await _finish(
        session, outbox=outbox, payment=payment, was=UNKNOWN, outcome=_outcome(found)
    )
    log.info("payment %s: reconciled with the provider: %s", payment_id, settled.status)
    return settled


async def _stored(session: AsyncSession, payment_id: str) -> Payment:
    """The payment as stored now."""
    stored = await store.get_payment(session, payment_id)
    if stored is None:  # pragma: no cover - payments are never deleted
        raise NotFound(f"No payment {payment_id}.")
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
        )
        await outbox.add(session, data, subject=payment.id)
        return
    failed = PaymentFailed(
        payment_id=payment.id,
        order_id=payment.order_id,
        user_id=payment.user_id,
        amount=money,
        reason=reason or "declined",
    )
    await outbox.add(session, failed, subject=payment.id)
