"""Refunds: part or all of a succeeded payment given back, once per Idempotency-Key.

A refund first reserves its amount on the payment with one conditional update (the
payment must have succeeded and still have that much left, so concurrent refunds can
never exceed the captured amount) and commits a `pending` refund under its key in
the same transaction. Then the provider is asked; success records the refund and
`payment.refunded` together, failure records the refund `failed`, releases the
reservation and answers 502. A provider that did not answer in time may have made
the refund all the same, so the refund stays `pending` with its amount reserved and
the answer is 504: a retry with the same key, once the lease has run out, asks the
provider again under the same provider key, which cannot refund twice. Retries follow the
rules of charges (a different body 422, a succeeded refund answered again, a pending
one 409 until its lease runs out), except that a failed refund, which moved no
money, is attempted again under the same key (so a saga's fixed key can retry).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import (
    BadGateway,
    Conflict,
    GatewayTimeout,
    NotFound,
    ProblemError,
    Unprocessable,
    field_error,
)
from mercato.chassis.web.idempotency import check_replay, fingerprint, in_progress
from mercato.contracts.events import Money, PaymentRefunded
from mercato.payments import store
from mercato.payments.models import FAILED, PENDING, SUCCEEDED, Payment, Refund
from mercato.payments.provider import Amount, ProviderClient, ProviderError, ProviderTimeout
from mercato.payments.schemas import RefundIn
from mercato.payments.service import new_id, now

__all__ = ["refund", "refund_amount"]


def _too_much(field: str, message: str) -> Unprocessable:
    """The 422 of a refund that does not fit its payment, naming `field`."""
    return Unprocessable(
        f"The refund does not fit the payment: {message}.",
        errors=[field_error(field, message, type="refund_limit")],
    )


def refund_amount(payment: Payment, refund_in: RefundIn) -> int:
    """How much to refund: the asked amount, or all that is left; 422 when it cannot be."""
    left = payment.amount - payment.refunded_amount
    if refund_in.amount is None:
        if left <= 0:
            raise _too_much("amount", "the payment is refunded in full already")
        return left
    if refund_in.amount.currency != payment.currency:
        raise _too_much("amount.currency", f"the payment was made in {payment.currency}")
    if refund_in.amount.amount > left:
        raise _too_much("amount.amount", f"at most {left} is left to refund")
    return refund_in.amount.amount


async def refund(
    session: AsyncSession,
    *,
    provider: ProviderClient,
    outbox: Outbox,
    key: str,
    payment_id: str,
    refund_in: RefundIn,
    lease_seconds: float,
) -> tuple[Refund, bool]:
    """Refund a payment once per key; the refund and whether it is a replay."""
    digest = fingerprint(refund_in.model_dump(mode="json"), payment_id=payment_id)
    existing = await store.refund_by_key(session, key)
    if existing is None:
        existing, opened = await _open(
            session, key=key, digest=digest, payment_id=payment_id, refund_in=refund_in
        )
        if opened:
            return await _attempt(session, provider=provider, outbox=outbox, refund=existing), False
    check_replay(stored=existing.request_hash, digest=digest)
    if existing.status == SUCCEEDED:
        return existing, True
    if existing.status == FAILED:
        await _reopen(session, refund=existing)
    else:
        moment = now()
        stale_before = moment - timedelta(seconds=lease_seconds)
        if not await store.claim_refund(
            session, refund_id=existing.id, now=moment, stale_before=stale_before
        ):
            await session.rollback()
            raise in_progress()
        await session.commit()
    return await _attempt(session, provider=provider, outbox=outbox, refund=existing), False


def _failed(refund: Refund) -> ProblemError:
    """The problem a refund the provider did not make answers with."""
    reason = refund.failure_reason or "provider_error"
    detail = f"The payment provider did not make the refund ({reason}); retry with the same key."
    if reason == "provider_timeout":
        return GatewayTimeout(detail, refund_id=refund.id)
    return BadGateway(detail, refund_id=refund.id)


async def _reopen(session: AsyncSession, *, refund: Refund) -> None:
    """Reserve a failed refund's amount again and make it pending for a new attempt."""
    moment = now()
    if not await store.reserve_refund(
        session, payment_id=refund.payment_id, amount=refund.amount, now=moment
    ):
        await session.rollback()
        raise _too_much("amount.amount", "the refund no longer fits what is left to refund")
    if not await store.reopen_refund(session, refund_id=refund.id, now=moment):
        await session.rollback()
        raise in_progress()
    await session.commit()


