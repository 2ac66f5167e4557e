"""Domain logic of payment methods and of reading payments.

Plain functions with keyword-only arguments. A customer sees only their own methods
and payments (someone else's id answers 404); admins and other services may read
any payment. Charges live in `charges`, refunds in `refunds`; the helpers they share
(the clock, new ids) are here, and idempotency keys are the chassis' (`idempotency`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import begin_write
from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import (
    BadGateway,
    Conflict,
    Forbidden,
    GatewayTimeout,
    NotFound,
)
from mercato.chassis.web.paging import Page, decode_time_cursor
from mercato.payments import store
from mercato.payments.models import Method, Payment, Refund
from mercato.payments.provider import Card, ProviderClient, ProviderError, ProviderTimeout
from mercato.payments.schemas import MethodIn

__all__ = [
    "MAX_METHODS",
    "add_method",
    "delete_method",
    "get_method",
    "get_payment",
    "list_methods",
    "list_payments",
    "list_refunds",
    "new_id",
    "now",
    "sees_everything",
]

MAX_METHODS = 20


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new random id."""
    return str(uuid.uuid4())


def sees_everything(principal: Principal) -> bool:
    """Whether the caller may read anyone's payments (admins and services)."""
    return principal.is_admin or principal.is_service


async def add_method(
    session: AsyncSession, *, provider: ProviderClient, user_id: str, method_in: MethodIn
) -> Method:
    """Tokenize a card at the provider and keep only brand, last4, expiry and token."""
    if await store.count_methods(session, user_id) >= MAX_METHODS:  # spare the provider
        raise _too_many_methods()
    await session.rollback()  # no transaction stays open across the provider call
    card = Card(
        number=method_in.card_number,
        exp_month=method_in.exp_month,
        exp_year=method_in.exp_year,
        cvc=method_in.cvc,
        brand=method_in.brand,
    )
    try:
        token = await provider.tokenize(card)
    except ProviderTimeout:
        raise GatewayTimeout("The payment provider did not answer in time.") from None
    except ProviderError as exc:
        raise BadGateway(f"The payment provider refused the card ({exc.reason}).") from None
    method = Method(
        id=new_id(),
        user_id=user_id,
        brand=card.brand,
        last4=card.number[-4:],
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        provider_token=token,
        created_at=now(),
    )
    await begin_write(session)
    if not await store.take_method_slot(session, user_id=user_id, limit=MAX_METHODS):
        await session.rollback()  # a concurrent save took the last slot
        raise _too_many_methods()
    session.add(method)
    await session.commit()
    return method


def _too_many_methods() -> Conflict:
    """The 409 of a save beyond MAX_METHODS."""
    return Conflict(f"At most {MAX_METHODS} payment methods can be saved; delete one first.")


async def list_methods(session: AsyncSession, *, user_id: str) -> Sequence[Method]:
    """The methods of `user_id`, newest first."""
    return await store.methods_of(session, user_id)


async def get_method(session: AsyncSession, *, principal: Principal, method_id: str) -> Method:
    """A method of the caller (admins and services: anyone's); 404 otherwise."""
    method = await store.get_method(session, method_id)
    if method is None or (method.user_id != principal.subject and not sees_everything(principal)):
        raise NotFound(f"No payment method {method_id}.")
    return method


async def delete_method(session: AsyncSession, *, user_id: str, method_id: str) -> None:
    """Delete a method of `user_id`; 404 when it is not theirs."""
    await begin_write(session)
    if not await store.delete_method(session, method_id=method_id, user_id=user_id):
        raise NotFound(f"No payment method {method_id}.")
    await session.commit()


async def get_payment(session: AsyncSession, *, principal: Principal, payment_id: str) -> Payment:
    """A payment of the caller (admins and services: anyone's); 404 otherwise."""
    payment = await store.get_payment(session, payment_id)
    if payment is None or (payment.user_id != principal.subject and not sees_everything(principal)):
        raise NotFound(f"No payment {payment_id}.")
    return payment


async def list_payments(
    session: AsyncSession,
    *,
    principal: Principal,
    user_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Payment]:
    """Payments of the caller (or, for admins and services, of `user_id`), newest first."""
    owner = principal.subject if user_id is None else user_id
    if owner != principal.subject and not sees_everything(principal):
        raise Forbidden("Only admins may list another user's payments.")
    after = decode_time_cursor(cursor)
    return await store.page_payments(session, user_id=owner, limit=limit, after=after)


async def list_refunds(
    session: AsyncSession, *, principal: Principal, payment_id: str
) -> Sequence[Refund]:
    """The refunds of a payment the caller may see, oldest first."""
    await get_payment(session, principal=principal, payment_id=payment_id)
    return await store.refunds_of(session, payment_id)
