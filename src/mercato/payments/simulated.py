"""The simulated payment provider, with the industry's usual test cards.

4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, 4000 0000 0000 9995
has insufficient funds and 4000 0000 0000 0119 makes the provider hang (past any
deadline, so the caller times out and nothing is captured); any other valid card
succeeds. Like a real provider it keeps its own records, in its own tables: which
behaviour a token stands for (never the card number), and each charge and refund
by idempotency key, so that a repeated key answers the first result again.

`lookup` answers from those records: the charge made under a key, or None. A charge
of the timeout card records nothing (it never gets past hanging), so reconciling it
finds no charge under its key: nothing was captured, and payments records the
payment `failed` (`provider_timeout`).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from mercato.chassis.data.database import Database, UtcDateTime
from mercato.payments.models import PaymentsBase
from mercato.payments.provider import Amount, Card, ChargeResult, ProviderError, RefundResult

__all__ = [
    "TEST_CARDS",
    "SimulatedCharge",
    "SimulatedProvider",
    "SimulatedRefund",
    "SimulatedToken",
]

SUCCEED, DECLINE, INSUFFICIENT, HANG = "succeed", "declined", "insufficient_funds", "hang"
TEST_CARDS: dict[str, str] = {
    "4242424242424242": SUCCEED,
    "4000000000000002": DECLINE,
    "4000000000009995": INSUFFICIENT,
    "4000000000000119": HANG,
}


class SimulatedToken(PaymentsBase):
    """What a simulated token stands for: a behaviour, not a card."""

    __tablename__ = "simulated_provider_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    behaviour: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SimulatedCharge(PaymentsBase):
    """A charge the simulated provider answered, by the caller's idempotency key."""

    __tablename__ = "simulated_provider_charges"

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    charge_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    token: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    outcome: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SimulatedRefund(PaymentsBase):
    """A refund the simulated provider made, by the caller's idempotency key."""

    __tablename__ = "simulated_provider_refunds"

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    refund_id: Mapped[str] = mapped_column(String(64), unique=True)
    charge_id: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SimulatedProvider:
    """A PaymentProvider that decides outcomes from test card numbers."""

    def __init__(self, database: Database, *, hang_seconds: float = 3600.0) -> None:
        self.database = database
        self.hang_seconds = hang_seconds
        self._behaviours: dict[str, str] = {}  # a cache of the tokens table

    async def tokenize(self, card: Card) -> str:
        """A new token that remembers only how charges of `card` behave."""
        token = f"tok_sim_{uuid.uuid4().hex}"
        behaviour = TEST_CARDS.get(card.number, SUCCEED)
        async with self.database.transaction() as session:
            session.add(
                SimulatedToken(token=token, behaviour=behaviour, created_at=datetime.now(UTC))
            )
        self._behaviours[token] = behaviour
        return token

    async def _behaviour(self, token: str) -> str | None:
        """What a token stands for (cached), or None for an unknown token."""
        behaviour = self._behaviours.get(token)
        if behaviour is None:
            async with self.database.session() as session:
                behaviour = await session.scalar(
                    select(SimulatedToken.behaviour).where(SimulatedToken.token == token)
                )
            if behaviour is not None:
                self._behaviours[token] = behaviour
        return behaviour

    async def charge(self, token: str, amount: Amount, idempotency_key: str) -> ChargeResult:
        """Charge by the token's behaviour; a repeated key answers the first result."""
        behaviour = await self._behaviour(token)
        if behaviour is None:
            raise ProviderError("unknown_token")
        if behaviour == HANG:
            await asyncio.sleep(self.hang_seconds)
            raise ProviderError("provider_timeout")
        charge = SimulatedCharge(
            idempotency_key=idempotency_key,
            charge_id=f"ch_sim_{uuid.uuid4().hex}" if behaviour == SUCCEED else None,
            token=token,
            amount=amount.amount,
            currency=amount.currency,
            outcome=behaviour,
            created_at=datetime.now(UTC),
        )
        try:
            async with self.database.transaction() as session:
                session.add(charge)
        except IntegrityError:  # the key was charged before: the first result counts
            async with self.database.session() as session:
                first = await session.get(SimulatedCharge, idempotency_key)
            if first is None:  # pragma: no cover - the conflict proves it exists
                raise
            return _result(first)
        return _result(charge)

    async def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """The charge recorded under `idempotency_key`, or None (the timeout card's)."""
        async with self.database.session() as session:
            found = await session.get(SimulatedCharge, idempotency_key)
        return None if found is None else _result(found)

    async def refund(self, charge_id: str, amount: Amount, idempotency_key: str) -> RefundResult:
        """Give back `amount` of a charge, never more than it captured in total."""
        refunded = (
            select(func.coalesce(func.sum(SimulatedRefund.amount), 0))
            .where(SimulatedRefund.charge_id == charge_id)
            .scalar_subquery()
        )
        refund = SimulatedRefund(
            idempotency_key=idempotency_key,
            refund_id=f"re_sim_{uuid.uuid4().hex}",
            charge_id=charge_id,
            amount=amount.amount,
            created_at=datetime.now(UTC),
        )
        try:
            async with self.database.transaction() as session:
                row = (
                    await session.execute(
                        select(SimulatedCharge.amount, refunded).where(
                            SimulatedCharge.charge_id == charge_id
                        )
                    )
                ).first()
                if row is None:
                    raise ProviderError("unknown_charge")
                if int(row[1]) + amount.amount > row[0]:
                    done = await session.get(SimulatedRefund, idempotency_key)
                    if done is not None:  # a retry of a refund that used up the charge
                        return RefundResult(refund_id=done.refund_id)
                    raise ProviderError("refund_exceeds_charge")
                session.add(refund)
        except IntegrityError:  # the key was refunded before: the first result counts
            async with self.database.session() as session:
                first = await session.get(SimulatedRefund, idempotency_key)
            if first is None:  # pragma: no cover - the conflict proves it exists
                raise
            return RefundResult(refund_id=first.refund_id)
        return RefundResult(refund_id=refund.refund_id)


def _result(charge: SimulatedCharge) -> ChargeResult:
    """The ChargeResult a recorded charge stands for."""
    if charge.outcome == SUCCEED:
        return ChargeResult(approved=True, charge_id=charge.charge_id)
    return ChargeResult(approved=False, decline_reason=charge.outcome)