async def _payment(session: AsyncSession, payment_id: str) -> Payment:
    """The payment `payment_id`; 404 when there is none."""
    payment = await store.get_payment(session, payment_id)
    if payment is None:
        raise NotFound(f"No payment {payment_id}.")
    return payment


async def _open(
    session: AsyncSession, *, key: str, digest: str, payment_id: str, refund_in: RefundIn
) -> tuple[Refund, bool]:
    """Reserve the amount and commit a pending refund, or find a concurrent one."""
    payment = await _payment(session, payment_id)
    if payment.status != SUCCEEDED:
        raise Conflict(f"Only a succeeded payment can be refunded; this one is {payment.status}.")
    amount = refund_amount(payment, refund_in)
    moment = now()
    if not await store.reserve_refund(session, payment_id=payment.id, amount=amount, now=moment):
        await session.rollback()  # another refund took it meanwhile: say what is left now
        refund_amount(await _payment(session, payment_id), refund_in)  # 422 if it no longer fits
        raise Conflict("The payment changed concurrently; retry the refund.")
    refund = Refund(
        id=new_id(),
        idempotency_key=key,
        request_hash=digest,
        payment_id=payment.id,
        amount=amount,
        currency=payment.currency,
        reason=refund_in.reason,
        status=PENDING,
        created_at=moment,
        updated_at=moment,
        attempt_at=moment,
    )
    return await store.claim_key(
        session, refund, lambda: store.refund_by_key(session, key), in_progress
    )


async def _attempt(
    session: AsyncSession, *, provider: ProviderClient, outbox: Outbox, refund: Refund
) -> Refund:
    """Ask the provider, then record the outcome (and `payment.refunded`) at once."""
    payment = await _payment(session, refund.payment_id)
    amount = Amount(amount=refund.amount, currency=refund.currency)
    status, failure, refund_id = SUCCEEDED, None, None
    try:
        result = await provider.refund(
            payment.provider_charge_id or "", amount, f"refund:{refund.id}"
        )
        refund_id = result.refund_id
    except ProviderTimeout:
        refund_id = refund.id  # a rollback expires `refund`
        await session.rollback()  # nothing to record: the outcome is not known
        raise GatewayTimeout(
            "The payment provider did not answer in time, so whether it made the refund is "
            "not known yet; retry with the same key.",
            refund_id=refund_id,
        ) from None
    except ProviderError as exc:
        status, failure = FAILED, exc.reason
    moment = now()
    if not await store.finish_refund(
        session,
        refund_id=refund.id,
        status=status,
        failure_reason=failure,
        provider_refund_id=refund_id,
        now=moment,
    ):
        await session.rollback()  # a takeover finished it first; its answer stands
    else:
        if status == FAILED:
            await store.release_refund(
                session, payment_id=payment.id, amount=refund.amount, now=moment
            )
        else:
            data = PaymentRefunded(
                payment_id=payment.id,
                refund_id=refund.id,
                order_id=payment.order_id,
                user_id=payment.user_id,
                amount=Money(amount=refund.amount, currency=refund.currency),
                reason=refund.reason,
            )
            await outbox.add(session, data, subject=payment.id)
        await session.commit()
    stored = await store.refund_by_key(session, refund.idempotency_key)
    if stored is None:  # pragma: no cover - refunds are never deleted
        raise NotFound(f"No refund {refund.id}.")
    if stored.status == FAILED:
        raise _failed(stored)
    return stored
